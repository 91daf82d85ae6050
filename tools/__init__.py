"""Checks of our own that `make lint` runs, for what no packaged linter reads."""
