"""Tallybook: a self-hosted reporting backend."""

__version__ = "0.1.0"
