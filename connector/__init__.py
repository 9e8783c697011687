"""WooCommerce → JD Edwards EnterpriseOne connector: the core (no Flask, no Celery)."""
