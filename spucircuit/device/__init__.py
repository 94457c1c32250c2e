"""Stage 4, the device twin: program, set inputs, run for an analog time, read; state persists."""
