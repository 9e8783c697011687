"""Benchmarks: each measures the connector side by side with a baseline in the same run."""
