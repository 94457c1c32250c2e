"""Stage 7, sweeps over device knobs and the hardware cost model; results as data."""
