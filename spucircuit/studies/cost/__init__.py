"""Hardware runtime and energy model of the SPU and of digital natural-gradient methods."""
