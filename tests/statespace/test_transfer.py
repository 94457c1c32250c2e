""".tf: DC gain, input and output resistance (statespace/transfer.py), against closed forms and ngspice
(1e-9 relative; measured at round-off), and the card's errors naming the line."""

import numpy as np
import pytest

from spucircuit.errors import SpiceError
from spucircuit.io.spice import parse_spice
from spucircuit.statespace.frequency import small_signal_analyses
from tests.helpers import ngspice_or_skip

NET = """tf
V1 a 0 1
I1 0 b 1m
R1 a b 1k
R2 b c 2k
L1 c d 1m
R3 d e 3k
R5 e 0 500
E1 f 0 b 0 4
R4 f g 1k
Vm g 0 0
C1 b 0 1n
"""
CARDS = [".tf v(b) V1", ".tf v(c,e) I1", ".tf i(Vm) V1", ".tf i(V1) I1", ".tf i(V1) V1", ".tf v(f) I1"]


def test_divider_closed_form():
    tw = small_signal_analyses(parse_spice(NET + ".tf v(b) V1\n.end\n"))
    R1, Rload = 1e3, 2e3 + 3e3 + 500
    assert abs(tw["tf_gain"] - Rload / (R1 + Rload)) <= 1e-15
    assert abs(tw["tf_input_impedance_ohm"] - (R1 + Rload)) <= 1e-12 * (R1 + Rload)
    assert abs(tw["tf_output_impedance_ohm"] - R1 * Rload / (R1 + Rload)) <= 1e-12 * R1  # V1 off: R1 || load


@pytest.mark.parametrize("card", CARDS)
def test_tf_matches_ngspice(card):
    ngspice_or_skip("the .tf cross-check")
    from spucircuit.io.ngspice import run_ngspice

    text = NET + card + "\n.end\n"
    ng = {p.plotname.lower(): p for p in run_ngspice(text).plots}["transfer function"]
    tw = small_signal_analyses(parse_spice(text))
    col = {n.lower(): float(ng[n][0].real) for n in ng.names}
    gain = col["v(transfer_function)"]
    zin = next(v for n, v in col.items() if n.endswith("#input_impedance)"))
    zout = next(v for n, v in col.items() if "output_impedance" in n)
    for mine, theirs in ((tw["tf_gain"], gain), (tw["tf_input_impedance_ohm"], zin),
                         (tw["tf_output_impedance_ohm"], zout)):
        assert abs(mine - theirs) <= 1e-9 * max(abs(theirs), 1e-12), (card, mine, theirs)


@pytest.mark.parametrize("card,msg", [
    (".tf v(b)", ".tf needs V\\(out\\[,ref\\]\\) or I\\(vsrc\\), then the input source"),
    (".tf x(b) V1", "the output must be V\\(node\\)"),
    (".tf v(b) R1", "the input source must be an independent V or I source"),
    (".tf v(b) V7", "input source 'v7' is not in the circuit"),
    (".tf v(zz) V1", "the circuit has no node 'zz'"),
    (".tf i(I1) V1", "output source 'i1' is not an independent voltage source"),
])
def test_bad_tf_cards_name_the_line(card, msg):
    text = f"t\nV1 a 0 1\nR1 a b 1k\nI1 0 b 1m\n{card}\n.end\n"
    with pytest.raises(SpiceError, match=r"t\.cir:5: .*" + msg):
        small_signal_analyses(parse_spice(text, "t.cir"))


def test_tf_values_are_written_by_simulate(tmp_path):
    from spucircuit.cli import main as spu

    net = tmp_path / "t.cir"
    net.write_text(NET + ".tf v(b) V1\n.end\n")
    assert spu(["simulate", str(net), "--out", str(tmp_path / "t.npz"), "--noise", "off"]) == 0
    d = np.load(tmp_path / "t.npz")
    assert float(d["tf_gain"]) == pytest.approx(5.5 / 6.5, rel=1e-14)
