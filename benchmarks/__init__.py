"""Benchmarks and the soak: scripts that print figures, never tests that assert times."""
