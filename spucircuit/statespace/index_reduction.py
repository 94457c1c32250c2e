"""Index reduction of the degenerate shapes ngspice runs but a state-space compile cannot take as is.

* An inductor with an open end - a terminal that reaches nothing carrying current once resistors into
  nowhere are set aside (:meth:`Netlist.open_inductors`, the rule :meth:`Netlist.validate` follows) -
  carries no current for all time: it is no state. Its voltage is the mutual one, v_o = sum_j M_oj
  di_j/dt over the inductors c that carry current, and those obey v_c = M_cc di_c/dt, so
  v_o = (M_oc M_cc^-1) v_c: an algebraic function of the carrying inductors' voltages, kept exactly
  by VCVSs in series (one per carrying inductor, internal nodes between them) that carry no current;
  without coupling the open end follows the other end (a unit-gain VCVS). So the open end's voltage,
  a function of dx/dt = F x + B u, enters the read-out map v = Y x + Z u with no new state, at DC
  (v_c = 0), in .tran, .ac and .pz alike. The whole inductance matrix must be positive definite, as
  ngspice checks (src/spicelib/devices/ind/muttemp.c, a Cholesky factor); an IC= on an open inductor conflicts with uic.

* A capacitor whose terminals are joined by a path of voltage sources (one directly across a source,
  a loop of capacitors and voltage sources with one capacitor): its voltage is fixed by the sources,
  v_C = +-(sum of source levels), so it is no state; its current C dv_C/dt (0 for DC sources) flows
  in the sources only and changes no node voltage. It is dropped from the compiled circuit.
  A loop of voltage sources with two or more capacitors (e.g. two capacitors in series across a
  source) divides the source's voltage by the capacitances: the MNA compile takes it (a link
  capacitor, v_K = P x + S u, whose current C_K S du/dt is the input-rate term B_1 du/dt that the
  transient and the AC analyses keep).
* Inductors in series - a node on which only two inductors carry current (an inductor cut-set):
  they carry one current, so they are merged into one inductor L1 + L2 between the outer nodes (the
  state keeps the first one's name, ``i(L1)``). The middle node's voltage follows from the inductive
  divider, V_m = V_b + L2 / (L1 + L2) (V_a - V_b) (L1 from a to m, L2 from m to b, one current:
  L1 di/dt = V_a - V_m and L2 di/dt = V_m - V_b), kept exactly by a VCVS that carries no current.
  Chains merge pair by pair. An inductor in series with DC current sources only (a node where just
  they meet) carries their current: it is no state, and at DC holds no voltage (L di/dt = 0), so it
  becomes a 0 V source (``V.<L>.forced``; its current, the sources', is then an algebraic unknown).
  Other nodes where only inductors and current sources meet (three inductors or more, noise or
  controlled current sources) make their currents dependent: refused, naming the elements.

:func:`reduce_degenerate` returns the netlist unchanged (the same object) when it has neither shape.
"""
from __future__ import annotations

import numpy as np

from spucircuit.circuit.netlist import Netlist
from spucircuit.errors import NetlistError
from spucircuit.statespace.inductance import inductance_matrix

__all__ = ["reduce_degenerate"]

# kinds and terminal columns that carry current into a node (control terminals do not)
_CARRY = {"R": (0, 1), "C": (0, 1), "L": (0, 1), "V": (0, 1), "I": (0, 1), "N": (0, 1), "G": (0, 1),
          "U": (0,), "E": (0, 1), "F": (0, 1), "H": (0, 1)}


def _find(parent, a):
    root = a
    while parent.get(root, root) != root:
        root = parent[root]
    while parent.get(a, a) != root:
        parent[a], a = root, parent[a]
    return root


def _fixed_capacitors(nl: Netlist) -> list:
    """Rows of capacitors whose voltage a path of voltage sources fixes."""
    t = nl.tables
    if not len(t["V"]) or not len(t["C"]):
        return []
    pv: dict = {}
    for a, b in t["V"].nodes:
        ra, rb = _find(pv, int(a)), _find(pv, int(b))
        if ra != rb:
            pv[ra] = rb
    fixed = [k for k, (a, b) in enumerate(t["C"].nodes) if _find(pv, int(a)) == _find(pv, int(b))]
    return fixed


def _cutset_nodes(nl: Netlist):
    """(node -> [inductor rows]) for nodes on which only inductors carry current (two: a series pair),
    ({inductor row: node}) for single inductors in series with DC current sources only, and raises for
    other nodes where only inductors and current sources meet."""
    t = nl.tables
    if len(t["L"]) < 2 and not (len(t["L"]) and (len(t["I"]) or len(t["N"]) or len(t["F"]) or len(t["G"]))):
        return {}, {}
    n = len(nl.node_names)
    carry = np.zeros(n, np.int64)
    soft = np.zeros(n, np.int64)  # current-source terminals (I, N, F, G outputs): no voltage constraint
    for k, cols in _CARRY.items():
        if len(t[k]):
            for c in cols:
                cnt = np.bincount(t[k].nodes[:, c], minlength=n)
                carry += cnt
                if k in "INFG":
                    soft += cnt
    isrc = sum(np.bincount(t["I"].nodes[:, c], minlength=n) for c in (0, 1)) if len(t["I"]) else np.zeros(n, np.int64)
    ind = np.bincount(t["L"].nodes.reshape(-1), minlength=n)
    out, forced = {}, {}
    for m in np.flatnonzero((ind > 0) & (ind + soft == carry))[:]:
        if m == 0:
            continue
        rows = [int(r) for r in np.flatnonzero(np.any(t["L"].nodes == m, axis=1))]
        if ind[m] == 1 and soft[m] and soft[m] == isrc[m] and rows[0] not in forced:
            forced[rows[0]] = int(m)  # its current is the DC sources' (KCL at m)
            continue
        if soft[m] or ind[m] != 2 or len(rows) != 2:
            names = [t["L"].names[r] for r in rows]
            others = [nm for k in "INFG" if len(t[k]) for nm, nd in zip(t[k].names, t[k].nodes) if m in nd[:2]]
            raise NetlistError(f"node {nl.node_names[m]!r} joins only inductors and current sources "
                               f"({', '.join(names + others)}): their currents are not independent (an inductor "
                               "cut-set the twin reduces only for two inductors in series); add a resistor from "
                               "the node to ground")
        out[int(m)] = rows
    return out, forced


def reduce_degenerate(nl: Netlist) -> Netlist:
    """``nl`` with open inductors replaced by their mutual voltage, capacitors fixed by voltage sources
    dropped and series inductors merged (module docstring); the same object when there is nothing to
    reduce. Node names and order are kept (internal nodes of the open inductors' VCVS chains follow)."""
    opened = nl.open_inductors() if len(nl.tables["L"]) else {}
    if not opened:
        return _reduce_shapes(nl)
    base, chain, conflicts = _drop_open(nl, opened)
    new = _reduce_shapes(base)  # base is a new netlist: extending it (or its reduction) is safe
    new.uic_conflicts = conflicts + list(getattr(new, "uic_conflicts", []))
    names, nodes, gains = [], [], []
    for name, p, q, cp, cq, gain in chain:
        names.append(name)
        nodes.append([new.node(x) if isinstance(x, str) else x for x in (p, q, cp, cq)])
        gains.append(gain)
    new.add_elements("E", names, np.array(nodes, np.int64), gains)
    return new


def _drop_open(nl: Netlist, opened: dict):
    """(``nl`` without the open inductors and their couplings, the VCVS chain that keeps each one's
    voltage, uic conflicts). An open inductor o carries no current, so v_o = sum_j M_oj di_j/dt over
    the inductors c that do (di_o/dt = 0), and those obey v_c = M_cc di_c/dt: v_o = (M_oc M_cc^-1) v_c,
    an algebraic function of the carrying inductors' voltages V_pc - V_qc (0 without coupling: the
    open end sits at the other end's voltage). One VCVS per nonzero term, in series through internal
    nodes, sets V_p - V_q of the open inductor; it carries no current (the open end reaches only
    elements that carry none)."""
    t = nl.tables
    o = sorted(opened)
    c = [r for r in range(len(t["L"])) if r not in opened]
    G = np.zeros((len(o), len(c)))
    if len(t["K"]) and np.any(t["K"].values != 0):
        M = inductance_matrix(nl)  # the whole set must be positive definite (ngspice: ind/muttemp.c)
        if c:
            G = np.linalg.solve(M[np.ix_(c, c)], M[np.ix_(c, o)]).T  # M_oc M_cc^-1 (M_cc symmetric)
    chain, conflicts = [], []
    taken = {nm.lower() for nm in nl.node_names}
    for a, r in enumerate(o):
        nm = t["L"].names[r]
        p, q = (int(x) for x in t["L"].nodes[r])
        terms = [(float(G[a, b]), int(t["L"].nodes[cr, 0]), int(t["L"].nodes[cr, 1]))
                 for b, cr in enumerate(c) if G[a, b] != 0]
        if not terms:  # V_p = V_q: a unit-gain follower of the other end (a VCVS gain must be nonzero)
            chain.append((f"E.{nm}.open", opened[r][0], 0, opened[r][1], 0, 1.0))
        else:
            ends = [p]
            for k in range(1, len(terms)):
                mid = f"{nm}.open{k}"
                while mid.lower() in taken:
                    mid += "_"
                taken.add(mid.lower())
                ends.append(mid)
            ends.append(q)
            chain += [(f"E.{nm}.open" + (f"{k}" if k else ""), ends[k], ends[k + 1], cp, cq, g)
                      for k, (g, cp, cq) in enumerate(terms)]
        if float(t["L"].ic[r]) != 0:
            conflicts.append(f"inductor {nm!r} reaches nothing that carries current (node "
                             f"{nl.node_names[opened[r][0]]!r}): with uic it starts at {float(t['L'].ic[r]):.6g} A "
                             "(its IC=) but carries none; SPICE would stop it at once (an impulse of voltage), which "
                             "the twin does not: give it IC=0 or start from the operating point (no uic)")
    gone = set(o)
    keep = {"L": np.array([r not in gone for r in range(len(t["L"]))], bool)}
    if len(t["K"]):
        keep["K"] = np.array([a not in gone and b not in gone for a, b in nl.ref_rows("K")], bool)
    base = nl.select(keep)
    for attr in ("uic_conflicts", "dc_only_sources"):
        if hasattr(nl, attr):
            setattr(base, attr, getattr(nl, attr))
    return base, chain, conflicts


def _reduce_shapes(nl: Netlist) -> Netlist:
    """Capacitors fixed by voltage sources dropped and series inductors merged."""
    fixed = _fixed_capacitors(nl)
    cut, forced = _cutset_nodes(nl)
    if not fixed and not cut and not forced:
        return nl
    t = nl.tables
    L_nodes = t["L"].nodes.copy()
    L_vals = t["L"].values.astype(float).copy()
    L_ic = t["L"].ic.astype(float).copy()
    alive = np.ones(len(L_vals), bool)
    coupled = {r for rows, k in zip(nl.ref_rows("K") if len(t["K"]) else [], t["K"].values) if k != 0 for r in rows}
    conflicts: list = []  # uic starts the twin cannot follow (initial_state refuses them)
    dc_only: list = []  # (source, why): sources whose time derivative the reduction drops (exact at DC only)
    extra_v = []  # (name, p, q): inductors whose current DC current sources force become 0 V shorts
    for r, m in forced.items():
        if r in coupled or any(r in rows for rows in cut.values()):
            raise NetlistError(f"inductor {t['L'].names[r]!r} is in series with a current source (node "
                               f"{nl.node_names[m]!r}) and coupled or in series with another inductor: not reduced; "
                               "add a resistor from the node to ground")
        net = float(sum(v * (int(q == m) - int(p == m)) for (p, q), v in zip(t["I"].nodes, t["I"].values)))  # into m
        i_forced = net if L_nodes[r, 0] == m else -net  # i_L flows from its first node to its second
        if abs(L_ic[r] - i_forced) > 1e-9 * max(abs(i_forced), 1e-300):
            conflicts.append(f"inductor {t['L'].names[r]!r} is in series with current sources (node "
                             f"{nl.node_names[m]!r}): with uic it starts at {L_ic[r]:.6g} A (its IC=, 0 when absent) "
                             f"but carries their {i_forced:.6g} A; SPICE would apply the step at once (an impulse "
                             f"of voltage), which the twin does not: give it IC={i_forced:.6g} or start from the "
                             "operating point (no uic)")
        alive[r] = False
        extra_v.append((f"V.{t['L'].names[r]}.forced", int(L_nodes[r, 0]), int(L_nodes[r, 1])))
        dc_only += [(str(nm), f"it sets the current of inductor {t['L'].names[r]!r} in series with it")
                    for nm, (p, q) in zip(t["I"].names, t["I"].nodes) if m in (p, q)]
    extra_e = []  # (name, p, q, cp, cq, gain)
    for m in sorted(cut):
        rows = [r for r in np.flatnonzero(alive & np.any(L_nodes == m, axis=1))]
        if len(rows) != 2:  # pragma: no cover - a merge keeps two inductors per middle node
            continue
        r1, r2 = (int(r) for r in rows)
        for r in (r1, r2):
            if r in coupled:
                raise NetlistError(f"inductor {t['L'].names[r]!r} is in series with another inductor (node "
                                   f"{nl.node_names[m]!r}) and coupled by K: merging coupled series inductors "
                                   "is not supported; add a resistor from the node to ground")
        # orient both from a through m to b: current i flows a -> m -> b
        s1 = 1.0 if L_nodes[r1, 1] == m else -1.0
        a = int(L_nodes[r1, 0] if s1 > 0 else L_nodes[r1, 1])
        s2 = 1.0 if L_nodes[r2, 0] == m else -1.0
        b = int(L_nodes[r2, 1] if s2 > 0 else L_nodes[r2, 0])
        i1, i2 = s1 * L_ic[r1], s2 * L_ic[r2]
        if i1 != 0 and i2 != 0 and abs(i1 - i2) > 1e-9 * max(abs(i1), abs(i2)):
            raise NetlistError(f"inductors {t['L'].names[r1]!r} and {t['L'].names[r2]!r} are in series (node "
                               f"{nl.node_names[m]!r}) but their initial currents differ ({i1:.6g} A, {i2:.6g} A)")
        l1, l2 = L_vals[r1], L_vals[r2]
        extra_e.append((f"E.{t['L'].names[r2]}.series", m, b, a, b, l2 / (l1 + l2)))
        L_nodes[r1] = (a, b) if s1 > 0 else (b, a)  # keeps r1's orientation (its state's sign)
        L_vals[r1] = l1 + l2
        L_ic[r1] = s1 * (i1 if i1 != 0 else i2)
        alive[r2] = False
        if a == b:
            raise NetlistError(f"inductors {t['L'].names[r1]!r} and {t['L'].names[r2]!r} in series form a loop "
                               f"through node {nl.node_names[m]!r} alone")
    keep_c = np.ones(len(t["C"]), bool)
    keep_c[list(fixed)] = False
    # a k = 0 coupling couples nothing; it may name an inductor merged away
    new = nl.select({"C": keep_c, "L": alive, "K": t["K"].values != 0}, {"L": (L_nodes, L_vals, L_ic)})
    if extra_v:  # at DC a forced inductor holds no voltage (L di/dt = 0): a 0 V short carries the current
        new.add_elements("V", [e[0] for e in extra_v], np.array([e[1:] for e in extra_v], np.int64),
                         np.zeros(len(extra_v)))
    new.uic_conflicts = conflicts
    new.dc_only_sources = dc_only
    if extra_e:
        new.add_elements("E", [e[0] for e in extra_e], np.array([e[1:5] for e in extra_e], np.int64),
                         [e[5] for e in extra_e])
    return new
