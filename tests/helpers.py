"""Helpers shared by the tests (as diffrax's test/helpers.py): statistics and small circuits."""
import numpy as np

import spucircuit as sc


def zscores(est, ref, se):
    """(est - ref) / se elementwise; every standard error must be positive."""
    se = np.asarray(se, float)
    assert np.all(se > 0), "standard errors must be positive"
    return (np.asarray(est) - np.asarray(ref)) / se


def rc_netlist(R=1e3, C=1e-9):
    """One resistor and one capacitor to ground at node 'a'."""
    nl = sc.Netlist("single RC node")
    nl.add_resistor("R1", "a", "0", R)
    nl.add_capacitor("C1", "a", "0", C)
    return nl
