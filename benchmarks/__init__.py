"""Benchmarks: accuracy on real recordings, speed, latency and memory; each prints a table."""
