"""Ebb: serve models over the Open Inference Protocol, scale them on queue depth."""

__version__ = "0.1.0"
