"""SPICE netlists: read_spice, parse_spice, write_spice."""
