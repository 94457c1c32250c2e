"""Files and external simulators (SPICE, ngspice rawfiles, GraphML); no physics."""
