"""Leaf helpers (stdlib, numpy and numba only): files, JSON, quantities, random keys, progress."""
