"""Pole-zero analysis (SPICE's ``.pz``): the poles of a circuit and the zeros of one transfer function.

    .pz IN+ IN- OUT+ OUT- VOL|CUR POL|ZER|PZ

As ngspice 39 means it (src/spicelib/analysis/pzan.c, cktpzset.c, cktpzld.c, vsrc/vsrcpzld.c):

* the small-signal circuit (resistors at their ``ac=`` values, :func:`~.frequency.ac_netlist`) with every
  independent source as ngspice's pole-zero load stamps it: a voltage source *with* an AC value is
  opened (vsrcpzld.c: its branch current is forced to 0), one without is a short, a current source
  is open (it has no pole-zero load). A current-controlled source sensing an opened voltage source
  sees 0 A: an F is dropped, an H becomes a 0 V source;
* the input port IN+ IN-: ngspice injects a current I_i there and finds the roots of determinants by
  Cramer's rule. The *zeros* are those of V_o / I_i (V_o = v(OUT+) - v(OUT-)); the *poles* are those
  of the circuit's determinant with the port open (``CUR``), or the zeros of V_i / I_i (``VOL``), i.e.
  the poles with the port shorted by an ideal voltage source. Since V_o / V_i = (V_o / I_i) / (V_i / I_i),
  the zeros are also those of the voltage transfer V_o / V_i, the same set for VOL and CUR;
* the roots are reported as ngspice's PZpost lists them: a complex root s and then its conjugate,
  in rad/s (``pole(k)``, ``zero(k)``); ngspice's own order is its root search's, here the order is
  |s| ascending, the root with positive imaginary part first.

Here the input port is a source the compile takes as an input u: an ideal voltage source between
IN+ and IN- for ``VOL``, a current source for ``CUR``, giving dx/dt = F x + b u, y = c x + d u with
y = v(OUT+) - v(OUT-) (:meth:`StateSpace.node_voltage_map`); a VOL port that closes a loop of capacitors
also drives b1 du/dt (``input_rate_matrix``), which enters as b + F b1 and d + c b1. Then

* poles: the eigenvalues of F (scipy.linalg.eigvals);
* zeros: the finite generalized eigenvalues of the Rosenbrock pencil [[F, b], [c, d]] - s [[I, 0], [0, 0]],
  i.e. the roots of det(sI - F) G(s), G = c (sI - F)^-1 b + d: the numerator of V_o / I_i (CUR) or
  V_o / V_i (VOL) before any cancellation, which is what ngspice's determinant gives. The pencil's
  infinite eigenvalues (relative degree r: a Jordan block of size r + 1 at infinity, which a QZ would
  perturb by eps^(1 / (r + 1)), far into the finite plane) are removed exactly instead, by SISO
  deflation (Emami-Naeini and Van Dooren, Automatica 18 (1982) 415): while d is negligible, an
  orthogonal (Householder) H with H b = beta e_n turns the last state into the input (the last row can
  always be met by u), leaving (F', b', c', d') = (F_11, F_12, c_1, c_2) of H F H, c H with the same
  finite zeros; once |d| > 1e-10 |c| |b| / |F| (|b| = |c| = 1 first, then b is a column of F and d an entry of c,
  so |d| > 1e-10 |c|; a zero beyond ~1e10 |F| counts as one at infinity),
  the zeros are eig(F - b c / d) (from (sI - F) x = b u and u = -c x / d).

A port shorted by a voltage source (ngspice: "The input signal is shorted on the way to the output";
only ``CUR POL``, which needs no port, runs)
and a transfer function that is identically 0 (the output does not see the input) are errors, as are
ngspice's PZinit checks (input or output port shorted on itself; VOL with the output equal to the
input port).

Cost: one compile, one dense eigenvalue problem of the n states (O(n^3)), and for zeros at most n
Householder steps (O(n^2) each) and another O(n^3) eigenvalue problem.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from spucircuit.circuit.netlist import Netlist
from spucircuit.errors import NetlistError

PORT = "spu.pz_in"  # the name of the source the compile takes as the input port
D_TOL = 1e-10  # |d| below D_TOL |c| |b| / |F| counts as 0 (a zero beyond ~1e10 |F| is at infinity)
ZERO_TOL = 1e-13  # |b| or |c| below this (relative) is exactly 0: the output does not see the input
_ZERO_TRANSFER = (".pz: the transfer function from the input port to the output is identically 0 (the output does "
                  "not see the input; ngspice: 'the input signal is shorted on the way to the output')")
MAX_STATES = 5000  # dense O(n^3) eigenvalue problems beyond this would take minutes


def pz_netlist(netlist: Netlist, ac_sources: dict) -> Netlist:
    """``netlist`` with its independent sources as ngspice's pole-zero analysis has them: a voltage
    source with an AC value (``ac_sources``: {name: [mag, phase]}) and every current source opened
    (removed), an F sensing an opened voltage source dropped and an H sensing one a 0 V source."""
    ac = {str(nm).lower() for nm in ac_sources}
    t = netlist.tables
    opened = {nm.lower() for nm in t["V"].names if nm.lower() in ac} | {nm.lower() for nm in t["I"].names}
    if not opened:
        return netlist
    keep = {}
    for kind, tab in t.items():
        if kind in ("F", "H"):  # a current-controlled source sensing an opened source
            keep[kind] = np.array([netlist.refs[nm.lower()][0].lower() not in opened for nm in tab.names], bool)
        else:
            keep[kind] = np.array([nm.lower() not in opened for nm in tab.names], bool)
    shorted = [(nm, t["H"].nodes[i]) for i, nm in enumerate(t["H"].names) if not keep["H"][i]]
    base = netlist.select(keep)
    for nm, (p, q) in shorted:  # an H whose controlling current is 0: v(p) - v(q) = 0
        base.add_vsource(nm, base.node_names[int(p)], base.node_names[int(q)], 0.0)
    return base


def _check_ports(netlist: Netlist, card: dict) -> None:
    for key in ("in_pos", "in_neg", "out_pos", "out_neg"):
        if not netlist.has_node(card[key]):
            raise NetlistError(f".pz: the circuit has no node {card[key]!r}")
    idx = {k: netlist.node_index(card[k]) for k in ("in_pos", "in_neg", "out_pos", "out_neg")}
    if idx["in_pos"] == idx["in_neg"]:  # ngspice's PZinit checks (pzan.c)
        raise NetlistError(".pz: the input port is shorted (IN+ and IN- are the same node)")
    if idx["out_pos"] == idx["out_neg"]:
        raise NetlistError(".pz: the output port is shorted (OUT+ and OUT- are the same node)")
    if card["input"] == "vol" and {idx["in_pos"], idx["in_neg"]} == {idx["out_pos"], idx["out_neg"]}:
        sign = "unity" if idx["in_pos"] == idx["out_pos"] else "-1"
        raise NetlistError(f".pz: the output is the input port: the transfer function is {sign}")


def _path(edges, a: int, b: int) -> list:
    """Names of the edges [(name, p, q)] on a path from node a to node b, else []."""
    adj: dict = {}
    for nm, p, q in edges:
        adj.setdefault(int(p), []).append((int(q), nm))
        adj.setdefault(int(q), []).append((int(p), nm))
    seen, stack = {a: []}, [a]
    while stack:
        x = stack.pop()
        for y, nm in adj.get(x, []):
            if y not in seen:
                seen[y] = seen[x] + [nm]
                stack.append(y)
    return seen.get(b, [])


def _shorting_sources(netlist: Netlist, a: int, b: int) -> list:
    """Names of the voltage sources joining nodes a and b on their own (a path of V sources), else []."""
    t = netlist.tables["V"]
    return _path([(nm, p, q) for nm, (p, q) in zip(t.names, t.nodes)], a, b)


def _root(comp: dict, x: int) -> int:
    while comp.get(x, x) != x:
        x = comp[x]
    return x


def _port_system(netlist: Netlist, card: dict):
    """(F, b, c, d) of the circuit driven at the input port, y = v(OUT+) - v(OUT-)."""
    from spucircuit.statespace.mna import compile_netlist

    nl = netlist.copy()
    p, q = card["in_pos"], card["in_neg"]
    if card["input"] == "vol":
        nl.add_vsource("V." + PORT, p, q, 0.0)
    else:
        nl.add_isource("I." + PORT, q, p, 0.0)  # 1 A into IN+, out of IN- (the sign does not move a root)
    ss = compile_netlist(nl, noise=False)
    if ss.n > MAX_STATES:
        raise NetlistError(f".pz: the circuit has {ss.n} states; the dense pole-zero analysis takes at most "
                           f"{MAX_STATES}")
    k = [nm.lower() for nm in ss.input_names].index((("V." if card["input"] == "vol" else "I.") + PORT).lower())
    Y, Z = ss.node_voltage_map([card["out_pos"], card["out_neg"]])
    Y = Y.toarray() if sp.issparse(Y) else np.asarray(Y, dtype=float)
    Z = Z.toarray() if sp.issparse(Z) else np.asarray(Z, dtype=float)
    B = ss.input_matrix.toarray() if sp.issparse(ss.input_matrix) else np.asarray(ss.input_matrix, dtype=float)
    F = np.asarray(ss.drift.to_dense() if ss.n else np.zeros((0, 0)), dtype=float)
    b = np.asarray(B[:, k] if ss.n else np.zeros(0), dtype=float)
    c, d = Y[0] - Y[1], float(Z[0, k] - Z[1, k])
    if ss.n and ss.input_rate_matrix is not None and np.any(ss.input_rate_matrix[:, k]):
        # a VOL port closing a capacitor loop: dx/dt = F x + b u + b1 du/dt, and c (sI - F)^-1 (b + s b1) + d
        # = c (sI - F)^-1 (b + F b1) + (d + c b1), since (sI - F)^-1 s = I + (sI - F)^-1 F
        b1 = np.asarray(ss.input_rate_matrix[:, k], dtype=float)
        b, d = b + F @ b1, d + float(c @ b1)
    return F, b, c, d


def ngspice_order(roots) -> np.ndarray:
    """Roots by |s| ascending, each complex pair with its positive imaginary part first (as ngspice lists
    a root and then its conjugate)."""
    r = np.asarray(roots, dtype=complex)
    return r[np.lexsort((-r.imag, np.round(np.abs(r), 12) if r.size else r.real))] if r.size else r


def transfer_zeros(F, b, c, d) -> np.ndarray:
    """Finite zeros of G(s) = c (sI - F)^-1 b + d (the Rosenbrock pencil's finite generalized eigenvalues),
    by the deflation of the module docstring. Raises NetlistError when G is identically 0."""
    try:
        F = np.array(F, dtype=float)
        b, c, d = np.array(b, dtype=float).ravel(), np.array(c, dtype=float).ravel(), float(d)
    except (TypeError, ValueError):
        raise NetlistError("transfer_zeros needs real arrays F (n x n), b (n), c (n) and a number d") from None
    n = len(b)
    if F.shape != (n, n) or c.shape != (n,) or not all(np.all(np.isfinite(a)) for a in (F, b, c, [d])):
        raise NetlistError(f"transfer_zeros needs finite F (n x n), b (n), c (n), d; got shapes {F.shape}, "
                           f"{b.shape}, {c.shape}")
    if not n:  # G = d: no zero, unless G is identically 0
        if d == 0:
            raise NetlistError(_ZERO_TRANSFER)
        return np.zeros(0, dtype=complex)
    f_scale = max(float(np.linalg.norm(F)), np.finfo(float).tiny)
    nb, nc = float(np.linalg.norm(b)), float(np.linalg.norm(c))
    if nb:  # u -> u nb, y -> y / nc: same zeros, |b| = |c| = 1
        b, d = b / nb, d / nb
    if nc:
        c, d = c / nc, d / nc
    d_ref = 1.0 / f_scale  # |c (sI - F)^-1 b| at |s| ~ |F|; after a deflation d is an entry of c: |c| = 1
    while True:
        nb, nc = float(np.linalg.norm(b)), float(np.linalg.norm(c))
        if abs(d) > D_TOL * d_ref:
            if not len(b):
                return np.zeros(0, dtype=complex)
            return np.asarray(sla.eigvals(F - np.outer(b, c) / d), dtype=complex)
        if not len(b) or nb <= ZERO_TOL * (1.0 if d_ref != 1.0 else f_scale) or nc <= ZERO_TOL:
            raise NetlistError(_ZERO_TRANSFER)
        # Householder H = I - 2 v v^T / (v^T v) with H b = -sign(b_n) |b| e_n
        v = b.copy()
        v[-1] += np.copysign(nb, b[-1] if b[-1] else 1.0)
        v /= np.linalg.norm(v)
        HF = F - 2.0 * np.outer(v, v @ F)
        F2 = HF - 2.0 * np.outer(HF @ v, v)
        c2 = c - 2.0 * (c @ v) * v
        F, b, c, d = F2[:-1, :-1], F2[:-1, -1], c2[:-1], float(c2[-1])
        d_ref = 1.0


def pole_zero(netlist: Netlist, card: dict, ac_sources: dict | None = None) -> dict:
    """``{'pz_poles', 'pz_zeros'}`` (complex, rad/s, :func:`ngspice_order`) of a ``.pz`` card as read by
    io.spice.analyses (``in_pos``, ``in_neg``, ``out_pos``, ``out_neg`` node names, ``input`` 'vol' or
    'cur', ``which`` 'pol', 'zer' or 'pz'); ``ac_sources`` {name: [mag, phase]}: the sources ngspice opens.
    An analysis not asked for gives an empty array."""
    if not isinstance(netlist, Netlist):
        raise NetlistError(f".pz needs a Netlist, got {type(netlist).__name__}")
    keys = ("in_pos", "in_neg", "out_pos", "out_neg", "input", "which")
    if not isinstance(card, dict) or any(k not in card for k in keys):
        raise NetlistError(f".pz: the card must be a dict with {keys}, got {card!r}")
    if card["input"] not in ("vol", "cur") or card["which"] not in ("pol", "zer", "pz"):
        raise NetlistError(f".pz: input must be 'vol' or 'cur' and which 'pol', 'zer' or 'pz', got "
                           f"{card['input']!r}, {card['which']!r}")
    _check_ports(netlist, card)
    nl = pz_netlist(netlist, ac_sources or {})
    a, b = nl.node_index(card["in_pos"]), nl.node_index(card["in_neg"])
    short = _shorting_sources(nl, a, b) if card["input"] == "vol" or card["which"] != "pol" else []
    if short:  # CUR POL only takes the determinant with the port open: ngspice runs it (a short is no matter)
        raise NetlistError(f".pz: the input port ({card['in_pos']}, {card['in_neg']}) is shorted by the voltage "
                           f"source{'s' if len(short) > 1 else ''} {', '.join(short)} (a source without an AC value "
                           "is a short in the pole-zero analysis; ngspice: 'the input signal is shorted on the way "
                           "to the output')")
    F, bb, c, d = _port_system(nl, card)
    poles = ngspice_order(sla.eigvals(F)) if card["which"] in ("pol", "pz") and len(F) else np.zeros(0, complex)
    zeros = ngspice_order(transfer_zeros(F, bb, c, d)) if card["which"] in ("zer", "pz") else np.zeros(0, complex)
    return dict(pz_poles=np.asarray(poles, dtype=complex), pz_zeros=np.asarray(zeros, dtype=complex))
