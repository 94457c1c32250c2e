"""Stage 3, SDE -> sample paths: discretisations and numba kernels."""
