"""Routing core: pure assignment policy over a snapshot, and the store it coordinates through."""
