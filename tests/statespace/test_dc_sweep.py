""".dc: the operating point over one or two swept sources or resistances (statespace/dc_sweep.py),
against a closed form, against ngspice (node voltages to 1e-9 of the largest; measured 9e-16), and the
card's errors naming the line."""

import numpy as np
import pytest

from spucircuit.cli import main as spu
from spucircuit.errors import SpiceError
from spucircuit.io.spice import parse_spice
from spucircuit.statespace.dc_sweep import sweep_values
from spucircuit.statespace.frequency import small_signal_analyses
from tests.helpers import ngspice_or_skip

SWEPT = """dc sweep: a source and a resistor
V1 a 0 1
I1 0 b 1m
R1 a b 1k
R2 b c 2k
C1 c 0 1n
L1 c d 1m
R3 d 0 3k
E1 e 0 c 0 2
R4 e 0 1k
.dc V1 -1 2 0.1 R3 1k 3k 500
.end
"""


def test_sweep_values_follow_ngspice_accumulation():
    v = sweep_values(-1, 2, 0.1)
    assert len(v) == 31 and v[0] == -1 and abs(v[-1] - 2) < 1e-12  # the accumulated sum reaches 2 - 2e-15
    assert len(sweep_values(0, 1, 0.3)) == 4  # 0, 0.3, 0.6, 0.9: 1.2 is past the end
    assert len(sweep_values(5, 1, -1)) == 5
    assert len(sweep_values(1, 1, 1)) == 1


def test_divider_sweep_is_the_closed_form():
    got = small_signal_analyses(parse_spice(SWEPT))
    nodes = list(got["dc_nodes"])
    assert got["dc_v"].shape == (31 * 5, 5)
    V, R3 = got["dc_sweep"], got["dc_sweep2"]
    assert np.array_equal(np.unique(R3), [1e3, 1.5e3, 2e3, 2.5e3, 3e3]) and np.all(R3[:31] == 1e3)
    # node b: (V/R1 + I) / (1/R1 + 1/(R2 + R3)); c = d = b R3 / (R2 + R3); e = 2 c
    b = (V / 1e3 + 1e-3) / (1 / 1e3 + 1 / (2e3 + R3))
    want = {"a": V, "b": b, "c": b * R3 / (2e3 + R3), "d": b * R3 / (2e3 + R3), "e": 2 * b * R3 / (2e3 + R3)}
    for node, w in want.items():
        assert np.max(np.abs(got["dc_v"][:, nodes.index(node)] - w)) <= 1e-14 * 8, node


def test_sweep_matches_ngspice():
    ngspice_or_skip("the .dc cross-check")
    from spucircuit.io.ngspice import run_ngspice

    for text in (SWEPT, SWEPT.replace(".dc V1 -1 2 0.1 R3 1k 3k 500", ".dc I1 2m -1m -0.25m")):
        ng = {p.plotname.lower(): p for p in run_ngspice(text).plots}["dc transfer characteristic"]
        tw = small_signal_analyses(parse_spice(text))
        assert np.array_equal(ng.data[:, 0].real, tw["dc_sweep"])
        top = float(np.max(np.abs(tw["dc_v"])))
        for k, node in enumerate(tw["dc_nodes"]):
            assert np.max(np.abs(tw["dc_v"][:, k] - ng[f"v({node})"].real)) <= 1e-9 * top, node


@pytest.mark.parametrize("card,msg", [
    (".dc V1 0 1", ".dc needs SRC START STOP INCR"),
    (".dc TEMP 0 100 10", "TEMP \\(a temperature sweep\\) is not supported"),
    (".dc C1 0 1 0.1", "'C1' is not a V or I source or a resistor"),
    (".dc V1 0 1 0", "the increment must be non-zero"),
    (".dc V1 0 1 -0.1", "the increment -0.1 never reaches 1"),
    (".dc V7 0 1 0.1", "no source or resistor named 'v7'"),
    (".dc V1 0 1 0.1 V1 0 1 0.5", "'v1' is swept twice"),
    (".dc V1 0 1 1e-7", "more than 1000000 points"),
])
def test_bad_dc_cards_name_the_line(card, msg):
    text = f"t\nV1 a 0 1\nR1 a b 1k\nC1 b 0 1n\n{card}\n.end\n"
    with pytest.raises(SpiceError, match=r"t\.cir:5: .*" + msg):
        small_signal_analyses(parse_spice(text, "t.cir"))


def test_simulate_writes_the_sweep(tmp_path):
    net = tmp_path / "d.cir"
    net.write_text(SWEPT)
    out = tmp_path / "d.npz"
    assert spu(["simulate", str(net), "--out", str(out), "--noise", "off"]) == 0
    d = np.load(out)
    assert d["dc_v"].shape == (155, 5) and d["dc_sweep"].shape == d["dc_sweep2"].shape == (155,)
