"""The ngspice corpus (netlists/corpus/): third-party linear netlists replayed against ngspice.

Each file of ``netlists/corpus/MANIFEST.json`` is turned into one *deck*, read by both simulators:
its ``.control`` block is dropped (the ``tran``/``ac``/``noise``/``op``/``pz`` commands in it become
the matching dot cards, when the file has none of that kind), line numbers are kept, and ngspice's
tolerances are tightened (``.options reltol=1e-6 abstol=1e-15 vntol=1e-12``, TMAX = TSTEP / 20; when the
``.tran`` comparison fails, ngspice runs once more with TMAX = TSTEP / 400 and that run decides: ngspice sets no
breakpoint where a SIN source starts after its delay, so its points straddle the kink and their linear
interpolation errs by slope x TMAX, which is ngspice's output error, not the twin's).
Then ``ngspice -b -r`` runs it and the twin reads it (:func:`parse_spice` with the file's corpus
path as its name) and compares, per analysis:

* ``.tran``: every node within 1e-3 of that node's range (ngspice interpolated onto the twin's grid;
  the twin through ``spu simulate --noise off``, so the corpus follows the command);
* ``.ac``: magnitude (relative) and phase (rad) within 1e-3, at nodes above 1e-9 of the largest;
* ``.noise``: the output noise PSD within 1e-2 (ngspice's onoise_spectrum squared);
* ``.op``: node voltages within 1e-6 of the largest |v| (the stationary mean of the state space);
* ``.dc``: the swept values equal, node voltages within 1e-6 of the largest |v| over the sweep;
* ``.tf``: gain, input and output impedance each within 1e-6 relative;
* ``.pz``: ngspice's poles and zeros against the twin's (statespace/polezero.py), matched one to one,
  each within 1e-3 relative (ngspice's roots at |s| > 1e6 x the twin's largest: its zeros at infinity);
* ``.sens``: every derivative both report within 1e-3 relative (ngspice's are forward differences,
  error ~1e-6), at each point of ngspice's sensitivity grid; a plain resistor's AC sensitivity only at
  the first frequency (ngspice 39 reports 0 after it: tests/statespace/test_sensitivity.py).
* ``.sp``: S, Y and Z of the RF ports, magnitude and phase within 1e-3 like ``.ac``, at entries above
  1e-9 of the largest; with ``donoise`` the port noise Cy and Rn within 1e-2 (not NF, NFmin, SOpt:
  see ``_compare_sp``).
* ``values``: each R, C and L of the twin's netlist against the value ngspice reports (a second run,
  an ``.op`` with a ``.save`` of its parameters), within 1e-9 relative, both meaning the value the
  equations use (tc1/tc2/dtemp and m applied); after the analyses of every file, and alone for a file
  whose control block only inspects values (``show``).

A file whose only analyses are ones the twin lacks (a control-block ``disto``, ``pss``, ``fourier``,
or a card ``.disto``, ``.four``) gives ``unsupported`` naming the first of them and its line.

A file's status is ``agrees: <the analyses compared>``, ``disagrees: <analysis> <node> <error>``, ``unsupported: <the twin's
SpiceError>`` (a missing feature, named with file and line), ``rejected: <error>`` (the package's own
error without a line: the done-when counts it as a failure, and the test refuses it; an error raised after
parsing names its element's file and line, spucircuit.circuit.source_lines, and counts as
``unsupported``) or ``no analysis: ...``. The test fails when a status differs from the manifest's
``expected``; after a feature lands, rewrite the expectations with ``python -m tests.io.test_corpus
--update`` and review the diff. Print the tally with ``python -m tests.io.test_corpus``. Skipped, loudly,
when ngspice is missing.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "netlists", "corpus")
MANIFEST = os.path.join(CORPUS, "MANIFEST.json")
TRAN_TOL, AC_TOL, NOISE_TOL, OP_TOL, PZ_TOL, SENS_TOL = 1e-3, 1e-3, 1e-2, 1e-6, 1e-3, 1e-3
VALUES_TOL = 1e-9  # relative, R/C/L values (the "values" comparison)
PZ_INFINITE = 1e6  # .pz: ngspice's roots beyond PZ_INFINITE x the twin's largest are its zeros at infinity
OPTIONS = ".options reltol=1e-6 abstol=1e-15 vntol=1e-12"
NGSPICE_TIMEOUT_S = 20.0
TMAX_DIV_RETRY = 400
MAX_TRAN_STEPS = 200_000
_CONTROL_ANALYSES = ("tran", "ac", "noise", "op", "pz", "sens", "dc", "tf", "sp")
# ngspice's other analysis commands (its manual, chapter 15.4): a control block with one of these has an
# analysis the twin lacks
_CONTROL_OTHER = {"disto": "distortion", "pss": "periodic steady state", "fourier": "Fourier", "four": "Fourier"}
MEASURED: dict = {}  # the last replay's worst error per analysis, in units of its tolerance (printed by __main__)


def load_manifest() -> dict:
    with open(MANIFEST, encoding="utf-8") as f:
        return json.load(f)


def make_deck(text: str, tmax_div: int = 20) -> str:
    """The replay deck of a netlist (same line numbers): .control blocks dropped, their analysis
    commands turned into dot cards, tight tolerances, TMAX = TSTEP / 20 on .tran."""
    lines = text.split("\n")
    dot = {ln.strip().split()[0].lower() for ln in lines[1:] if ln.strip().startswith(".")}
    out, in_ctl, options_done = [], False, False
    for k, ln in enumerate(lines):
        s = ln.strip()
        low = s.lower()
        if k and low.startswith(".control"):
            in_ctl = True
            out.append(OPTIONS if not options_done else "*")
            options_done = True
            continue
        if in_ctl:
            if low.startswith(".endc"):
                in_ctl = False
                out.append("*")
                continue
            word = low.split()[0] if low else ""
            if word in _CONTROL_ANALYSES and "." + word not in dot:
                out.append(_tight_tran("." + s, tmax_div) if word == "tran" else "." + s)
                dot.add("." + word)
            else:
                out.append("*")
            continue
        if k and low.startswith(".tran"):
            ln = _tight_tran(s, tmax_div)
        if k and (low == ".end" or low.startswith(".end ")) and not options_done:
            out.append(OPTIONS)
            options_done = True
        out.append(ln)
    if not options_done:
        out.append(OPTIONS)
    return "\n".join(out)


def _tight_tran(card: str, tmax_div: int = 20) -> str:
    from spucircuit._util.quantities import parse_number

    toks = card.split()
    uic = [t for t in toks[1:] if t.lower() == "uic"]
    nums = [t for t in toks[1:] if t.lower() != "uic"]
    vals = [parse_number(t) for t in nums]
    if not 2 <= len(nums) <= 4 or any(v is None for v in vals):
        return card  # let the reader report it
    tstep, tstop = vals[0], vals[1]
    tstart = vals[2] if len(vals) > 2 else 0.0
    tmax = min(vals[3], tstep / tmax_div) if len(vals) > 3 else tstep / tmax_div
    return " ".join([".tran", repr(tstep), repr(tstop), repr(tstart), repr(tmax)] + uic)


def run_ngspice_deck(deck: str, workdir: str):
    """ngspice -b -r on the deck: its plots by lower-case plot name (the last of each name)."""
    from spucircuit.io.rawfile import read_rawfile

    path = os.path.join(workdir, "deck.cir")
    with open(path, "w", encoding="utf-8") as f:
        f.write(deck)
    raw = os.path.join(workdir, "out.raw")
    proc = subprocess.run(["ngspice", "-b", "-r", raw, path], cwd=workdir, capture_output=True, text=True,
                          timeout=NGSPICE_TIMEOUT_S)
    if not os.path.exists(raw):
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        raise RuntimeError("ngspice wrote no rawfile: " + " | ".join(tail))
    return {p.plotname.lower(): p for p in read_rawfile(raw)}


def _analysis_cards(deck: str) -> dict:
    cards = {}
    for k, ln in enumerate(deck.split("\n")[1:], start=2):
        s = ln.strip().lower()
        word = s.split()[0] if s else ""
        if word in (".tran", ".ac", ".noise", ".op", ".pz", ".dc", ".sp", ".sens", ".tf", ".disto", ".four"):
            cards.setdefault(word, k)
    return cards


def control_commands(text: str) -> dict:
    """The first word of each command in the file's .control blocks: {word: first line number}."""
    out, in_ctl = {}, False
    for k, ln in enumerate(text.split("\n")[1:], start=2):
        low = ln.strip().lower()
        if low.startswith(".control"):
            in_ctl = True
        elif low.startswith(".endc"):
            in_ctl = False
        elif in_ctl and low and not low.startswith("*"):
            out.setdefault(low.split()[0], k)
    return out


def replay(relpath: str) -> str:
    """The status of one corpus file (see the module docstring)."""
    with open(os.path.join(CORPUS, relpath), encoding="utf-8", errors="replace") as f:
        return replay_text(f.read(), relpath)


def replay_text(text: str, relpath: str) -> str:
    """:func:`replay` of a netlist's text (``relpath`` names it in the statuses)."""
    from spucircuit.errors import SpiceError, SPUError
    from spucircuit.io.spice import parse_spice

    deck = make_deck(text)
    cards = _analysis_cards(deck)
    commands = control_commands(text)
    MEASURED.clear()
    try:
        nl = parse_spice(deck, relpath)
    except SpiceError as exc:
        return f"unsupported: {exc}" + _ngspice_refuses_too(deck)
    compared = [c for c in (".tran", ".ac", ".noise", ".op", ".pz", ".sens", ".dc", ".tf", ".sp") if c in cards]
    lacking = {f"control-block command '{w}' ({_CONTROL_OTHER[w]} analysis)": k for w, k in commands.items()
               if w in _CONTROL_OTHER}
    lacking.update({f"analysis card '{c}'": k for c, k in cards.items() if c not in _COMPARE})
    if not compared and lacking:
        what, k = min(lacking.items(), key=lambda item: item[1])
        return f"unsupported: {relpath}:{k}: the {what} has no counterpart in the twin"
    if not compared and "show" in commands:
        with tempfile.TemporaryDirectory() as work:
            bad = _values_status(nl, deck, work)
        if bad.startswith("ngspice failed"):
            return bad
        return f"disagrees: values (line {commands['show']}) {bad}" if bad else "agrees: values"
    if not compared:
        other = ", ".join(f"{c} (line {k})" for c, k in cards.items()) or "none"
        return f"no analysis: the twin has no counterpart of this file's analyses: {other}"
    with tempfile.TemporaryDirectory() as work:
        try:
            plots = run_ngspice_deck(deck, work)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            return f"ngspice failed: {exc}"
        try:
            for card in compared:
                bad = _COMPARE[card](nl, plots, os.path.join(work, "deck.cir"))
                if bad and card == ".tran":  # once more with ngspice's TMAX 20 x smaller (module docstring)
                    fine = make_deck(text, TMAX_DIV_RETRY)
                    with tempfile.TemporaryDirectory() as work2:
                        bad = _COMPARE[card](nl, run_ngspice_deck(fine, work2), os.path.join(work2, "deck.cir"))
                if bad:
                    return f"disagrees: {card} (line {cards[card]}) {bad}"
        except SpiceError as exc:
            return f"unsupported: {exc}"
        except SPUError as exc:  # located by spucircuit.circuit.source_lines when it blames an element
            if getattr(exc, "lineno", None) is not None:
                return f"unsupported: {exc}"
            return f"rejected: {type(exc).__name__}: {exc}"
        except KeyError as exc:
            return f"ngspice failed: its rawfile has no {exc.args[0]!r} plot"
        except Exception as exc:  # noqa: BLE001 - a crash of the twin is a status the test reports, not a stop
            return f"crashed: {type(exc).__name__}: {exc}"
        if any(_value_name(e) for e in nl.elements()):  # and the R, C, L values the analyses used
            bad = _values_status(nl, deck, work)
            if bad.startswith("ngspice failed"):
                return bad
            if bad:
                return f"disagrees: values {bad}"
            compared.append("values")
    return "agrees: " + " ".join(compared)


def _values_status(nl, deck: str, work: str) -> str:
    """:func:`_compare_values`, with ngspice's own failures as an ``ngspice failed: ...`` status."""
    try:
        return _compare_values(nl, deck, work)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return f"ngspice failed: {exc}"
    except KeyError as exc:
        return f"ngspice failed: its rawfile has no {exc.args[0]!r}"


def _ngspice_refuses_too(deck: str) -> str:
    """' [ngspice refuses it too: <its error>]' when ngspice cannot parse the deck either (RKM-R-1's R47,
    read by ngspice 39 as an unknown model), else ''."""
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "deck.cir")
        with open(path, "w", encoding="utf-8") as f:
            f.write(deck)
        try:
            proc = subprocess.run(["ngspice", "-b", path], cwd=work, capture_output=True, text=True,
                                  timeout=NGSPICE_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired):
            return ""
    text = proc.stdout + proc.stderr
    if not any(m in text.lower() for m in ("circuit not parsed", "simulation interrupted due to error")):
        return ""
    first = next((ln.strip() for ln in text.splitlines() if ln.strip().lower().startswith("error")),
                 "simulation interrupted due to error")
    return f" [ngspice refuses it too: {first}]"


def _plot(plots, name):
    for k, p in plots.items():
        if k.startswith(name):
            return p
    raise KeyError(name)


def _node_columns(plot, nodes):
    return {nm: plot[f"v({nm})"] for nm in nodes if f"v({nm})" in plot}


def _compare_tran(nl, plots, deck_path) -> str:
    """The twin's transient through ``spu simulate`` (so the corpus follows what the command does:
    sources, initial state, .tran semantics) against ngspice's, interpolated onto the twin's grid."""
    import contextlib
    import io

    from spucircuit.cli import build_parser

    tran = nl.meta["spice_file"]["tran"]
    ng = _plot(plots, "transient analysis")
    tstep, tstop = tran["tstep"], tran["tstop"]
    if tstop / tstep > MAX_TRAN_STEPS:
        return f"the run has {tstop / tstep:.3g} steps, more than the corpus test's {MAX_TRAN_STEPS}"
    out = deck_path + ".npz"
    args = build_parser().parse_args(["simulate", deck_path, "--noise", "off", "--out", out,
                                      "--max-samples", str(MAX_TRAN_STEPS + 1)])
    with contextlib.redirect_stdout(io.StringIO()):
        args.func(args)
    with np.load(out) as d:
        t, v, nodes = d["t"], d["v"], [str(nm) for nm in d["nodes"]]
    tng = ng.time
    keep = (t >= max(tran["tstart"], tng[0])) & (t <= tng[-1])
    worst = (0.0, "")
    for k, nm in enumerate(nodes):
        col = _node_columns(ng, [nm]).get(nm)
        if col is None:
            continue
        ref = np.interp(t[keep], tng, col)
        scale = max(float(np.ptp(col)), 1e-6 * float(np.max(np.abs(col))), 1e-12)
        err = float(np.max(np.abs(v[keep, k] - ref))) / scale
        if err > worst[0]:
            worst = (err, nm)
    MEASURED[".tran"] = worst[0] / TRAN_TOL
    return f"v({worst[1]}) off by {worst[0]:.3g} of its range" if worst[0] > TRAN_TOL else ""


def _compare_ac(nl, plots, deck_path=None) -> str:
    from spucircuit.statespace.frequency import small_signal_analyses

    ng = _plot(plots, "ac analysis")
    tw = small_signal_analyses(nl)
    f = ng.data[:, 0].real
    if len(f) != len(tw["ac_f"]) or not np.allclose(f, tw["ac_f"], rtol=1e-9, atol=0):
        return f"frequency grids differ ({len(f)} vs {len(tw['ac_f'])} points)"
    cols = _node_columns(ng, list(tw["ac_nodes"]))
    top = max((float(np.max(np.abs(c))) for c in cols.values()), default=0.0)
    MEASURED[".ac"] = 0.0
    for k, nm in enumerate(tw["ac_nodes"]):
        if nm not in cols:
            continue
        ref, got = cols[nm], tw["ac_v"][:, k]
        ok = np.abs(ref) > 1e-9 * top
        if not np.any(ok):
            continue
        mag = float(np.max(np.abs(np.abs(got[ok]) / np.abs(ref[ok]) - 1)))
        ph = float(np.max(np.abs(np.angle(got[ok] / ref[ok]))))
        MEASURED[".ac"] = max(MEASURED[".ac"], mag / AC_TOL, ph / AC_TOL)
        if mag > AC_TOL or ph > AC_TOL:
            return f"v({nm}) magnitude {mag:.3g}, phase {ph:.3g} rad"
    return ""


def _compare_noise(nl, plots, deck_path=None) -> str:
    from spucircuit.statespace.frequency import small_signal_analyses

    ng = _plot(plots, "noise spectral density")
    tw = small_signal_analyses(nl)
    f = ng.data[:, 0].real
    if len(f) != len(tw["noise_f"]) or not np.allclose(f, tw["noise_f"], rtol=1e-9, atol=0):
        return f"frequency grids differ ({len(f)} vs {len(tw['noise_f'])} points)"
    ref = ng["onoise_spectrum"].real ** 2
    err = float(np.max(np.abs(tw["noise_onoise_psd"] / ref - 1)))
    MEASURED[".noise"] = err / NOISE_TOL
    return f"onoise PSD off by {err:.3g}" if err > NOISE_TOL else ""


def _compare_op(nl, plots, deck_path=None) -> str:
    from spucircuit.numerics.ou import stationary_mean
    from spucircuit.statespace.mna import compile_netlist

    ng = _plot(plots, "operating point")
    ss = compile_netlist(nl, noise=False)
    nodes = list(nl.node_names[1:])
    Y, Z = ss.node_voltage_map(nodes)
    x = stationary_mean(ss.drift.to_dense(), ss.offset) if ss.n else np.zeros(0)
    v = np.asarray(Y) @ x + np.asarray(Z) @ ss.inputs
    cols = _node_columns(ng, nodes)
    top = max((abs(float(c[0].real)) for c in cols.values()), default=0.0)
    MEASURED[".op"] = max((abs(v[k] - float(cols[nm][0].real)) / (OP_TOL * max(top, 1e-12))
                           for k, nm in enumerate(nodes) if nm in cols), default=0.0)
    for k, nm in enumerate(nodes):
        if nm in cols and abs(v[k] - float(cols[nm][0].real)) > OP_TOL * max(top, 1e-12):
            return f"v({nm}) = {v[k]:.9g} V, ngspice {float(cols[nm][0].real):.9g} V"
    return ""


def _compare_pz(nl, plots, deck_path=None) -> str:
    """The twin's ``.pz`` (statespace/polezero.py through small_signal_analyses) against ngspice's pole(k) and
    zero(k): the same number of each, matched one to one (the orders differ: ngspice's is its root search's),
    each within PZ_TOL of |root| (of 1e-9 of the largest twin root below that). ngspice reports a root at the
    origin as exactly 0; an m-fold root there comes out of an eigenvalue problem at ~eps^(1/m) times the
    largest root (the perturbation of an m-fold eigenvalue, times the conditioning of the circuit's matrix: up
    to ~1e3 here), so the twin's roots matched to ngspice's m zeros at 0 must lie within 1e3 eps^(1/m) of the
    largest. ngspice's roots beyond PZ_INFINITE times the twin's
    largest are dropped first: its search reports the zeros at infinity of a numerator (or determinant) of
    low degree as roots of |s| ~ 1e19..1e27 rad/s (seen on RC circuits without finite zeros)."""
    from scipy.optimize import linear_sum_assignment

    from spucircuit.statespace.frequency import small_signal_analyses

    ng = _plot(plots, "pole-zero analysis")
    tw = small_signal_analyses(nl)
    MEASURED[".pz"] = 0.0
    cols = {nm: complex(ng[nm][0]) for nm in ng.names}
    top = max(float(np.max(np.abs(tw[k]), initial=0.0)) for k in ("pz_poles", "pz_zeros"))
    limit = PZ_INFINITE * top if top > 0 else np.inf
    for what in ("pole", "zero"):
        theirs = np.array([v for nm, v in cols.items() if nm.lower().startswith(f"v({what}(") and abs(v) <= limit],
                          dtype=complex)
        mine = np.asarray(tw[f"pz_{what}s"], dtype=complex)
        if len(theirs) != len(mine):
            return f"{len(theirs)} {what}s from ngspice, {len(mine)} from the twin"
        if not len(theirs):
            continue
        m = int(np.sum(theirs == 0))
        at_zero = 1e3 * np.finfo(float).eps ** (1.0 / max(m, 1)) * top / PZ_TOL  # error/scale <= PZ_TOL there
        scale = np.where(theirs == 0, at_zero, np.maximum(np.abs(theirs), 1e-9 * top))
        err = np.abs(theirs[:, None] - mine[None, :]) / np.maximum(scale, 1e-300)[:, None]
        rows, cols_ = linear_sum_assignment(err)
        k = int(np.argmax(err[rows, cols_]))
        worst = float(err[rows[k], cols_[k]])
        MEASURED[".pz"] = max(MEASURED[".pz"], worst / PZ_TOL)
        if worst > PZ_TOL:
            return f"{what} {theirs[rows[k]]:.6g} is {worst:.3g} (relative) from the twin's {mine[cols_[k]]:.6g}"
    return ""


def _values_deck(deck: str, names: list) -> str:
    """The deck with an ``.op`` and a ``.save`` of each element's value parameters before its ``.end``."""
    saves = [f"@{nm}[{p}]" for nm in names for p in _VALUE_PARAMS[nm[0]]]
    extra = [".op"] + [".save " + " ".join(saves[i:i + 8]) for i in range(0, len(saves), 8)]
    lines = deck.split("\n")
    ends = [k for k, ln in enumerate(lines) if k and ln.strip().lower() in (".end", ".end ")]
    at = ends[-1] if ends else len(lines)
    return "\n".join(lines[:at] + extra + lines[at:])


# what ngspice 39 reports per element (resask.c, capask.c, indask.c): 'resistance' is the nominal value
# (tc1, tc2, the temperatures and m apply on top, restemp.c); 'capacitance' is C (1 + tc1 dT + tc2 dT^2) m
# (captemp.c, capask.c); 'inductance' is L (1 + tc1 dT + tc2 dT^2) without m (indtemp.c, indask.c)
_VALUE_PARAMS = {"r": ("resistance", "tc1", "tc2", "temp", "dtemp", "m", "scale"), "c": ("capacitance",),
                 "l": ("inductance", "m")}


def _ngspice_value(nm: str, got: dict) -> float:
    """An element's value as the twin means it (the value its equations use), from ngspice's parameters."""
    q = {p: got[f"@{nm}[{p}]"] for p in _VALUE_PARAMS[nm[0]]}
    if nm[0] == "r":  # restemp.c: R (((tc2 dT) + tc1) dT + 1) scale / m, dT = temp + dtemp - tnom
        dt = q["temp"] + q["dtemp"] - 27.0
        return q["resistance"] * ((q["tc2"] * dt + q["tc1"]) * dt + 1.0) * q["scale"] / q["m"]
    if nm[0] == "l":
        return q["inductance"] / q["m"]
    return q["capacitance"]


def _value_name(e) -> str:
    """The lower-case name of an R, C or L of the netlist (a negative R is a G of that name), else ''."""
    low = e.name.lower()
    return low if (e.kind in "RCL" and low[0] == e.kind.lower()) or (e.kind == "G" and low[0] == "r") else ""


def _compare_values(nl, deck: str, work: str) -> str:
    """Each R, C and L of the twin's netlist against the value ngspice reports for it (an .op with a .save of
    the element parameters), within VALUES_TOL relative. A negative resistor is the twin's G p q p q 1/R."""
    twin = {}
    for e in nl.elements():
        low = _value_name(e)
        if low:
            twin[low] = 1.0 / e.value if e.kind == "G" else e.value
    plots = run_ngspice_deck(_values_deck(deck, list(twin)), work)
    op = _plot(plots, "operating point")
    got = {}
    for nm, col in zip(op.names, op.data[0]):
        inner = re.fullmatch(r"[vi]\((@.*)\)", nm)
        got[inner.group(1) if inner else nm] = float(col.real)
    worst = (0.0, "")
    for nm, v in twin.items():
        ref = _ngspice_value(nm, got)
        err = abs(v - ref) / abs(ref)
        if err >= worst[0]:
            worst = (err, f"{nm} = {v!r}, ngspice {ref!r}")
    MEASURED["values"] = worst[0] / VALUES_TOL
    return worst[1] if worst[0] > VALUES_TOL else ""


def _compare_sens(nl, plots, deck_path=None) -> str:
    from spucircuit.statespace.frequency import small_signal_analyses

    ng = _plot(plots, "sensitivity analysis")
    tw = small_signal_analyses(nl)
    if "sens_f" in tw and not np.allclose(ng.data[:, 0].real, tw["sens_f"], rtol=1e-9, atol=0):
        return f"frequency grids differ ({ng.data.shape[0]} vs {len(tw['sens_f'])} points)"
    worst, bad = 0.0, ""
    for k, name in enumerate(tw["sens_names"]):
        if f"v({name})" not in ng.names:
            continue
        ref = np.atleast_1d(np.asarray(ng[f"v({name})"]))
        v = np.atleast_1d(np.asarray(tw["sens_values"][..., k]))
        if name[0] == "r" and not name.endswith("_ac") and len(ref) > 1:
            ref, v = ref[:1], v[:1]  # ngspice 39: 0 after the first frequency (module docstring)
        scale = np.maximum(np.abs(ref), 1e-12 * max(1.0, float(np.max(np.abs(ref)))))
        err = float(np.max(np.abs(v - ref) / scale)) if np.any(ref) else (0.0 if not np.any(v) else np.inf)
        if err > worst:
            worst = err
            bad = f"d/d {name} off by {err:.3g}" if err > SENS_TOL else ""
    MEASURED[".sens"] = worst / SENS_TOL
    return bad


def _compare_dc(nl, plots, deck_path=None) -> str:
    from spucircuit.statespace.frequency import small_signal_analyses

    ng = _plot(plots, "dc transfer characteristic")
    tw = small_signal_analyses(nl)
    if ng.data.shape[0] != len(tw["dc_sweep"]) or not np.allclose(ng.data[:, 0].real, tw["dc_sweep"], rtol=1e-12,
                                                                   atol=0):
        return f"sweeps differ ({ng.data.shape[0]} vs {len(tw['dc_sweep'])} points)"
    nodes = list(tw["dc_nodes"])
    cols = _node_columns(ng, nodes)
    top = max(float(np.max(np.abs(tw["dc_v"]))) if tw["dc_v"].size else 0.0, 1e-12)
    errs = {nm: float(np.max(np.abs(tw["dc_v"][:, k] - cols[nm].real))) for k, nm in enumerate(nodes) if nm in cols}
    MEASURED[".dc"] = max(errs.values(), default=0.0) / (OP_TOL * top)
    bad = [nm for nm, e in errs.items() if e > OP_TOL * top]
    return f"v({bad[0]}) off by {errs[bad[0]]:.3g} V" if bad else ""


def _compare_tf(nl, plots, deck_path=None) -> str:
    from spucircuit.statespace.frequency import small_signal_analyses

    ng = _plot(plots, "transfer function")
    tw = small_signal_analyses(nl)
    col = {n.lower(): float(ng[n][0].real) for n in ng.names}
    theirs = {"gain": col.get("v(transfer_function)"),
              "input impedance": next((v for n, v in col.items() if n.endswith("#input_impedance)")), None),
              "output impedance": next((v for n, v in col.items() if "output_impedance" in n), None)}
    mine = {"gain": tw["tf_gain"], "input impedance": tw["tf_input_impedance_ohm"],
            "output impedance": tw["tf_output_impedance_ohm"]}
    errs = {k: abs(mine[k] - v) / max(abs(v), 1e-300) for k, v in theirs.items() if v is not None}
    MEASURED[".tf"] = max(errs.values(), default=0.0) / OP_TOL
    bad = [k for k, e in errs.items() if e > OP_TOL]
    return f"{bad[0]} {mine[bad[0]]:.9g}, ngspice {theirs[bad[0]]:.9g}" if bad else ""


def _compare_sp(nl, plots, deck_path=None) -> str:
    """S, Y and Z of the ports: magnitude (relative) and phase (rad) within 1e-3 like .ac, at the entries
    above 1e-9 of the largest entry of that matrix (ngspice's v(S_i_j), v(Y_i_j), v(Z_i_j)); with donoise
    the noise correlation Cy likewise within 1e-2 like .noise, and for two ports Rn within 1e-2 relative.
    NF, NFmin and SOpt are not compared: ngspice 39.3 forms them with Cy_21 where Y_21 belongs and Gopt
    where G0 belongs (its span.c; corrected after 39.3), the twin by the corrected formulas
    (statespace/sparameters.py; tests/io/test_sparameters.py checks both)."""
    from spucircuit.statespace.frequency import small_signal_analyses

    ng = _plot(plots, "sp analysis")
    tw = small_signal_analyses(nl)
    f = ng.data[:, 0].real
    if len(f) != len(tw["sp_f"]) or not np.allclose(f, tw["sp_f"], rtol=1e-9, atol=0):
        return f"frequency grids differ ({len(f)} vs {len(tw['sp_f'])} points)"
    n = len(tw["sp_ports"])
    MEASURED[".sp"] = 0.0
    for X in "SYZ" + ("C" if "sp_cy" in tw else ""):
        tol = NOISE_TOL if X == "C" else AC_TOL
        got = tw["sp_cy" if X == "C" else "sp_" + X.lower()]
        X = "Cy" if X == "C" else X
        ref = np.stack([np.stack([ng[f"v({X}_{i + 1}_{j + 1})"] for j in range(n)], axis=-1) for i in range(n)],
                       axis=1)
        ok = np.abs(ref) > 1e-9 * float(np.max(np.abs(ref)))
        with np.errstate(all="ignore"):
            mag = np.where(ok, np.abs(np.abs(got) / np.abs(ref) - 1), 0.0)
            ph = np.where(ok, np.abs(np.angle(got / ref)), 0.0)
        bad = ~(np.isfinite(mag) & np.isfinite(ph))
        if np.any(bad & ok):
            return f"{X} has non-finite entries where ngspice has values"
        worst = max(float(np.max(mag)), float(np.max(ph)))
        MEASURED[".sp"] = max(MEASURED[".sp"], worst / tol)
        if worst > tol:
            _, i, j = np.unravel_index(int(np.argmax(np.maximum(mag, ph))), mag.shape)
            return f"{X}_{i + 1}_{j + 1} magnitude {float(np.max(mag)):.3g}, phase {float(np.max(ph)):.3g} rad"
    for key, name in (("sp_rn_ohm", "Rn"),):
        if key in tw:
            ref = ng[f"v({name})"].real
            err = float(np.max(np.abs(tw[key] / ref - 1)))
            MEASURED[".sp"] = max(MEASURED[".sp"], err / NOISE_TOL)
            if not err <= NOISE_TOL:
                return f"{name} off by {err:.3g}"
    return ""


_COMPARE = {".tran": _compare_tran, ".ac": _compare_ac, ".noise": _compare_noise, ".op": _compare_op,
            ".pz": _compare_pz, ".sens": _compare_sens, ".dc": _compare_dc, ".tf": _compare_tf, ".sp": _compare_sp}


def replay_all(verbose: bool = False) -> dict:
    out = {}
    for entry in load_manifest()["files"]:
        t0 = time.perf_counter()
        out[entry["path"]] = replay(entry["path"])
        if verbose:
            worst = "".join(f" [{a} worst error {e:.2g} x tol]" for a, e in MEASURED.items())
            print(f"{time.perf_counter() - t0:6.2f} s  {entry['path']}: {out[entry['path']]}{worst}")
    return out


def tally(statuses: dict) -> str:
    kinds: dict = {}
    for s in statuses.values():
        kinds.setdefault(s.split(":")[0], []).append(s)
    analyses: dict = {}
    for s in kinds.get("agrees", []):
        for a in s.split(":", 1)[1].split():
            analyses[a] = analyses.get(a, 0) + 1
    lines = [f"{len(statuses)} corpus netlists: " + ", ".join(f"{len(v)} {k}" for k, v in sorted(kinds.items()))
             + " (agreeing analyses: " + ", ".join(f"{n} {a}" for a, n in sorted(analyses.items())) + ")"]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ the test
def test_corpus_statuses_match_the_manifest():
    import pytest

    if shutil.which("ngspice") is None:  # pragma: no cover - depends on the machine
        msg = ("ngspice is NOT installed: the corpus replay (tests/io/test_corpus.py) is SKIPPED. "
               "Install it (apt-get install ngspice, or run scripts/sysdeps.sh as root).")
        print("\n" + "!" * 100 + "\n" + msg + "\n" + "!" * 100, file=sys.stderr)
        warnings.warn(msg)
        pytest.skip(msg)
    manifest = load_manifest()
    got = replay_all()
    print("\n" + tally(got))
    diffs = [f"{e['path']}:\n  expected {e['expected']}\n  got      {got[e['path']]}"
             for e in manifest["files"] if got[e["path"]] != e["expected"]]
    assert not diffs, ("corpus statuses changed (if a feature landed, run python -m tests.io.test_corpus --update "
                       "and review the diff):\n" + "\n".join(diffs))
    for path, status in got.items():  # a missing feature is named with its file and line
        assert not status.startswith("rejected:"), status
        if status.startswith("unsupported:"):
            assert re.search(re.escape(path) + r":\d+: ", status), status


def test_comparisons_can_fail(monkeypatch):
    """With (nearly) zero tolerance the agreeing files disagree: each comparison measures a real error."""
    import pytest

    if shutil.which("ngspice") is None:  # pragma: no cover - depends on the machine
        pytest.skip("ngspice is NOT installed")
    for name in ("TRAN_TOL", "AC_TOL", "PZ_TOL", "SENS_TOL"):
        monkeypatch.setattr(sys.modules[__name__], name, 1e-300)
    assert replay("ngspice/examples/control_structs/if-batchmode.cir").startswith("disagrees: .tran (line 14) v(2) off")
    assert replay("ngspice/examples/wave/rcsim.cir").startswith("disagrees: .ac")
    assert replay("ngspice/tests/polezero/pzt.cir").startswith("disagrees: .pz")
    assert replay("ngspice/tests/regression/sens/sens-ac-2.cir").startswith("disagrees: .sens")
    assert replay("ngspice/examples/sp/sp1.cir").startswith("disagrees: .sp")


def test_dc_comparison_sees_a_wrong_sweep(monkeypatch):
    """The .dc comparison fails when the twin's sweep is off (a 1e-5 relative error injected)."""
    import pytest

    if shutil.which("ngspice") is None:  # pragma: no cover - depends on the machine
        pytest.skip("ngspice is NOT installed")
    import spucircuit.statespace.frequency as fr
    from spucircuit.io.spice import parse_spice

    deck = "dc\nV1 a 0 1\nR1 a b 1k\nR2 b 0 3k\n.dc V1 0 2 0.5\n" + OPTIONS + "\n.end\n"
    with tempfile.TemporaryDirectory() as work:
        plots = run_ngspice_deck(deck, work)
    nl = parse_spice(deck, "dc.cir")
    assert _compare_dc(nl, plots) == ""
    real = fr.small_signal_analyses

    def off(netlist, *a, **k):
        out = real(netlist, *a, **k)
        out["dc_v"] = out["dc_v"] * (1 + 1e-5)
        return out

    monkeypatch.setattr(fr, "small_signal_analyses", off)
    assert _compare_dc(nl, plots).startswith("v(a) off by")


def test_values_comparison_finds_a_wrong_value():
    """The "values" comparison measures each R, C, L (tc1/tc2/dtemp, m, a negative R) against ngspice's and
    names the element whose value the twin got wrong."""
    import pytest

    from spucircuit.io.spice import parse_spice

    if shutil.which("ngspice") is None:  # pragma: no cover - depends on the machine
        pytest.skip("ngspice is NOT installed")
    deck = ("t\nV1 1 0 1\nR1 1 0 4K7 tc1=1e-3 tc2=1e-5 dtemp=6\nC1 1 0 4F7 m=3 tc1=2e-3 dtemp=5\nL1 1 2 1m m=2\n"
            "R2 2 0 -1.7 m=2\nR3 2 0 2meg5\n.temp 40\n.end\n")
    with tempfile.TemporaryDirectory() as work:
        assert _compare_values(parse_spice(deck), deck, work) == ""
        assert MEASURED["values"] < 1
        wrong = parse_spice(deck.replace("2meg5", "2.5meg"))
        assert _compare_values(wrong, deck, work).startswith("r3 = 2500000.0, ngspice 2000000.0")


def test_control_commands_and_the_analyses_the_twin_lacks():
    text = "t\nV1 1 0 1 distof1 1\nR1 1 0 1k\n.control\n* c\nshow r\ndisto dec 10 1k 1meg\n.endc\n.options x\n.end\n"
    assert control_commands(text) == {"show": 6, "disto": 7}
    assert _analysis_cards(make_deck(text)) == {}  # .options is not .op
    status = replay_text(text, "x.cir")
    assert status == ("unsupported: x.cir:7: the control-block command 'disto' (distortion analysis) has no "
                      "counterpart in the twin"), status
    status = replay_text("t\nV1 1 0 1 distof1 1\nR1 1 0 1k\n.disto dec 10 1k 1meg\n.end\n", "y.cir")
    assert status == "unsupported: y.cir:4: the analysis card '.disto' has no counterpart in the twin", status
    assert replay_text("t\nV1 1 0 1\nR1 1 0 1k\n.end\n", "z.cir").startswith("no analysis: ")


def test_manifest_lists_every_corpus_file_with_its_source():
    manifest = load_manifest()
    listed = {e["path"] for e in manifest["files"]}
    on_disk = set()
    for d, _, fs in os.walk(CORPUS):
        for f in fs:
            rel = os.path.relpath(os.path.join(d, f), CORPUS)
            if f not in ("MANIFEST.json", "COPYING", "README.md"):
                on_disk.add(rel.replace(os.sep, "/"))
    assert listed == on_disk
    for e in manifest["files"]:
        src = manifest["sources"][e["source"]]
        assert os.path.exists(os.path.join(CORPUS, src["licence_file"]))
        assert re.fullmatch(r"[0-9a-f]{40}", src["commit"])
        assert e["path"].endswith(e["original_path"])


def test_deck_keeps_line_numbers_and_tightens_tolerances():
    text = "t\nR1 a 0 1k\nC1 a 0 1n\n.tran 1u 10u\n.control\nac dec 10 1 1k\nplot v(a)\n.endc\n.end\n"
    deck = make_deck(text).split("\n")
    assert len(deck) == len(text.split("\n"))
    assert deck[3] == ".tran 1e-06 1e-05 0.0 5e-08" and deck[4] == OPTIONS and deck[5] == ".ac dec 10 1 1k"
    assert deck[6] == "*" and deck[7] == "*"
    deck = make_deck("t\nR1 a 0 1k\nC1 a 0 1n\n.control\ntran 1u 10u 0 1u uic\nrun\n.endc\n.end\n").split("\n")
    assert deck[4] == ".tran 1e-06 1e-05 0.0 5e-08 uic" and deck[5] == "*"


if __name__ == "__main__":  # python -m tests.io.test_corpus [--update]
    statuses = replay_all(verbose=True)
    print(tally(statuses))
    if "--update" in sys.argv[1:]:
        m = load_manifest()
        for e in m["files"]:
            e["expected"] = statuses[e["path"]]
        with open(MANIFEST, "w", encoding="utf-8") as f:
            json.dump(m, f, indent=1)
            f.write("\n")
        print(f"wrote the expected statuses into {MANIFEST}")
