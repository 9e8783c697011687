"""JD Edwards EnterpriseOne: AIS sessions and the AIS client."""
