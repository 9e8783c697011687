"""Celery adapters: `celery -A tasks worker|beat|flower`. Tasks are thin; connector/ does the work."""
from tasks.celery import app

__all__ = ["app"]
