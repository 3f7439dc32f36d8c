"""Reliability: faults, bad input and long runs, tried on purpose and counted (docs/reliability.md)."""
