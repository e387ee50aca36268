"""Benchmarks: standalone scripts that measure the project against its performance targets (see README.md)."""
