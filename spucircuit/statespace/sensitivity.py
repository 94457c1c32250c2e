"""Sensitivity analysis (SPICE's ``.sens``): the derivative of one output with respect to each
element's value, from the same circuit-level pipeline as the analysis it differentiates.

    .sens V(out[,ref])                          d y / d p,  y = v(out) - v(ref) at the DC operating point
    .sens I(vsrc)                               the same for the current through vsrc (DC only)
    .sens V(out[,ref]) AC DEC|OCT|LIN N f1 f2   d Y(jw) / d p,  Y the small-signal phasor (``.ac``)

The parameters and their names are ngspice 39's (``src/spicelib/analysis/sens.c`` reports every
device parameter; these are the ones that change a linear circuit): ``r1`` (resistance, Ohm;
in an AC sweep the resistance the AC analysis uses: ``r1_ac`` when the card gives ``ac=``, and
``r1`` is then 0), ``c1`` (F), ``l1`` (H), ``k1`` (coupling coefficient), ``e1_gain``,
``g1_gain``, ``f1_gain``, ``h1_gain``, independent sources ``v1`` / ``i1`` (DC value) and, in an
AC sweep, ``v1_acmag`` / ``i1_acmag`` (AC magnitude at the source's AC phase, phase 0 without an
AC value). A DC sensitivity to a C or L is 0, an AC one to a DC value is 0.

Coupled inductors differ from ngspice on purpose: here ``l1`` is d y / d L1 with the K card's
coefficient k held (the netlist's own parameters are independent), and ``k1`` is d y / d k.
ngspice 39 holds the mutual inductance M = k sqrt(L1 L2) while it varies L1, and its ``k1`` comes
out as -1e6 d y / d M (measured on a coupled ladder: its l3 and l4 match our fixed-M derivatives to
3e-11, its k1 is -1e6 times our d y / d M to 1e-5); for uncoupled circuits the two agree.

Each derivative is a central difference of the compiled circuit, (y(p + h) - y(p - h)) / (2 h)
with h = 1e-5 |p| (1e-5 for p = 0): the truncation error is about (h/p)^2 / 6 ~ 2e-11 of the
derivative's scale, round-off about eps y / h; exact for a source value, on which y is linear.
Cost: two compiles (and, in an AC sweep, two frequency sweeps) per element: O(elements x analysis).
"""
from __future__ import annotations

import numpy as np

from spucircuit.circuit.netlist import Netlist
from spucircuit.errors import NetlistError

REL_STEP = 1e-5
_GAIN_KINDS = ("E", "G", "F", "H", "U")  # U: an E card with a grounded output (read as a finite-gain op-amp)
_VALUE_KINDS = ("R", "C", "L", "K", "V", "I") + _GAIN_KINDS


def _sens_name(kind: str, name: str) -> str:
    low = name.lower()
    return f"{low}_gain" if kind in _GAIN_KINDS else low


def _parameters(netlist: Netlist):
    """[(ngspice name, element name, kind)] of every element value the sensitivity is taken to."""
    out = []
    for kind in _VALUE_KINDS:
        tab = netlist.tables[kind]
        for nm, v in zip(tab.names, tab.values):
            if kind == "U" and not np.isfinite(v):
                continue  # an ideal op-amp has no gain to vary
            out.append((_sens_name(kind, nm), nm, kind))
    return out


def _perturbed(netlist: Netlist, name: str, value: float) -> Netlist:
    nl = netlist.copy()
    nl.set_value(name, value)
    return nl


def _central(fn, netlist: Netlist, name: str, p: float, upper: float = np.inf):
    """Central difference; the second-order one-sided form when p + h would pass ``upper`` (|k| <= 1)."""
    h = REL_STEP * abs(p) if p != 0 else REL_STEP
    if abs(p) + h > upper:  # (3 y(p) - 4 y(p - h) + y(p - 2h)) / (2h), h towards zero
        s = -np.sign(p) * h
        return -(3 * fn(_perturbed(netlist, name, p)) - 4 * fn(_perturbed(netlist, name, p + s))
                 + fn(_perturbed(netlist, name, p + 2 * s))) / (2.0 * s)
    return (fn(_perturbed(netlist, name, p + h)) - fn(_perturbed(netlist, name, p - h))) / (2.0 * h)


def dc_sensitivity(netlist: Netlist, output: str, ref: str | None = None, current: str | None = None) -> dict:
    """{ngspice name: d y / d p} at the DC operating point, y = v(output) - v(ref), or the current
    through the voltage source ``current`` (SPICE's sign: into its + terminal) when given."""
    from spucircuit.statespace.operating_point import operating_point

    def y(nl):
        op = operating_point(nl)
        if current is not None:
            return op.current(current)
        return op.voltage(output) - (op.voltage(ref) if ref is not None else 0.0)

    out = {}
    for sname, nm, kind in _parameters(netlist):
        if kind in "CL":
            out[sname] = 0.0  # a DC operating point does not see C or L values
            continue
        p = float(netlist.tables[kind].values[netlist.find(nm)[1]])
        out[sname] = float(_central(y, netlist, nm, p, 1.0 if kind == "K" else np.inf))
    return out


def ac_sensitivity(netlist: Netlist, specs: dict, response, ac_resistors=()) -> dict:
    """{ngspice name: d Y / d p} (complex arrays over the sweep) of the small-signal output
    ``response(netlist, specs)`` (Y over the sweep's frequencies, for the sources' AC values ``specs``:
    {name: [magnitude, phase_deg]}); ``netlist`` carries the resistances the AC analysis uses and
    ``ac_resistors`` names those that came from ``ac=`` (reported as ``r1_ac``)."""
    ac_res = {str(k).lower() for k in ac_resistors}
    lowspecs = {str(k).lower(): v for k, v in specs.items()}
    out = {}
    zero = None
    for sname, nm, kind in _parameters(netlist):
        if kind in "VI":  # linear in the AC magnitude: the response to this source alone, at its phase
            phase = float(lowspecs.get(nm.lower(), [0.0, 0.0])[1])
            d = np.asarray(response(netlist, {nm: [1.0, phase]}))
            zero = np.zeros_like(d) if zero is None else zero
            out[sname], out[f"{sname}_acmag"] = zero, d
            continue
        p = float(netlist.tables[kind].values[netlist.find(nm)[1]])
        d = np.asarray(_central(lambda nl: np.asarray(response(nl, specs)), netlist, nm, p,
                                1.0 if kind == "K" else np.inf))
        zero = np.zeros_like(d) if zero is None else zero
        if kind == "R" and nm.lower() in ac_res:
            out[sname], out[f"{sname}_ac"] = zero, d
        else:
            out[sname] = d
    return out


def sens_frequencies(sweep: str, points: int, fstart_hz: float, fstop_hz: float) -> np.ndarray:
    """The frequencies of ngspice 39's AC sensitivity sweep (src/spicelib/analysis/cktsens.c,
    count_steps and inc_freq), which is not the ``.ac`` grid: LIN N gives N points fstart + k
    (fstop - fstart) / N, k < N (fstop itself is left out); DEC N gives int(N log10(fstop/fstart) +
    1.01) points fstart 10^(k/N); OCT N gives int(N ln(fstop/fstart) / log2(e) + 1.01) points
    fstart 2^(k/N) (ngspice divides by log2(e) where ln 2 was meant: fewer points than ``.ac``)."""
    n_steps = max(int(points), 1)
    if sweep == "lin":
        return fstart_hz + np.arange(n_steps) * ((fstop_hz - fstart_hz) / n_steps)
    lo = fstart_hz if fstart_hz > 0 else 1e-3
    hi = fstop_hz if fstop_hz > lo else (10.0 if sweep == "dec" else 2.0) * lo
    if sweep == "dec":
        count, ratio = int(n_steps * np.log10(hi / lo) + 1.01), 10.0 ** (1.0 / n_steps)
    else:
        count, ratio = int(n_steps * np.log(hi / lo) / np.log2(np.e) + 1.01), 2.0 ** (1.0 / n_steps)
    f = np.empty(count)
    x = lo
    for k in range(count):  # repeated multiplication, as ngspice steps
        f[k] = x
        x *= ratio
    return f


def sensitivity_analysis(card: dict, specs: dict, netlist: Netlist, ac_netlist=None, ac_output=None) -> dict:
    """The arrays ``spu simulate`` writes for a ``.sens`` card (as read by io.spice.analyses):
    ``sens_names`` (str), ``sens_values`` (real (P,) for DC; complex (frequencies, P) for AC),
    and ``sens_f`` (Hz) for an AC sweep. The AC form needs the small-signal pieces of
    :mod:`spucircuit.statespace.frequency` (which calls this): ``ac_netlist(netlist)`` and
    ``ac_output(netlist, nodes, specs, freqs_hz)`` -> phasors (frequencies x nodes)."""
    known = {nm.lower() for nm in netlist.node_names}
    for node in (card.get("output"), card.get("ref")):
        if node is not None and node not in known:
            raise NetlistError(f".sens: the circuit has no node {node!r}")
    if card.get("current") is not None:
        src = card["current"]
        try:
            kind, _ = netlist.find(src)
        except NetlistError:
            raise NetlistError(f".sens: I({src}): no voltage source named {src!r}") from None
        if kind != "V":
            raise NetlistError(f".sens: I({src}): {src!r} is not an independent voltage source")
    if card.get("sweep") is None:
        d = dc_sensitivity(netlist, card.get("output"), card.get("ref"), card.get("current"))
        return dict(sens_names=np.array(list(d), dtype=str), sens_values=np.array(list(d.values()), dtype=float))
    f = sens_frequencies(card["sweep"], card["points"], card["fstart_hz"], card["fstop_hz"])
    out, ref = card["output"], card.get("ref")
    nodes = [out] + ([ref] if ref is not None else [])

    def response(nl, sp):
        v = ac_output(nl, nodes, sp, f)
        return v[:, 0] - (v[:, 1] if ref is not None else 0.0)

    ac_res = (netlist.meta.get("ac") or {}).get("resistors") or {} if isinstance(netlist.meta, dict) else {}
    d = ac_sensitivity(ac_netlist(netlist), specs, response, ac_res)
    vals = np.stack(list(d.values()), axis=1) if d else np.zeros((len(f), 0), dtype=complex)
    return dict(sens_f=f, sens_names=np.array(list(d), dtype=str), sens_values=vals)
