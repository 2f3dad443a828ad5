"""Switchboard: a browser-based web chat contact center."""

__version__ = "0.1.0"
