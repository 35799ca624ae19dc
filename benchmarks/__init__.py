"""Benchmarks: one command per measurement, `python -m benchmarks.<name>` from the repo root."""
