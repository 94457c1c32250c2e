"""A coupling card with k = 0 (ngspice's positive-definite-2/-4 examples write ``K12 L1 L2 0``): ngspice
accepts it and couples nothing; so does the twin (issue 13 follow-up)."""
import numpy as np

from spucircuit.io.spice import parse_spice
from spucircuit.statespace.mna import compile_netlist
from tests.io.test_ngspice_linear import TIGHT, _twin_vs_ngspice

BODY = """V1 in 0 DC 1
R1 in a 100
L1 a 0 1m IC=1m
L2 b 0 2m IC=-2m
R2 b 0 50
"""
ZERO_K = "k = 0\n" + BODY + "K1 L1 L2 0\n" + TIGHT + ".tran 1e-7 100u 0 1e-8 uic\n.end\n"


def test_zero_coupling_matches_ngspice():
    err, v_twin, _, nodes, _ = _twin_vs_ngspice(ZERO_K)
    print(f"\nk = 0 transient: max deviation / node range {err:.2e}")
    assert err < 2e-5
    assert np.ptp(v_twin[:, nodes.index("b")]) > 1e-2  # L2's own initial current decays through R2


def test_zero_coupling_is_no_coupling():
    with_k = compile_netlist(parse_spice(ZERO_K), noise=False).drift.to_dense()
    without = compile_netlist(parse_spice("no K\n" + BODY + ".end\n"), noise=False).drift.to_dense()
    np.testing.assert_allclose(with_k, without, rtol=1e-14, atol=0)  # equal to round-off (eigh of M)


def test_zero_coupling_of_series_inductors_is_reduced_like_none():
    """Series inductors are merged by the index reduction, which refuses merging coupled ones: a k = 0
    coupling must not count as one."""
    series = "s\nV1 in 0 1\nR1 in a 100\nL1 a b 1m\nL2 b c 2m\nR2 c 0 50\nC1 c 0 1n\n"
    a = compile_netlist(parse_spice(series + "K1 L1 L2 0\n.end\n"), noise=False).drift.to_dense()
    b = compile_netlist(parse_spice(series + ".end\n"), noise=False).drift.to_dense()
    np.testing.assert_allclose(a, b, rtol=1e-14, atol=0)
