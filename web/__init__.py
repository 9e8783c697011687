"""The Flask receiver: thin, it verifies, stores and enqueues; the worker does the rest."""
