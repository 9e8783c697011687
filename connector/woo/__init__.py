"""WooCommerce: webhook signatures, payload schemas and the REST client."""
