"""Immutable runs: their identity, creation and the SQLite store that keeps them."""
