"""Netlist -> linear stochastic state space, by modified nodal analysis (MNA).

The circuit is written as   dx/dt = F x + B u + w(t),   <w(t) w(s)^T> = Q delta(t - s),
with states x = [capacitor voltages (V); inductor currents (A)], inputs u = [DC voltage source
levels (V); DC current source levels (A)] and Q (state units^2 / s) built from the Johnson noise
of every resistor plus the explicit noise sources.

Method (the classic state-variable formulation): replace each capacitor by a voltage source of
value v_C and each inductor by a current source of value i_L; the remaining network is resistive
(resistors, VCCS, op-amps, sources) and one sparse MNA solve gives the capacitor currents and
inductor voltages as linear functions of (states, inputs, node current injections):

    K z = P_x x + P_u u + E j,        dv_C/dt = i_C / C,   di_L/dt = (V_p - V_q) / L.

All algebraic nodes (op-amp summing nodes, buffer outputs, ...) are thereby eliminated.
Only ``n_states`` adjoint solves with K^T are needed (W = O K^-1), never a dense inverse of K.

Noise: a white current source of one-sided PSD S (A^2/Hz) between nodes p, q has increments of
variance (S/2) dt, i.e. it adds (S/2) a a^T to the node-injection covariance, a = e_p - e_q.
Johnson noise of a resistor R at temperature T is S = 4 k_B T / R. Then Q = T_j L_S T_j^T with
T_j = D^-1 W E the state response to node injections. (An RC node gives Q = 2 k_B T / (R C^2)
and the Lyapunov variance Q / (2 / RC) = k_B T / C.)

Loops of capacitors (e.g. coupling capacitors between cells that each have a capacitor to ground,
the built SPU): replacing every capacitor by a voltage source would put a loop of voltage sources
into K (singular). The capacitors are therefore split into a spanning forest of the capacitor graph
(``tree``, in netlist order: the first capacitor that closes a loop is a ``link``). Tree capacitor
voltages are the states; a link's voltage is a fixed +-1 combination of them, v_K = P x_T (the
tree path between its terminals). Links enter the MNA solve as current injections i_K (like
inductors), and i_K = C_K P dx_T/dt closes the system:

    (I - W_K C_K P) dx/dt = F_0 x + B_0 u + T_0 j,

so F, B and T_j are those of the loop-free network premultiplied by E^-1, E = I - W_K C_K P. For
capacitor-only loops D E = C_T + P^T C_K P (restricted to the tree block): the nodal (Maxwell)
capacitance matrix, symmetric positive definite. A link capacitor's ``ic`` is implied by the tree
(0 means "implied"; a non-zero value that disagrees is an error). Voltage sources join the
forest first, so a capacitor closing a loop through sources and capacitors is a link too, with
v_K = P x_T + S u (S u constant for DC sources: it adds no term to E; a loop whose link starts, under
uic, away from P x0 + S u is refused by initial_state, as SPICE would redistribute the charge). A
capacitor across sources alone and inductors in series are reduced first
(:mod:`~spucircuit.statespace.index_reduction`), other inductor cut-sets refused naming the elements.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from spucircuit.circuit.netlist import Netlist
from spucircuit.circuit.noise import as_kelvin, noise_sources, warn_flicker_dropped
from spucircuit.circuit.source_lines import locating
from spucircuit.constants import T_ROOM
from spucircuit.errors import NetlistError
from spucircuit.statespace.index_reduction import reduce_degenerate
from spucircuit.statespace.inductance import inverse_inductance
from spucircuit.statespace.model import StateSpace
from spucircuit.statespace.operators import make_drift
from spucircuit.statespace.virtual_ground import compile_virtual_ground


class DenseLU:
    """LAPACK LU of an MNA matrix with SuperLU's ``solve(rhs, trans)`` interface.

    An integrator array has ~n^2 resistors on ~3n MNA unknowns: its matrix is far too dense for
    SuperLU, whose fill-in made the solves with n right-hand sides the bulk of programming
    (5.6 s of 7.7 s at n = 512, measured 2026-11-23); dense getrf/getrs take ~0.3 s there."""

    def __init__(self, K):
        import scipy.linalg as sla

        A = K.toarray()
        with np.errstate(all="ignore"):
            self._f = sla.lu_factor(A, check_finite=False)
        d = np.abs(np.diag(self._f[0]))
        if not np.all(np.isfinite(d)) or d.min(initial=np.inf) <= np.finfo(float).eps * max(d.max(initial=0.0), 1e-300):
            raise RuntimeError("Factor is exactly singular")

    def solve(self, rhs, trans="N"):
        import scipy.linalg as sla

        return sla.lu_solve(self._f, rhs, trans={"N": 0, "T": 1}[trans], check_finite=False)


_DENSE_LU_MAX_DIM = 8192  # dense factor <= 512 MB
_DENSE_LU_MIN_FILL = 0.02  # nnz / dim^2 above which LAPACK beats SuperLU on these matrices


FACTORIZATIONS = ("auto", "dense", "sparse")
_NAME_SINGULAR_MAX = 3000  # MNA unknowns: a singular system's null space is named (dense SVD) up to this size


def factorize(K, method: str = "auto"):
    """LU of an MNA matrix: SuperLU for sparse ones, dense LAPACK (:class:`DenseLU`) when the
    matrix is dense enough (integrator arrays); ``method`` 'dense' / 'sparse' forces one."""
    if method not in FACTORIZATIONS:
        raise NetlistError(f"factorization must be one of {FACTORIZATIONS}, got {method!r}")
    dim = K.shape[0]
    if method == "dense" or (method == "auto" and 256 <= dim <= _DENSE_LU_MAX_DIM
                             and K.nnz >= _DENSE_LU_MIN_FILL * dim * dim):
        return DenseLU(K)
    return spla.splu(K, permc_spec="COLAMD")


@locating
def compile_netlist(netlist: Netlist, temperature_k: float = T_ROOM, noise: bool = True,
                    validate: bool = True, fast: bool = True, factorization: str = "auto",
                    sparse: bool = False, noise_analysis: bool = False) -> StateSpace:
    """Compile a netlist into the linear SDE of its capacitor voltages and inductor currents.

    ``temperature_k`` sets the Johnson noise of every resistor (one-sided current PSD
    4 k_B T / R); ``noise=False`` removes all noise (Johnson and explicit sources).
    Networks of ideal op-amps with grounded non-inverting inputs (integrator arrays) are solved
    in closed form (:mod:`spucircuit.statespace.virtual_ground`, same result); ``fast=False`` forces the MNA solve,
    whose LU is chosen by ``factorization`` (:func:`factorize`). ``sparse=True`` keeps the closed-form
    compile sparse end to end (CSR drift, input matrix, diffusion and its factor G G^T = Q, sparse
    read-out maps: O(resistors), no n x n array); the MNA path is unchanged by it. With noise, resistors
    with flicker noise (a SPICE model's kf) get a :class:`~spucircuit.errors.NoiseModelWarning`: the SDE's
    noise is white. ``noise_analysis=True`` (the ``.noise`` analysis, which adds the flicker noise itself):
    no such warning, and the MNA compile keeps its node-injection map T_j (``injection_map``, n x nodes).
    """
    if not isinstance(netlist, Netlist):
        raise NetlistError(f"compile_netlist needs a Netlist (read_spice, integrator_array(...).netlist), "
                           f"got {type(netlist).__name__}")
    temperature_k = as_kelvin(temperature_k)
    if not (np.isfinite(temperature_k) and temperature_k >= 0):
        raise NetlistError(f"temperature must be finite and >= 0 K, got {temperature_k!r}")
    if validate:
        netlist.validate()
    if noise and temperature_k > 0 and not noise_analysis:  # the SDE's noise is white: name what it leaves out
        warn_flicker_dropped(netlist)
    if fast:
        res = compile_virtual_ground(netlist, temperature_k, noise, sparse=sparse)
        if res is not None:
            F, B, u, unames, Q, names, x0, node_map = res
            G = None
            if sparse:
                Q, G = Q
            _check_noise(Q, temperature_k)
            ss = StateSpace(drift=make_drift(F), input_matrix=B, inputs=u, input_names=unames,
                            diffusion=Q, state_names=names, x0=x0, temperature_k=float(temperature_k))
            ss.netlist, ss.node_map, ss.diffusion_factor = netlist, node_map, G
            return ss
    original, netlist = netlist, reduce_degenerate(netlist)  # C fixed by V sources, series L (same nodes)
    t = netlist.tables
    N = netlist.n_nodes
    nV, nC, nL, nU, nI = len(t["V"]), len(t["C"]), len(t["L"]), len(t["U"]), len(t["I"])
    nE, nH = len(t["E"]), len(t["H"])
    # a purely resistive circuit (no capacitor or inductor) compiles to zero states: its node
    # voltages are the algebraic v = Z u of node_voltage_map, at every time
    # capacitor loops: tree capacitors are states, links are derivative-coupled injections
    # voltage sources join the forest first: a capacitor closing a loop through them and other
    # capacitors is a link, v_K = P x_T + S u (S u: the sources on its loop, constant for DC sources)
    tree, Pk, Sk = _capacitor_tree(t["C"].nodes, t["V"].nodes) if nC else (np.zeros(0, bool), None, None)
    ct = np.flatnonzero(tree)  # tree capacitors (states), netlist order
    ck = np.flatnonzero(~tree)  # link capacitors
    cnodes, cvals = t["C"].nodes[ct], t["C"].values[ct]
    cnames = [t["C"].names[i] for i in ct]
    nK = len(ck)
    nC = len(ct)
    dim = N + nV + nC + nU + nE + nH
    rV, rC, rU = N, N + nV, N + nV + nC
    rE, rH = rU + nU, rU + nU + nE
    rows, cols, vals = [], [], []

    def stamp(r, c, v):
        r = np.asarray(r).reshape(-1)
        c = np.asarray(c).reshape(-1)
        v = np.broadcast_to(np.asarray(v, dtype=float), r.shape).reshape(-1)
        ok = (r >= 0) & (c >= 0)
        rows.append(r[ok])
        cols.append(c[ok])
        vals.append(v[ok])

    def nd(a):  # node index -> MNA row (ground -> -1, dropped by stamp)
        return np.asarray(a, dtype=np.int64) - 1

    if len(t["R"]):
        p, q = nd(t["R"].nodes[:, 0]), nd(t["R"].nodes[:, 1])
        g = 1.0 / t["R"].values
        stamp(p, p, g), stamp(q, q, g), stamp(p, q, -g), stamp(q, p, -g)
    if len(t["G"]):
        p, q, cp, cq = (nd(t["G"].nodes[:, k]) for k in range(4))
        gm = t["G"].values  # current gm (V_cp - V_cq) leaves p, enters q
        stamp(p, cp, gm), stamp(p, cq, -gm), stamp(q, cp, -gm), stamp(q, cq, gm)
    for tabnodes, r0 in ((t["V"].nodes, rV), (cnodes, rC)):
        if len(tabnodes):
            p, q = nd(tabnodes[:, 0]), nd(tabnodes[:, 1])
            br = r0 + np.arange(len(tabnodes))
            # branch current flows p -> q through the element: leaves p, enters q (KCL rows);
            # branch equation V_p - V_q = value.
            stamp(p, br, 1.0), stamp(q, br, -1.0), stamp(br, p, 1.0), stamp(br, q, -1.0)
    if nU:
        out, inp, inn = (nd(t["U"].nodes[:, k]) for k in range(3))
        br = rU + np.arange(nU)
        a0 = t["U"].values
        stamp(out, br, -1.0)  # the op-amp injects its output current into node out
        # ideal: V_inp - V_inn = 0;  finite gain A0: V_out / A0 - (V_inp - V_inn) = 0
        stamp(br, inp, -1.0), stamp(br, inn, 1.0)
        fin = np.isfinite(a0)
        if np.any(fin):
            stamp(br[fin], out[fin], 1.0 / a0[fin])
    stamp_controlled(netlist, stamp, nd, rV, rE, rH)
    K = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(dim, dim)
    )

    n = nC + nL
    # P_x: states into the right-hand side
    px_r, px_c, px_v = [rC + np.arange(nC)], [np.arange(nC)], [np.ones(nC)]
    if nL:
        p, q = nd(t["L"].nodes[:, 0]), nd(t["L"].nodes[:, 1])
        cl = nC + np.arange(nL)
        px_r += [p, q]
        px_c += [cl, cl]
        px_v += [-np.ones(nL), np.ones(nL)]  # i_L leaves p, enters q
    Px = _coo(px_r, px_c, px_v, (dim, n))
    # P_u: DC sources into the right-hand side
    pu_r, pu_c, pu_v = [rV + np.arange(nV)], [np.arange(nV)], [np.ones(nV)]
    if nI:
        p, q = nd(t["I"].nodes[:, 0]), nd(t["I"].nodes[:, 1])
        ci = nV + np.arange(nI)
        pu_r += [p, q]
        pu_c += [ci, ci]
        pu_v += [-np.ones(nI), np.ones(nI)]
    Pu = _coo(pu_r, pu_c, pu_v, (dim, nV + nI))
    if nK:  # link capacitor currents: leave p, enter q
        p, q = nd(t["C"].nodes[ck, 0]), nd(t["C"].nodes[ck, 1])
        PK = _coo([p, q], [np.arange(nK)] * 2, [-np.ones(nK), np.ones(nK)], (dim, nK))
    # O: outputs i_C and V_p - V_q of inductors
    o_r, o_c, o_v = [np.arange(nC)], [rC + np.arange(nC)], [np.ones(nC)]
    if nL:
        p, q = nd(t["L"].nodes[:, 0]), nd(t["L"].nodes[:, 1])
        rl = nC + np.arange(nL)
        o_r += [rl, rl]
        o_c += [p, q]
        o_v += [np.ones(nL), -np.ones(nL)]
    O = _coo(o_r, o_c, o_v, (n, dim))

    try:
        lu = factorize(K, factorization)
        Wt = lu.solve(O.T.toarray(), trans="T")  # (dim, n) = K^-T O^T
    except RuntimeError as exc:
        involved = ""
        if dim <= _NAME_SINGULAR_MAX:  # name what the singular equations leave undetermined (its null space)
            _, s, Vt = np.linalg.svd(K.toarray())
            null = Vt[s <= s[0] * dim * np.finfo(float).eps * 16]
            branches = (list(t["V"].names) + cnames + list(t["U"].names) + list(t["E"].names)
                        + list(t["H"].names))
            involved = f" (involved: {name_unknowns(null, netlist, N, branches)})" if null.size else ""
        raise NetlistError(
            "circuit equations are singular (" + str(exc) + ")" + involved + ": look for a loop of capacitors "
            "and voltage sources, a cut-set of inductors and current sources, an op-amp without "
            "feedback, or a node with no DC path to ground"
        ) from None
    W = Wt.T
    if not np.all(np.isfinite(W)):
        raise NetlistError("circuit equations are numerically singular (non-finite solution)")
    Minv = inverse_inductance(netlist)  # di_L/dt = M^-1 v_L (M diagonal unless K couples inductors)

    def dinv(X):  # rows of capacitor voltages / C, of inductor currents M^-1
        X = np.array(X, dtype=float)
        X[:nC] /= cvals[:, None]
        if nL:
            X[nC:] = Minv @ X[nC:]
        return X

    F = dinv((Px.T @ W.T).T)
    B = dinv((Pu.T @ W.T).T) if Pu.shape[1] else np.zeros((n, 0))
    Tj = dinv(W[:, :N])
    if nK:  # (I - W_K C_K P) dx/dt = F_0 x + B_0 u + T_0 j
        WK = dinv((PK.T @ W.T).T)  # (n, nK)
        Psel = np.zeros((nK, n))
        Psel[:, :nC] = Pk[:, ct]
        E = np.eye(n) - WK @ (t["C"].values[ck][:, None] * Psel)
        # the links' currents C_K (P dx_T/dt + S du/dt): the S du/dt part, B_1 du/dt (zero for DC sources)
        B1 = np.zeros((n, nV + nI))
        B1[:, :nV] = WK @ (t["C"].values[ck][:, None] * Sk)
        try:
            F, Tj = np.linalg.solve(E, F), np.linalg.solve(E, Tj)
            B = np.linalg.solve(E, B) if B.shape[1] else B
            B1 = np.linalg.solve(E, B1) if np.any(Sk) else None
        except np.linalg.LinAlgError:
            F = Tj = np.full(1, np.nan)
        if not (np.all(np.isfinite(F)) and np.all(np.isfinite(Tj))):
            raise NetlistError("circuit equations are singular: the capacitance matrix of the "
                               "capacitor loops is not invertible")

    # node-injection noise covariance L_S (per unit time)
    nr, nc_, nv = [], [], []
    for nodes, S in noise_sources(netlist, temperature_k, noise):
        p, q = nd(nodes[:, 0]), nd(nodes[:, 1])
        h = 0.5 * S  # one-sided PSD S -> increment variance (S/2) dt
        for r_, c_, s_ in ((p, p, 1), (q, q, 1), (p, q, -1), (q, p, -1)):
            ok = (r_ >= 0) & (c_ >= 0)
            nr.append(r_[ok]), nc_.append(c_[ok]), nv.append(s_ * h[ok])
    if nr:
        LS = sp.csr_matrix((np.concatenate(nv), (np.concatenate(nr), np.concatenate(nc_))), shape=(N, N))
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused just below
            Q = Tj @ (LS @ Tj.T)
            Q = 0.5 * (Q + Q.T)
    else:
        Q = np.zeros((n, n))
    _check_noise(Q, temperature_k)

    names = [f"v({nm})" for nm in cnames] + [f"i({nm})" for nm in t["L"].names]
    x0 = np.concatenate([t["C"].ic[ct], t["L"].ic])
    ic_conflicts = list(getattr(netlist, "uic_conflicts", []))  # from the index reduction
    if nK:  # a link's initial voltage is implied by the tree; a non-zero one must agree
        implied = Pk[:, ct] @ t["C"].ic[ct] + Sk @ t["V"].values
        given = t["C"].ic[ck]
        off = np.abs(given - implied) > 1e-9 * np.maximum(np.abs(given), 1e-12)
        bad = (given != 0) & off
        # a loop through voltage sources: under uic ngspice starts such a capacitor at its IC= (0 when
        # absent) and redistributes the charge at once; the twin does not, so initial_state(uic) refuses
        vloop = np.any(Sk != 0, axis=1) & off & ~bad
        ic_conflicts += [f"capacitor {t['C'].names[ck[i]]!r} closes a loop with voltage sources: with uic it starts at "
                         f"{given[i]:.6g} V (its IC=, 0 when absent) but the loop holds {implied[i]:.6g} V; SPICE "
                         "would redistribute the charge at once, which the twin does not: give it "
                         f"IC={implied[i]:.6g} or start from the operating point (no uic)" for i in np.flatnonzero(vloop)]
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise NetlistError(
                f"capacitor {t['C'].names[ck[i]]!r} closes a loop of capacitors: its initial voltage "
                f"{given[i]:.6g} V disagrees with the {implied[i]:.6g} V the loop implies (leave it 0)"
            )
    u = np.concatenate([t["V"].values, t["I"].values])
    ss = StateSpace(
        drift=make_drift(F), input_matrix=B, inputs=u,
        input_names=list(t["V"].names) + list(t["I"].names), diffusion=Q, state_names=names,
        x0=x0, temperature_k=float(temperature_k),
    )
    ss.netlist, ss.mna_factor, ss.mna_rhs = original, lu, (Px, Pu)
    ss.input_rate_matrix = B1 if nK else None
    if noise_analysis:
        ss.injection_map = (Tj, netlist)
    ss.ic_conflicts = ic_conflicts
    # sources whose du/dt the compile drops (a capacitor loop through a voltage source: i_K = C_K S du/dt;
    # an inductor forced by a current source): exact for DC levels, refused for a waveform (statespace.inputs)
    ss.dc_only_inputs = dict(getattr(netlist, "dc_only_sources", []))
    # (a source closing a capacitor loop: its C du/dt is B_1 du/dt, kept by the transient and .ac alike)
    return ss


def name_unknowns(null, netlist, N, names) -> str:
    """Elements and nodes whose value the null space ``null`` (k, dim) of an MNA matrix leaves undetermined
    (unknowns: N node voltages, then the branch currents ``names``)."""
    if null.size == 0:
        return "?"
    w = np.abs(null).max(axis=0)
    hit = np.flatnonzero(w > 1e-8 * w.max())
    nodes = [netlist.node_names[i + 1] for i in hit if i < N]
    elems = [names[i - N] for i in hit if i >= N]
    parts = []
    if elems:
        parts.append("branch currents of " + ", ".join(elems[:8]) + (" ..." if len(elems) > 8 else ""))
    if nodes:
        parts.append("voltages of nodes " + ", ".join(nodes[:8]) + (" ..." if len(nodes) > 8 else ""))
    return "; ".join(parts)


def stamp_controlled(netlist: Netlist, stamp, nd, rV: int, rE: int, rH: int) -> None:
    """MNA stamps of the controlled sources E, F, H (branch rows rE.., rH.. after the op-amps'; I(Vc)
    is the branch unknown rV + row of the controlling voltage source, into its + terminal)."""
    t = netlist.tables
    if len(t["E"]):  # V_p - V_q - A (V_cp - V_cq) = 0; its branch current flows p -> q inside
        p, q, cp, cq = (nd(t["E"].nodes[:, k]) for k in range(4))
        br = rE + np.arange(len(t["E"]))
        a = t["E"].values
        stamp(p, br, 1.0), stamp(q, br, -1.0), stamp(br, p, 1.0), stamp(br, q, -1.0)
        stamp(br, cp, -a), stamp(br, cq, a)
    if len(t["H"]):  # V_p - V_q - R I(Vc) = 0
        p, q = nd(t["H"].nodes[:, 0]), nd(t["H"].nodes[:, 1])
        br = rH + np.arange(len(t["H"]))
        vc = rV + np.array([r[0] for r in netlist.ref_rows("H")], dtype=np.int64)
        stamp(p, br, 1.0), stamp(q, br, -1.0), stamp(br, p, 1.0), stamp(br, q, -1.0)
        stamp(br, vc, -t["H"].values)
    if len(t["F"]):  # A I(Vc) leaves p, enters q
        p, q = nd(t["F"].nodes[:, 0]), nd(t["F"].nodes[:, 1])
        vc = rV + np.array([r[0] for r in netlist.ref_rows("F")], dtype=np.int64)
        stamp(p, vc, t["F"].values), stamp(q, vc, -t["F"].values)


def _check_noise(Q, temperature_k: float) -> None:
    """The noise covariance must be finite: a temperature or noise PSD so large that it overflows
    (temperature_k = 1e308) is refused here, not simulated into NaN."""
    q = Q.data if sp.issparse(Q) else np.asarray(Q)
    if not np.all(np.isfinite(q)):
        raise NetlistError(f"the noise covariance overflows the floating-point range (temperature {temperature_k:g} K, "
                           "component values and noise PSDs): check for extreme values")


def _capacitor_tree(cnodes: np.ndarray, vnodes: np.ndarray | None = None):
    """Split capacitors into a spanning forest of the capacitor graph and loop-closing links.

    Returns (tree mask, P, S) with P (n_links, n_capacitors) and S (n_links, n_vsources): the voltage
    of link k (V_p - V_q) is P[k] @ v + S[k] @ u over the tree capacitors v and the voltage sources u
    (entries +-1 along the tree path). Voltage sources (``vnodes``) join the forest first, so a
    capacitor that closes a loop through them is a link. Capacitors are taken in netlist order, so
    the first ones connected become states. P and S are None when there is no link.
    """
    m = len(cnodes)
    vnodes = np.zeros((0, 2), np.int64) if vnodes is None else vnodes
    nv = len(vnodes)
    parent = {}

    def find(a):
        root = a
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(a, a) != root:  # path compression
            parent[a], a = root, parent[a]
        return root

    vtree = np.zeros(nv, dtype=bool)
    for k in range(nv):  # a loop of sources alone is the MNA's singularity, not a link
        ra, rb = find(int(vnodes[k, 0])), find(int(vnodes[k, 1]))
        if ra != rb:
            parent[ra] = rb
            vtree[k] = True
    tree = np.ones(m, dtype=bool)
    for k in range(m):
        ra, rb = find(int(cnodes[k, 0])), find(int(cnodes[k, 1]))
        if ra == rb:
            tree[k] = False
        else:
            parent[ra] = rb
    if tree.all():
        return tree, None, None
    # root every tree component (at ground when it contains it) and walk up to express node
    # potentials relative to the root as +-1 combinations of tree capacitor voltages
    adj: dict[int, list] = {}
    edges = [(int(cnodes[k, 0]), int(cnodes[k, 1]), k) for k in np.flatnonzero(tree)]
    edges += [(int(vnodes[k, 0]), int(vnodes[k, 1]), m + k) for k in np.flatnonzero(vtree)]  # sources: m + k
    for a, b, k in edges:
        adj.setdefault(a, []).append((b, k, -1.0))  # V_b = V_a - v_k
        adj.setdefault(b, []).append((a, k, +1.0))  # V_a = V_b + v_k
    up: dict[int, tuple] = {}  # node -> (parent node, capacitor, sign): V_node = V_parent + sign v_k
    starts = ([0] if 0 in adj else []) + sorted(adj)
    for s in starts:
        if s in up:
            continue
        up[s] = (None, -1, 0.0)
        stack = [s]
        while stack:
            a = stack.pop()
            for b, k, sg in adj[a]:
                if b not in up:
                    up[b] = (a, k, sg)
                    stack.append(b)
    links = np.flatnonzero(~tree)
    PS = np.zeros((len(links), m + nv))
    for r, k in enumerate(links):
        for node, sign in ((int(cnodes[k, 0]), 1.0), (int(cnodes[k, 1]), -1.0)):
            while up[node][0] is not None:
                par, kk, sg = up[node]
                PS[r, kk] += sign * sg
                node = par
    return tree, PS[:, :m], PS[:, m:]


def _coo(r, c, v, shape):
    r = np.concatenate([np.asarray(a, dtype=np.int64) for a in r])
    c = np.concatenate([np.asarray(a, dtype=np.int64) for a in c])
    v = np.concatenate([np.asarray(a, dtype=float) for a in v])
    ok = (r >= 0) & (c >= 0)
    return sp.csr_matrix((v[ok], (r[ok], c[ok])), shape=shape)
