"""Stage 5, imperfect devices: a nominal circuit plus seeded changes of its component values."""
