"""Stage 1, matrix -> circuit: component values, scales and noise sources of each architecture."""
