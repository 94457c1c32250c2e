"""DC operating point of a netlist, and the state a transient starts from (SPICE's semantics).

The operating point is SPICE's ``.op``: the resistive network with every capacitor open and every
inductor a short (a 0 V source whose branch current is the inductor current). For the compiled SDE
dx/dt = F x + B u it is the stationary mean, F x + B u = 0 (dv_C/dt = i_C / C = 0: capacitors carry
no current; di_L/dt = v_L / L = 0: inductors hold no voltage), but it is solved on the MNA system
directly, so it also exists when F is singular for reasons that do not matter at DC, and so that
SPICE's ``.ic`` forcing can be added as it is in ngspice.

Start of a transient (:func:`initial_state`), as ngspice 39 does it (``cktload.c``):

* ``.tran ... uic``: no operating point; capacitors start from their ``IC=`` (else the ``.ic``
  node voltages across them, else 0) and inductors from their ``IC=`` (else 0). That is the
  compiled ``StateSpace.x0`` (the reader folds ``.ic`` into capacitors without ``IC=``).
* ``.tran`` without ``uic``: the operating point, with every ``.ic v(n)=x`` node held at x during
  it (ngspice replaces the node's KCL row by v_n = x, or adds a 1e10 S conductance to a source of
  x when a branch current - a voltage source, inductor or op-amp output - enters the row; both are
  done here). Device ``IC=`` is ignored.
* ``.nodeset`` is an initial guess of ngspice's Newton iteration: on a linear circuit it changes
  nothing, and is accepted and ignored.
* no ``.tran`` card (``spu simulate --time``): the netlist's initial conditions, as with ``uic``
  (the behaviour of every netlist spucircuit writes, which all carry ``uic``).

A circuit whose operating point is not unique (a loop of inductors and voltage sources: its
circulating current is arbitrary; an ideal integrator: F = 0) or does not exist raises a
:class:`~spucircuit.errors.NetlistError` naming the elements involved.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from spucircuit.circuit.netlist import Netlist
from spucircuit.circuit.source_lines import locating
from spucircuit.errors import NetlistError
from spucircuit.statespace.mna import name_unknowns, stamp_controlled
from spucircuit.statespace.model import StateSpace

__all__ = ["OperatingPoint", "operating_point", "initial_state", "spice_uic"]

IC_CONDUCTANCE_S = 1e10  # ngspice's .ic forcing conductance when a branch current enters the node row
_DENSE_FALLBACK_MAX = 3000  # unknowns: SVD of a singular system (naming its null space) up to this size


@dataclass
class OperatingPoint:
    """DC solution: node voltages (V), branch currents (A, SPICE's sign: positive from the + terminal
    through the element to the - terminal) of voltage sources, inductors, op-amp outputs (the current the
    op-amp drives into its output node), VCVS and CCVS."""

    node_names: list
    node_voltages_v: np.ndarray
    branch_names: list
    branch_currents_a: np.ndarray
    netlist: Netlist

    def voltage(self, node: str) -> float:
        i = self.netlist.node_index(node)
        return 0.0 if i == 0 else float(self.node_voltages_v[i - 1])

    def current(self, name: str) -> float:
        low = str(name).lower()
        for nm, i in zip(self.branch_names, self.branch_currents_a):
            if nm.lower() == low:
                return float(i)
        raise NetlistError(f"no branch current of {name!r}; the operating point has {self.branch_names}")

    def states(self, state_names) -> np.ndarray:
        """State vector in the order of ``state_names`` ('v(C1)': V_p - V_q of a capacitor,
        'i(L1)': an inductor's current)."""
        V = np.concatenate([[0.0], self.node_voltages_v])
        out = np.zeros(len(state_names))
        for k, s in enumerate(state_names):
            what, name = s[0], s[2:-1]
            kind, row = self.netlist.find(name)
            if what == "v" and kind == "C":
                p, q = self.netlist.tables["C"].nodes[row]
                out[k] = V[p] - V[q]
            elif what == "i" and kind == "L":
                out[k] = self.current(name)
            else:  # pragma: no cover - every compiler names states this way
                raise NetlistError(f"state {s!r} is neither a capacitor voltage nor an inductor current")
        return out


def _nd(a):
    return np.asarray(a, dtype=np.int64).reshape(-1) - 1  # node index -> MNA row (ground -> -1)


@locating
def operating_point(netlist: Netlist, forced: dict | None = None, inputs: dict | None = None) -> OperatingPoint:
    """The DC operating point of ``netlist`` (capacitors open, inductors shorted).

    ``forced``: {node name: V} held during the solve (ngspice's ``.ic`` without ``uic``).
    ``inputs``: {source name: level} overriding the netlist's DC source values (a StateSpace's
    ``inputs`` after ``set_input``).
    """
    if not isinstance(netlist, Netlist):
        raise NetlistError(f"operating_point needs a Netlist, got {type(netlist).__name__}")
    t = netlist.tables
    N = netlist.n_nodes
    low_inputs = {str(k).lower(): float(v) for k, v in (inputs or {}).items()}

    def levels(kind):
        vals = t[kind].values.astype(float).copy()
        if low_inputs:
            for i, nm in enumerate(t[kind].names):
                vals[i] = low_inputs.get(nm.lower(), vals[i])
        return vals

    # unknowns: node voltages | branch currents of V sources, inductors, op-amp outputs
    branches = [("V", t["V"]), ("L", t["L"]), ("U", t["U"]), ("E", t["E"]), ("H", t["H"])]
    names, r0 = [], {}
    row = N
    for kind, tab in branches:
        r0[kind] = row
        names += list(tab.names)
        row += len(tab)
    dim = row
    rows, cols, vals = [], [], []
    rhs = np.zeros(dim)

    def stamp(r, c, v):
        r, c = np.asarray(r).reshape(-1), np.asarray(c).reshape(-1)
        v = np.broadcast_to(np.asarray(v, dtype=float), r.shape).reshape(-1)
        ok = (r >= 0) & (c >= 0)
        rows.append(r[ok]), cols.append(c[ok]), vals.append(v[ok])

    def inject(r, v):  # add v to rhs rows r (ground dropped)
        r = np.asarray(r).reshape(-1)
        v = np.broadcast_to(np.asarray(v, dtype=float), r.shape)
        ok = r >= 0
        np.add.at(rhs, r[ok], v[ok])

    if len(t["R"]):
        p, q = _nd(t["R"].nodes[:, 0]), _nd(t["R"].nodes[:, 1])
        g = 1.0 / t["R"].values
        stamp(p, p, g), stamp(q, q, g), stamp(p, q, -g), stamp(q, p, -g)
    if len(t["G"]):
        p, q, cp, cq = (_nd(t["G"].nodes[:, k]) for k in range(4))
        gm = t["G"].values
        stamp(p, cp, gm), stamp(p, cq, -gm), stamp(q, cp, -gm), stamp(q, cq, gm)
    for kind, value in (("V", levels("V")), ("L", np.zeros(len(t["L"])))):
        tab = t[kind]
        if len(tab):
            p, q = _nd(tab.nodes[:, 0]), _nd(tab.nodes[:, 1])
            br = r0[kind] + np.arange(len(tab))
            stamp(p, br, 1.0), stamp(q, br, -1.0), stamp(br, p, 1.0), stamp(br, q, -1.0)
            rhs[br] = value
    if len(t["U"]):
        out, inp, inn = (_nd(t["U"].nodes[:, k]) for k in range(3))
        br = r0["U"] + np.arange(len(t["U"]))
        a0 = t["U"].values
        stamp(out, br, -1.0)
        stamp(br, inp, -1.0), stamp(br, inn, 1.0)
        fin = np.isfinite(a0)
        if np.any(fin):
            stamp(br[fin], out[fin], 1.0 / a0[fin])
    stamp_controlled(netlist, stamp, _nd, r0["V"], r0["E"], r0["H"])
    if len(t["I"]):  # flows p -> q inside the source: drawn from p, injected into q
        p, q = _nd(t["I"].nodes[:, 0]), _nd(t["I"].nodes[:, 1])
        lev = levels("I")
        inject(p, -lev), inject(q, lev)
    K = sp.csr_matrix((np.concatenate(vals) if vals else np.zeros(0),
                       (np.concatenate(rows) if rows else np.zeros(0, np.int64),
                        np.concatenate(cols) if cols else np.zeros(0, np.int64))), shape=(dim, dim))
    if forced:  # ngspice's cktload.c: the node's non-current entries are zeroed (ZeroNoncurRow), then
        K = K.tolil()  # v_n = x (no branch current in the row) or 1e10 v_n + branch currents = 1e10 x
        for node, value in forced.items():
            i = netlist.node_index(node)
            if i == 0:
                raise NetlistError(".ic cannot set the ground node")
            r = i - 1
            keep = [(c, d) for c, d in zip(K.rows[r], K.data[r]) if c >= N]
            g = IC_CONDUCTANCE_S if keep else 1.0
            keep = sorted(keep + [(r, g)])
            K.rows[r], K.data[r] = [c for c, _ in keep], [d for _, d in keep]
            rhs[r] = g * float(value)
        K = K.tocsr()
    x = _solve(K, rhs, netlist, N, names)
    return OperatingPoint(list(netlist.node_names[1:]), x[:N].copy(), names, x[N:].copy(), netlist)


def _solve(K, rhs, netlist, N, names):
    import scipy.sparse.linalg as spla

    dim = K.shape[0]
    if dim == 0:
        return np.zeros(0)
    try:
        with np.errstate(all="ignore"):
            lu = spla.splu(K.tocsc(), permc_spec="COLAMD")
            x = lu.solve(rhs)
        if np.all(np.isfinite(x)):
            res = np.linalg.norm(K @ x - rhs)
            if res <= 1e-9 * (np.linalg.norm(rhs) + np.abs(K).max() * np.linalg.norm(x)) + 1e-300:
                return x
    except RuntimeError:
        pass
    if dim > _DENSE_FALLBACK_MAX:
        raise NetlistError(f"the DC operating point is undefined: the DC equations ({dim} unknowns) are singular "
                           "(a loop of inductors and voltage sources, a node with only capacitors and current "
                           "sources, or an op-amp without DC feedback)")
    A = K.toarray()
    U, s, Vt = np.linalg.svd(A)
    tol = s[0] * dim * np.finfo(float).eps * 16 if s.size and s[0] > 0 else 1e-300
    null = Vt[s <= tol]
    left = U[:, s <= tol]
    what = name_unknowns(null, netlist, N, names)
    if left.size and np.linalg.norm(left.T @ rhs) > 1e-9 * max(np.linalg.norm(rhs), 1e-300):
        raise NetlistError(f"the circuit has no DC operating point: the DC equations are singular and the sources "
                           f"drive them inconsistently (involved: {what}); e.g. an ideal integrator (a capacitor "
                           "in an op-amp's feedback with no DC path) with a DC input grows without bound - use "
                           "'.tran ... uic' to start from the given initial conditions")
    raise NetlistError(f"the DC operating point is not unique (involved: {what}): e.g. inductors in a loop with "
                       "voltage sources and no resistance carry an arbitrary circulating current, a capacitor "
                       "in an op-amp's feedback with no DC path holds an arbitrary charge; use '.tran ... uic' "
                       "(start from the given initial conditions) or add a DC path")


def spice_uic(netlist: Netlist) -> bool:
    """Whether a transient of ``netlist`` starts from its initial conditions (True: ``.tran ... uic``
    or no ``.tran`` card) or from its operating point (False: ``.tran`` without ``uic``)."""
    tran = netlist.meta.get("spice_file", {}).get("tran") if isinstance(netlist.meta.get("spice_file"), dict) else None
    return True if not tran else bool(tran.get("uic"))


@locating
def initial_state(ss, netlist: Netlist | None = None, uic: bool | None = None) -> np.ndarray:
    """The state a transient of ``ss`` starts from, with SPICE's semantics (module docstring).

    ``uic`` None: from the netlist's ``.tran`` card (:func:`spice_uic`). With ``uic`` the compiled
    initial conditions ``ss.x0``; without, the operating point with ``.ic`` nodes held, using the
    source levels ``ss.inputs``.
    """
    if not isinstance(ss, StateSpace):
        raise NetlistError(f"initial_state needs a StateSpace (compile_netlist(...)), got {type(ss).__name__}")
    netlist = netlist if netlist is not None else ss.netlist
    if netlist is None:
        raise NetlistError("initial_state needs the netlist the state space was compiled from")
    if uic is None:
        uic = spice_uic(netlist)
    if uic:
        for msg in getattr(ss, "ic_conflicts", []):  # an inconsistent start SPICE resolves by an impulse
            raise NetlistError(msg)
        return np.array(ss.x0, dtype=float, copy=True)
    info = netlist.meta.get("spice_file", {}) if isinstance(netlist.meta.get("spice_file"), dict) else {}
    op = operating_point(netlist, forced=info.get("ic") or None,
                         inputs=dict(zip(ss.input_names, np.asarray(ss.inputs, dtype=float))))
    return op.states(ss.state_names)
