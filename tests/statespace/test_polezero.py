"""Pole-zero analysis (SPICE's ``.pz``, spucircuit.statespace.polezero): closed forms, ngspice 39 on
circuits that exercise each part of its semantics (VOL/CUR, an undriven port, an AC source at the port
that ngspice opens, a DC source it shorts, an output with a reference node, a current-controlled
source sensing an opened source), the deflation against the determinant-lemma polynomial, and bad
cards naming their line."""
from __future__ import annotations

import tempfile

import numpy as np
import pytest

from spucircuit.errors import NetlistError, SpiceError
from spucircuit.io.spice import parse_spice
from spucircuit.statespace.frequency import small_signal_analyses
from spucircuit.statespace.polezero import ngspice_order, pole_zero, transfer_zeros
from tests.helpers import ngspice_or_skip

EPS = np.finfo(float).eps


def _pz(text: str) -> dict:
    return small_signal_analyses(parse_spice(text, "pz.cir"))


def _tol(roots, n_states: int) -> float:
    """Round-off bound of an eigenvalue of a well-conditioned n-state problem: a few n eps |root|, here
    with a factor 1e3 for the conditioning of the small test circuits (still 1e-9 relative at most)."""
    return 1e3 * max(n_states, 1) * EPS * float(np.max(np.abs(roots)))


def _same_roots(got, want, tol):
    got, want = ngspice_order(got), ngspice_order(want)
    assert len(got) == len(want), (got, want)
    for w in want:  # one to one: remove each match
        k = int(np.argmin(np.abs(got - w)))
        assert abs(got[k] - w) <= tol, (got, want)
        got = np.delete(got, k)


# ------------------------------------------------------------------------------ closed forms
def test_rc_divider_vol_and_cur():
    """V_o / V_i of R1 into C || R2: one pole -(1/R1 + 1/R2) / C, no zero. With CUR (port open: R1 hangs
    from the output) V_o / I_i = R2 / (1 + s R2 C): pole -1 / (R2 C), and still no zero."""
    r1, r2, c = 1e3, 4e3, 1e-9
    text = f"rc\nR1 1 2 {r1}\nC1 2 0 {c}\nR2 2 0 {r2}\n.pz 1 0 2 0 {{}} pz\n.end\n"
    vol = _pz(text.format("vol"))
    _same_roots(vol["pz_poles"], [-(1 / r1 + 1 / r2) / c], _tol([1 / (r1 * c)], 1))
    assert vol["pz_zeros"].size == 0
    cur = _pz(text.format("cur"))
    _same_roots(cur["pz_poles"], [-1 / (r2 * c)], _tol([1 / (r2 * c)], 1))
    assert cur["pz_zeros"].size == 0


def test_series_rlc_notch_has_zeros_on_the_imaginary_axis():
    """V_o / V_i of R into a series L-C to ground = (s^2 LC + 1) / (s^2 LC + s RC + 1): zeros +-j / sqrt(LC),
    poles the roots of LC s^2 + RC s + 1 (a complex pair for R = 10, L = 1m, C = 1u)."""
    r, ind, c = 10.0, 1e-3, 1e-6
    out = _pz(f"notch\nV1 in 0 dc 0 ac 1\nR1 in out {r}\nL1 out m {ind}\nC1 m 0 {c}\n.pz in 0 out 0 vol pz\n.end\n")
    w0 = 1 / np.sqrt(ind * c)
    _same_roots(out["pz_zeros"], [1j * w0, -1j * w0], _tol([w0], 2))
    poles = np.roots([ind * c, r * c, 1.0])
    assert np.all(poles.imag != 0)
    _same_roots(out["pz_poles"], poles, _tol(poles, 2))
    assert out["pz_poles"][0].imag > 0 and out["pz_poles"][1] == np.conj(out["pz_poles"][0])  # ngspice's order


def test_parallel_tank_with_lossy_inductor_cur():
    """V / I_i of R || C || (Rs + sL) = (Rs + sL) / ((1/R + sC)(Rs + sL) + 1): zero -Rs / L, poles the roots of
    LC s^2 + (L/R + Rs C) s + (1 + Rs / R)."""
    r, rs, ind, c = 2e3, 5.0, 1e-3, 1e-8
    out = _pz(f"tank\nI1 0 t ac 1\nR1 t 0 {r}\nC1 t 0 {c}\nL1 t m {ind}\nR2 m 0 {rs}\n.pz t 0 t 0 cur pz\n.end\n")
    _same_roots(out["pz_zeros"], [-rs / ind], _tol([rs / ind, 1 / np.sqrt(ind * c)], 2))
    poles = np.roots([ind * c, ind / r + rs * c, 1 + rs / r])
    _same_roots(out["pz_poles"], poles, _tol(poles, 2))


def test_which_selects_poles_or_zeros():
    text = "w\nR1 1 0 1k\nC1 1 2 1n\nR2 2 0 1k\n.pz 1 0 2 0 cur {}\n.end\n"
    pol, zer = _pz(text.format("pol")), _pz(text.format("zer"))
    assert pol["pz_poles"].size == 1 and pol["pz_zeros"].size == 0
    assert zer["pz_poles"].size == 0 and zer["pz_zeros"].size == 1
    assert abs(zer["pz_zeros"][0]) <= _tol(pol["pz_poles"], 1)  # the coupling capacitor's zero at s = 0


# ------------------------------------------------------------------------------ the deflation
@pytest.mark.parametrize("seed", range(6))
def test_zeros_match_the_determinant_lemma_polynomial(seed):
    """For d = 0, det(sI - F) G(s) = det(sI - F + b c) - det(sI - F) (the matrix determinant lemma):
    the zeros are the roots of the difference of the two characteristic polynomials. Relative degree 1
    (c b != 0) and 2 (c orthogonal to b, where a QZ of the Rosenbrock pencil would scatter the double
    infinite eigenvalue)."""
    rng = np.random.default_rng(seed)
    n = 5
    F = rng.standard_normal((n, n)) - 3 * np.eye(n)
    b, c = rng.standard_normal(n), rng.standard_normal(n)
    if seed % 2:
        c -= (c @ b) / (b @ b) * b  # c b = 0: relative degree 2 (c F b != 0 for a random F)
    num = np.poly(F - np.outer(b, c)) - np.poly(F)
    num = np.trim_zeros(np.where(np.abs(num) <= 1e-12 * np.max(np.abs(num)), 0.0, num), "f")
    want = np.roots(num)
    got = transfer_zeros(F, b, c, 0.0)
    assert len(got) == n - (2 if seed % 2 else 1)
    _same_roots(got, want, 1e-8 * max(1.0, float(np.max(np.abs(want)))))


def test_zeros_with_feedthrough_and_without_any():
    """d != 0: eig(F - b c / d). A six-section RC ladder (relative degree 6) has no finite zero."""
    F, b, c = np.array([[-2.0, 1.0], [0.0, -3.0]]), np.array([1.0, 1.0]), np.array([1.0, 0.0])
    _same_roots(transfer_zeros(F, b, c, 0.5), np.linalg.eigvals(F - np.outer(b, c) / 0.5), 1e-12)
    lines = ["ladder", "V1 n0 0 dc 0 ac 1"] + [f"R{k} n{k - 1} n{k} 1k\nC{k} n{k} 0 1n" for k in range(1, 7)]
    out = _pz("\n".join(lines + [".pz n0 0 n6 0 vol pz", ".end", ""]))
    assert out["pz_zeros"].size == 0 and out["pz_poles"].size == 6


def test_resistive_circuit_has_neither_poles_nor_zeros():
    """A divider: V_o / V_i = 1/2 with no state (ngspice 39 reports an empty pole-zero plot); a transfer that
    is 0 with no state is refused."""
    out = _pz("div\nR1 a b 1k\nR2 a 0 1k\nR3 b 0 1k\n.pz a 0 b 0 vol pz\n.end\n")
    assert out["pz_poles"].size == 0 and out["pz_zeros"].size == 0
    assert transfer_zeros(np.zeros((0, 0)), [], [], 0.5).size == 0
    with pytest.raises(NetlistError, match="identically 0"):
        transfer_zeros(np.zeros((0, 0)), [], [], 0.0)


def test_transfer_zeros_refuses_bad_arrays():
    with pytest.raises(NetlistError, match="finite F"):
        transfer_zeros(np.eye(2), [1.0, np.nan], [1.0, 0.0], 0.0)
    with pytest.raises(NetlistError, match="finite F"):
        transfer_zeros(np.eye(2), [1.0], [1.0, 0.0], 0.0)
    with pytest.raises(NetlistError, match="real arrays"):
        transfer_zeros(np.eye(2), [1.0, 0.0], [1.0, 0.0], "x")
    with pytest.raises(NetlistError, match="identically 0"):
        transfer_zeros(np.eye(2), [1.0, 0.0], [0.0, 1.0], 0.0)


# ------------------------------------------------------------------------------ against ngspice
CIRCUITS = {
    # VOL with an AC source at the port (ngspice opens it) and an output with a reference node
    "vol_ref": ("V1 1 0 dc 3 ac 1\nR1 1 2 1k\nC1 2 3 1n\nR2 3 0 2k\nC2 3 0 4n\nL1 2 4 1m\nR3 4 0 50\n"
                ".pz 1 0 2 3 vol pz"),
    # CUR, the same circuit driven by nothing at the port (undriven): the port is open for the poles
    "cur_undriven": ("R0 1 0 10k\nR1 1 2 1k\nC1 2 3 1n\nR2 3 0 2k\nC2 3 0 4n\nL1 2 4 1m\nR3 4 0 50\n"
                     ".pz 1 0 2 3 cur pz"),
    # VOL from an undriven port whose minus terminal is not ground; a DC source elsewhere is a short
    "vol_floating_port": ("R0 a 0 2k\nR1 a b 1k\nC1 b 0 2n\nR2 b c 3k\nC3 c 0 1n\nVb c d dc 5\nR4 d 0 500\n"
                          "C4 a b 1n\nC5 a e 1n\nR5 e c 1k\n.pz a b c 0 vol pz"),
    # the same with C5 straight to c: the port closes a loop of capacitors C5 C3 C1, whose C du/dt enters
    # the transfer (b + s b1: the compile's input-rate term)
    "vol_capacitor_loop": ("R0 a 0 2k\nR1 a b 1k\nC1 b 0 2n\nR2 b c 3k\nC3 c 0 1n\nVb c d dc 5\n"
                           "R4 d 0 500\nC4 a b 1n\nC5 a c 1n\n.pz a b c 0 vol pz"),
    # a VOL port across a capacitive divider C3-C4 that closes a capacitor loop with the port (b1 again)
    "vol_capacitive_divider": ("V1 1 0 dc 1 ac 1\nR1 1 2 1k\nC1 2 0 1n\nR2 2 0 1k\nC3 1 3 1n\nC4 3 0 1n\n"
                               "R5 3 2 2k\n.pz 1 0 2 0 vol pz"),
    # an AC current source at the port (ngspice: open, as every current source), a CCCS, a VCVS
    "cur_controlled": ("I1 0 1 dc 1m ac 1\nR1 1 0 1k\nC1 1 2 10n\nVs 2 3 dc 0\nR2 3 0 1k\nF1 0 4 Vs 2\n"
                       "R4 4 0 1k\nC4 4 0 1n\nE1 5 0 4 0 3\nR5 5 6 1k\nC6 6 0 2n\n.pz 1 0 6 0 cur pz"),
    # CUR POL with a DC source across the port: ngspice takes the determinant alone (VOL, or zeros, it refuses)
    "cur_pol_shorted_port": "V1 1 0 12\nR1 1 2 1k\nC1 2 0 1n\nR2 2 0 2k\nL1 2 3 1m\nR3 3 0 10\n.pz 1 0 2 0 cur pol",
    # a triple zero at the origin (ngspice: exactly 0; an eigenvalue problem: within ~eps^(1/3) of the largest)
    "cur_triple_zero": "R1g 1 0 1k\nR2g 2 0 1k\nR3g 3 0 1k\nC1 1 0 1n\nL2 1 0 100u\nC3 1 2 2n\nR4 3 2 3k\n"
                       "L5 0 2 1m\nR6 2 0 1k\n.pz 3 0 1 0 cur pz",
    # no finite zero: ngspice's search reports four at |s| ~ 1e19..1e26 (its zeros at infinity), the twin none
    "cur_no_finite_zero": "R2g 2 0 2k\nR3g 3 0 1k\nR5g 5 0 1k\nR1 5 2 3k\nC2 5 0 2n\nR3 3 0 200\nC4 5 3 2n\n"
                          ".pz 2 0 5 3 cur pz",
    # an F sensing the AC source ngspice opens (its current is 0: the F is open)
    "cccs_on_opened": "V1 a 0 dc 0 ac 1\nR1 a b 1k\nC1 b 0 1n\nF1 0 b V1 2\nC2 a c 1n\nR2 c b 3k\n.pz a 0 b 0 vol pz",
    # an H sensing the AC source ngspice opens (its current is 0: the H is a 0 V short)
    "ccvs_on_opened": ("V1 1 0 dc 0 ac 1\nR1 1 2 1k\nC1 2 0 1n\nH1 3 0 V1 100\nR3 3 2 1k\nC3 2 4 1n\nR4 4 0 2k\n"
                       ".pz 1 0 4 0 vol pz"),
}


@pytest.mark.parametrize("name", sorted(CIRCUITS))
def test_poles_and_zeros_match_ngspice(name):
    """Each circuit's poles and zeros against ngspice 39's within 1e-3 relative, one to one (the corpus
    comparison, tests/io/test_corpus.py _compare_pz; ngspice's root search is iterative)."""
    ngspice_or_skip("the .pz cross-check")
    from tests.io.test_corpus import MEASURED, OPTIONS, _compare_pz, run_ngspice_deck

    deck = f"{name}\n{CIRCUITS[name]}\n{OPTIONS}\n.end\n"
    with tempfile.TemporaryDirectory() as work:
        plots = run_ngspice_deck(deck, work)
    nl = parse_spice(deck, f"{name}.cir")
    assert _compare_pz(nl, plots) == ""
    assert MEASURED[".pz"] < 1
    ng = next(p for k, p in plots.items() if k.startswith("pole-zero"))
    if not CIRCUITS[name].endswith(" pol"):  # every other circuit here has zeros to compare
        assert any(nm.startswith("v(zero(") for nm in ng.names)
    if name == "cur_no_finite_zero":
        assert small_signal_analyses(nl)["pz_zeros"].size == 0
        assert min(abs(complex(ng[nm][0])) for nm in ng.names if nm.startswith("v(zero(")) > 1e18


def test_ngspice_comparison_sees_a_wrong_root(monkeypatch):
    """The comparison fails when the twin's zeros are off by 1e-2 relative."""
    ngspice_or_skip("the .pz cross-check")
    import spucircuit.statespace.frequency as fr
    from tests.io.test_corpus import OPTIONS, _compare_pz, run_ngspice_deck

    deck = f"t\n{CIRCUITS['vol_ref']}\n{OPTIONS}\n.end\n"
    with tempfile.TemporaryDirectory() as work:
        plots = run_ngspice_deck(deck, work)
    nl = parse_spice(deck, "t.cir")
    real = fr.small_signal_analyses

    def off(netlist, *a, **k):
        out = real(netlist, *a, **k)
        out["pz_zeros"] = out["pz_zeros"] * (1 + 1e-2)
        return out

    monkeypatch.setattr(fr, "small_signal_analyses", off)
    assert _compare_pz(nl, plots).startswith("zero ")


# ------------------------------------------------------------------------------ bad cards
BASE = "bad\nV1 1 0 dc 1 ac 1\nR1 1 2 1k\nC1 2 0 1n\nR2 2 0 1k\n"


@pytest.mark.parametrize("card, msg", [
    (".pz 1 0 2 0 vol", "pz.cir:6: .pz needs IN+ IN- OUT+ OUT- VOL|CUR POL|ZER|PZ"),
    (".pz 1 0 2 0 volt pz", "pz.cir:6: .pz needs IN+ IN- OUT+ OUT- VOL|CUR POL|ZER|PZ: the input type must be"),
    (".pz 1 0 2 0 vol poles", "pz.cir:6: .pz needs IN+ IN- OUT+ OUT- VOL|CUR POL|ZER|PZ: the analysis must be"),
    (".pz 1 0 2 0 vol pz\n.pz 1 0 2 0 cur pz", "pz.cir:7: a second .pz card (the first is on line 6)"),
])
def test_bad_cards_name_the_line_when_read(card, msg):
    with pytest.raises(SpiceError) as exc:
        parse_spice(BASE + card + "\n.end\n", "pz.cir")
    assert str(exc.value).startswith(msg), str(exc.value)


@pytest.mark.parametrize("body, card, msg", [
    ("", ".pz 1 0 9 0 vol pz", "pz.cir:6: .pz: the circuit has no node '9'"),
    ("", ".pz 1 1 2 0 vol pz", "pz.cir:6: .pz: the input port is shorted"),
    ("", ".pz 1 0 2 2 cur pz", "pz.cir:6: .pz: the output port is shorted"),
    ("", ".pz 1 0 1 0 vol pz", "pz.cir:6: .pz: the output is the input port: the transfer function is unity"),
    ("", ".pz 1 0 0 1 vol zer", "pz.cir:6: .pz: the output is the input port: the transfer function is -1"),
    ("V2 2 0 dc 1\n", ".pz 2 0 1 0 cur pz", "pz.cir:7: .pz: the input port (2, 0) is shorted by the voltage source V2"),
    ("R3 3 0 1k\nC3 3 0 1n\n", ".pz 3 0 2 0 cur zer",
     "pz.cir:8: .pz: the transfer function from the input port to the output is identically 0"),
])
def test_bad_cards_name_the_line_when_run(body, card, msg):
    nl = parse_spice(BASE + body + card + "\n.end\n", "pz.cir")
    with pytest.raises(SpiceError) as exc:
        small_signal_analyses(nl)
    assert str(exc.value).startswith(msg), str(exc.value)


def test_api_refuses_a_bad_card():
    nl = parse_spice(BASE + ".end\n", "pz.cir")
    with pytest.raises(NetlistError, match="the card must be a dict"):
        pole_zero(nl, {"in_pos": "1"})
    card = dict(in_pos="1", in_neg="0", out_pos="2", out_neg="0", input="volt", which="pz")
    with pytest.raises(NetlistError, match="input must be 'vol' or 'cur'"):
        pole_zero(nl, card)
    with pytest.raises(NetlistError, match="needs a Netlist"):
        pole_zero("x", card)


def test_simulate_writes_poles_and_zeros(tmp_path, capsys):
    """``spu simulate`` on a netlist whose only analysis is .pz writes pz_poles and pz_zeros (complex, rad/s)."""
    from spucircuit.cli import main as spu

    r, ind, c = 10.0, 1e-3, 1e-6
    (tmp_path / "n.cir").write_text(f"notch\nV1 in 0 dc 0 ac 1\nR1 in out {r}\nL1 out m {ind}\nC1 m 0 {c}\n"
                                    ".pz in 0 out 0 vol pz\n.end\n")
    assert spu(["simulate", str(tmp_path / "n.cir"), "--out", str(tmp_path / "n.npz")]) == 0
    assert ".pz: 2 poles, 2 zeros" in capsys.readouterr().out
    with np.load(tmp_path / "n.npz") as d:
        assert d["pz_poles"].dtype == complex and d["pz_zeros"].dtype == complex
        w0 = 1 / np.sqrt(ind * c)
        _same_roots(d["pz_zeros"], [1j * w0, -1j * w0], _tol([w0], 2))
        poles = np.roots([ind * c, r * c, 1.0])
        _same_roots(d["pz_poles"], poles, _tol(poles, 2))
