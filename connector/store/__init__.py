"""Postgres access. Every SQL statement of the product lives in this package."""
from connector.store.database import Database, connect_once

__all__ = ["Database", "connect_once"]
