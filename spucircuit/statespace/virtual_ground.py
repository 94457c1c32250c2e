"""Closed-form compile of ideal-op-amp networks (virtual ground), without the MNA solve.

An integrator array (the TNGD paper's App. C, :func:`~spucircuit.circuit.integrator_array.integrator_array`) has
~n^2 resistors on ~9n MNA unknowns: a dense system whose LU and n-right-hand-side solves cost
O(n^3) with a large constant (seconds at n = 1024). With ideal op-amps whose non-inverting input
is grounded, the same equations solve by inspection, from the component values:

* every inverting input ``s`` is a virtual ground, V(s) = 0, and draws no current;
* an op-amp whose output ``o`` and input ``s`` carry a capacitor C is an integrator: its state is
  the capacitor voltage v_C = V(p) - V(q), so V(o) = sigma v_C (sigma = +1 when p = o);
* KCL at s: sigma i_C + sum_r g_r V(far end of r) + J_s = 0 (J: injected current, noise or DC
  current sources), and C dv_C/dt = i_C;
* an op-amp without a capacitor is an amplifier (e.g. the unity inverting buffer): KCL at its
  input fixes its output, M V_amp = -(K_x x + K_u u + J_b), M the conductances from amplifier
  outputs into amplifier inputs (diagonal for buffers);
* voltage-source nodes (one terminal grounded) are known inputs; outputs and sources absorb any
  current injected into them.

The result is the same :class:`~spucircuit.statespace.model.StateSpace` the general compiler produces
(drift, inputs, Johnson-noise diffusion, readout map; checked against it in the tests), built in
O(number of resistors) plus one n x n_b x n product for the noise of the amplifier inputs.
Anything outside this pattern (finite gain, inductors, VCCS, capacitor loops, intermediate
resistive nodes, floating sources, ...) returns None and the general MNA compiler is used.
"""
from __future__ import annotations

import numba as nb
import numpy as np
import scipy.sparse as sp

from spucircuit.circuit.noise import noise_sources


@nb.njit(cache=True)
def _triplets(rp, rq, R, vg, node_state, node_amp, vcol, sigma, vsign):
    """One pass over the resistors: the current g V(far) each feeds into its virtual-ground end,
    as (virtual-ground row, column, g or +-g, kind 0 state / 1 amplifier / 2 source), O(resistors),
    nothing n x n.

    A resistor between two virtual grounds carries no signal current (both ends at 0 V), one with
    no virtual-ground end none that matters (op-amp outputs and sources absorb it): those only
    add noise. The far end is a state (integrator output, V = sigma v_C), an amplifier output, a
    source node (V = +-u) or a 0 V node (skipped).
    """
    m = rp.size
    kr = np.empty(m, np.int32)  # rows and columns index virtual grounds / states / sources: << 2^31
    kc = np.empty(m, np.int32)
    kv = np.empty(m)
    kk = np.empty(m, np.int8)
    cnt = 0
    for k in range(m):
        a = vg[rp[k]]
        b = vg[rq[k]]
        if (a >= 0) == (b >= 0):
            continue
        row = a if a >= 0 else b
        far = rq[k] if a >= 0 else rp[k]
        g = 1.0 / R[k]
        j = node_state[far]
        if j >= 0:
            col, kind, w = j, 0, g * sigma[j]
        else:
            j = node_amp[far]
            if j >= 0:
                col, kind, w = j, 1, g
            else:
                j = vcol[far]
                if j < 0:
                    continue  # a 0 V end
                col, kind, w = j, 2, g * vsign[j]
        kr[cnt] = row
        kc[cnt] = col
        kv[cnt] = w
        kk[cnt] = kind
        cnt += 1
    return kr[:cnt], kc[:cnt], kv[:cnt], kk[:cnt]


@nb.njit(cache=True)
def _accumulate(rp, rq, R, vg, node_state, node_amp, vcol, sigma, vsign, n, na, nu):
    """The dense compile's form of :func:`_triplets`: integrator rows (< n) summed into dense
    (n, .) arrays (the drift is dense anyway), in resistor order; the few amplifier rows returned as
    (row - n, col, value, kind) lists."""
    kr, kc, kv, kk = _triplets(rp, rq, R, vg, node_state, node_amp, vcol, sigma, vsign)
    Gx = np.zeros((n, n))
    Ga = np.zeros((n, na))
    Gu = np.zeros((n, nu))
    amp = kr >= n
    for t in range(kr.size):
        if amp[t]:
            continue
        if kk[t] == 0:
            Gx[kr[t], kc[t]] += kv[t]
        elif kk[t] == 1:
            Ga[kr[t], kc[t]] += kv[t]
        else:
            Gu[kr[t], kc[t]] += kv[t]
    return Gx, Ga, Gu, (kr[amp] - n, kc[amp], kv[amp], kk[amp])


@nb.njit(cache=True)
def _add_source_variance(nodes, S, vg, LSd):
    """LSd[vg of each end] += S / 2 for every source (nodes (m, 2), one-sided PSD S) with an end on
    a virtual ground, in one pass without m-long temporaries; returns how many sources have both
    ends on virtual grounds (their off-diagonal terms are added by the caller)."""
    both = 0
    for k in range(S.size):
        a = vg[nodes[k, 0]]
        b = vg[nodes[k, 1]]
        h = 0.5 * S[k]
        if a >= 0:
            LSd[a] += h
        if b >= 0:
            LSd[b] += h
        if a >= 0 and b >= 0:
            both += 1
    return both


@nb.njit(cache=True)
def _mirror_upper(C):
    """Copy the upper triangle of square C into its lower one, in place."""
    n = C.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            C[j, i] = C[i, j]


def _gram(W):
    """W W^T (n x n, exactly symmetric) by BLAS syrk: half the flops of a product (n^2 m, not
    2 n^2 m, for W n x m) and no second n x n temporary."""
    from scipy.linalg.blas import dsyrk

    if W.shape[1] == 0:
        return np.zeros((W.shape[0], W.shape[0]))
    C = dsyrk(1.0, np.ascontiguousarray(W).T, trans=1)  # a = W^T (Fortran view of C-ordered W): a^T a
    C = np.ascontiguousarray(C.T)  # the upper triangle of the Fortran result is the lower one of C.T
    _mirror_upper(C.T)
    return C


def _csr(r, c, v, shape):
    return sp.csr_matrix((np.asarray(v, float), (np.asarray(r, np.int64), np.asarray(c, np.int64))), shape=shape)


def compile_virtual_ground(netlist, temperature_k: float, noise: bool, sparse: bool = False):
    """(F, B, u, input_names, Q, state_names, x0, node_map) or None if the pattern does not hold.

    node_map = (Vx, Vu): sparse (N + 1, n) and (N + 1, n_u) with node voltages V = Vx x + Vu u
    (noise-free part; row 0 is ground).

    ``sparse``: F, B and Q come back as scipy.sparse matrices built in O(resistors) (no n x n
    array), and Q as the pair (Q, G) with G G^T = Q the noise factor: one column per virtual
    ground (the sources that end on one) and one per source joining two (a rank-one term each).
    """
    t = netlist.tables
    if len(t["L"]) or len(t["G"]) or len(t["E"]) or len(t["F"]) or len(t["H"]) or not len(t["U"]) or not len(t["C"]):
        return None
    N1 = netlist.n_nodes + 1
    U = t["U"]
    if not np.all(np.isinf(U.values) & (U.values > 0)):
        return None
    out, inp, inn = U.nodes[:, 0], U.nodes[:, 1], U.nodes[:, 2]
    if np.any(inp != 0) or np.any(inn == 0) or np.any(out == 0) or np.any(out == inn):
        return None
    role = np.zeros(N1, np.int64)  # 0 unknown, 1 ground, 2 virtual ground, 3 op-amp output, 4 source
    role[0] = 1
    if len(np.unique(out)) != len(out) or len(np.unique(inn)) != len(inn) or np.intersect1d(out, inn).size:
        return None
    role[inn] = 2
    role[out] = 3
    V = t["V"]
    vn = V.nodes
    if len(V):
        g0 = vn == 0
        if not np.all(g0.sum(axis=1) == 1):
            return None
        vnode = np.where(g0[:, 1], vn[:, 0], vn[:, 1])
        vsign = np.where(g0[:, 1], 1.0, -1.0)  # V(p) - V(q) = u
        if np.any(role[vnode] != 0) or len(np.unique(vnode)) != len(vnode):
            return None
        role[vnode] = 4
    if np.any(role[1:] == 0):
        return None  # an intermediate node: needs the general solve

    # integrators: each capacitor across one op-amp (output <-> inverting input)
    C = t["C"]
    opamp_of_out = np.full(N1, -1)
    opamp_of_out[out] = np.arange(len(out))
    opamp_of_in = np.full(N1, -1)
    opamp_of_in[inn] = np.arange(len(inn))
    cp, cq = C.nodes[:, 0], C.nodes[:, 1]
    k_fwd = np.where((opamp_of_out[cp] >= 0) & (opamp_of_out[cp] == opamp_of_in[cq]), opamp_of_out[cp], -1)
    k_rev = np.where((opamp_of_out[cq] >= 0) & (opamp_of_out[cq] == opamp_of_in[cp]), opamp_of_out[cq], -1)
    kop = np.maximum(k_fwd, k_rev)
    if np.any(kop < 0) or len(np.unique(kop)) != len(kop):
        return None
    sigma = np.where(k_fwd >= 0, 1.0, -1.0)
    n = len(C)
    nu_v, nu_i = len(V), len(t["I"])
    nu = nu_v + nu_i
    is_int = np.zeros(len(out), bool)
    is_int[kop] = True
    amps = np.flatnonzero(~is_int)
    na = len(amps)

    # virtual grounds: integrator inputs first (row = state), then amplifier inputs
    vg = np.full(N1, -1)
    vg[inn[kop]] = np.arange(n)
    vg[inn[amps]] = n + np.arange(na)
    nvg = n + na

    # node voltages of the "source side": V = X x + Uu u (+ amplifier outputs, below)
    node_state = np.full(N1, -1)
    node_state[out[kop]] = np.arange(n)
    node_amp = np.full(N1, -1)
    node_amp[out[amps]] = np.arange(na)

    # resistors: current g V(far) enters the virtual-ground end(s)
    R = t["R"]
    rp, rq = R.nodes[:, 0], R.nodes[:, 1]
    vcol = np.full(N1, -1)
    vsg = np.zeros(max(nu_v, 1))
    if nu_v:
        vcol[vnode] = np.arange(nu_v)
        vsg[:nu_v] = vsign
    if sparse:
        return _sparse_rest(netlist, temperature_k, noise, R, rp, rq, vg, node_state, node_amp, vcol, sigma, vsg,
                            n, na, nu, nu_v, nvg, C, V, out, kop, amps, vnode if nu_v else None,
                            vsign if nu_v else None, N1)
    Gx_i, Ga_i, Gu_i, amp = _accumulate(rp, rq, R.values, vg, node_state, node_amp, vcol, sigma,
                                        vsg, n, na, nu)
    (kr, kc, kv, kk) = amp  # amplifier-row entries; kk: 0 state, 1 amplifier, 2 source column
    Kx, Ma, Ku = (_csr(kr[kk == j], kc[kk == j], kv[kk == j], (na, w)) for j, w in ((0, n), (1, na), (2, nu)))
    Ma = Ma.tocsc()
    # DC current sources: I leaves p and enters q (injection into virtual grounds only matters)
    if nu_i:
        ip_, iq_ = t["I"].nodes[:, 0], t["I"].nodes[:, 1]
        for nodes, sgn in ((iq_, 1.0), (ip_, -1.0)):
            r_ = vg[nodes]
            for k in np.flatnonzero(r_ >= 0):
                if r_[k] < n:
                    Gu_i[r_[k], nu_v + k] += sgn
                else:
                    Ku = Ku + _csr([r_[k] - n], [nu_v + k], [sgn], (na, nu))

    # amplifiers: Ma V_amp + Kx x + Ku u + J_b = 0  ->  V_amp = Ax x + Au u + Aj J_b
    if na:
        d = Ma.diagonal()
        if Ma.nnz == np.count_nonzero(d) and np.all(d != 0):  # buffers: each output feeds back alone
            Minv = sp.diags(1.0 / d)
            Ax, Au, Aj = -(Minv @ Kx), -(Minv @ Ku), -Minv
        else:
            import scipy.sparse.linalg as spla

            try:
                lu = spla.splu(Ma)
            except RuntimeError:
                return None
            Ax = sp.csr_matrix(-lu.solve(Kx.toarray()))
            Au = sp.csr_matrix(-lu.solve(Ku.toarray())) if nu else sp.csr_matrix((na, 0))
            Aj = sp.csr_matrix(-lu.solve(np.eye(na)))
            if not (np.all(np.isfinite(Ax.data)) and np.all(np.isfinite(Aj.data))):
                return None
        Ax, Au, Aj = sp.csr_matrix(Ax), sp.csr_matrix(Au), sp.csr_matrix(Aj)
    # integrators: i_C = -sigma (Gx x + Ga V_amp + Gu u + J_s), dv/dt = i_C / C
    scale = -sigma / C.values  # (n,)
    Fm, Bm = Gx_i, Gu_i  # the n x n arrays are updated in place below: a dense compile's peak memory
    Tb = np.zeros((n, 0))
    if na:
        Fm += np.asarray((Ax.T @ Ga_i.T).T)  # Ga (n x na, dense) @ Ax (sparse)
        Bm = Bm + np.asarray((Au.T @ Ga_i.T).T)
        Tb = np.asarray((Aj.T @ Ga_i.T).T)  # response of the integrator KCL to injection at amplifier inputs
    del Ga_i, Gx_i
    Fm *= scale[:, None]
    F = Fm
    B = scale[:, None] * Bm

    # node-injection noise on the virtual grounds: Q = T L_S T^T, T = diag(scale) [I | Tb]
    Q = np.zeros((n, n))
    srcs = noise_sources(netlist, temperature_k, noise)
    if srcs:
        LSd = np.zeros(nvg)  # diagonal of L_S on the virtual grounds
        lr, lc, lv = [], [], []  # its off-diagonal part: sources joining two virtual grounds
        for nodes, S in srcs:
            # one-sided PSD S -> increment variance (S/2) dt (compiler docstring), on each virtual-ground end
            if not _add_source_variance(nodes, np.asarray(S, dtype=np.float64), vg, LSd):
                continue  # no source joins two virtual grounds
            a, b = vg[nodes[:, 0]], vg[nodes[:, 1]]
            h = 0.5 * S
            both = (a >= 0) & (b >= 0)
            if np.any(both):
                lr += [a[both], b[both]]
                lc += [b[both], a[both]]
                lv += [-h[both], -h[both]]
        if not lr:  # independent sources on every virtual ground: L_S diagonal, Q = W W^T + diagonal
            if na:
                Tb *= scale[:, None]
                Tb *= np.sqrt(LSd[n:])
                Q = _gram(Tb)
            else:
                Q = np.zeros((n, n))
            Q[np.diag_indices(n)] += scale * scale * LSd[:n]
        else:
            LS = _csr(np.concatenate(lr), np.concatenate(lc), np.concatenate(lv), (nvg, nvg)) + sp.diags(LSd)
            T = np.hstack([np.eye(n), Tb])
            Q = T @ (LS @ T.T)
            Q = scale[:, None] * Q * scale[None, :]
            Q = 0.5 * (Q + Q.T)

    # readout: node voltages (noise-free part)
    vr, vc, vv = [out[kop]], [np.arange(n)], [sigma]
    ur, uc, uv = [], [], []
    if nu_v:
        ur.append(vnode), uc.append(np.arange(nu_v)), uv.append(vsign)
    if na:
        Axc, Auc = Ax.tocoo(), Au.tocoo()
        vr.append(out[amps][Axc.row]), vc.append(Axc.col), vv.append(Axc.data)
        ur.append(out[amps][Auc.row]), uc.append(Auc.col), uv.append(Auc.data)
    Vx = _csr(np.concatenate(vr), np.concatenate(vc), np.concatenate(vv), (N1, n))
    Vu = (_csr(np.concatenate(ur), np.concatenate(uc), np.concatenate(uv), (N1, nu)) if ur
          else sp.csr_matrix((N1, nu)))
    u = np.concatenate([V.values, t["I"].values])
    names = [f"v({nm})" for nm in C.names]
    return F, B, u, list(V.names) + list(t["I"].names), Q, names, C.ic.copy(), (Vx, Vu)


def _sparse_rest(netlist, temperature_k, noise, R, rp, rq, vg, node_state, node_amp, vcol, sigma, vsg, n, na, nu,
                 nu_v, nvg, C, V, out, kop, amps, vnode, vsign, N1):
    """The rest of :func:`compile_virtual_ground` with ``sparse=True``: every matrix CSR."""
    r_, c_, v_, k_ = _triplets(rp, rq, R.values, vg, node_state, node_amp, vcol, sigma, vsg)
    I_ = r_ < n
    blocks = {}
    for kind, w in ((0, n), (1, na), (2, nu)):
        sel = I_ & (k_ == kind)
        blocks[("int", kind)] = _csr(r_[sel], c_[sel], v_[sel], (n, w))
        sel = ~I_ & (k_ == kind)
        blocks[("amp", kind)] = _csr(r_[sel] - n, c_[sel], v_[sel], (na, w))
    Gx, Ga, Gu = blocks[("int", 0)], blocks[("int", 1)], blocks[("int", 2)]
    Kx, Ma, Ku = blocks[("amp", 0)], blocks[("amp", 1)], blocks[("amp", 2)]
    nu_i = nu - nu_v
    if nu_i:  # DC current sources into virtual grounds
        ip_, iq_ = netlist.tables["I"].nodes[:, 0], netlist.tables["I"].nodes[:, 1]
        rows, cols, vals = [], [], []
        for nodes, sgn in ((iq_, 1.0), (ip_, -1.0)):
            rr = vg[nodes]
            ok = rr >= 0
            rows.append(rr[ok]), cols.append(nu_v + np.flatnonzero(ok)), vals.append(np.full(ok.sum(), sgn))
        rr, cc, vv = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
        Gu = Gu + _csr(rr[rr < n], cc[rr < n], vv[rr < n], (n, nu))
        Ku = Ku + _csr(rr[rr >= n] - n, cc[rr >= n], vv[rr >= n], (na, nu))
    if na:
        Ma = Ma.tocsc()
        d = Ma.diagonal()
        if Ma.nnz == np.count_nonzero(d) and np.all(d != 0):  # buffers: each output feeds back alone
            Minv = sp.diags(1.0 / d)
            Ax, Au, Aj = -(Minv @ Kx), -(Minv @ Ku), -Minv
        else:
            import scipy.sparse.linalg as spla

            try:
                lu = spla.splu(Ma)
            except RuntimeError:
                return None
            Ax = sp.csr_matrix(-lu.solve(Kx.toarray()))  # (na, n): amplifier networks are small here
            Au = sp.csr_matrix(-lu.solve(Ku.toarray())) if nu else sp.csr_matrix((na, 0))
            Aj = sp.csr_matrix(-lu.solve(np.eye(na)))
            if not (np.all(np.isfinite(Ax.data)) and np.all(np.isfinite(Aj.data))):
                return None
        Ax, Au, Aj = sp.csr_matrix(Ax), sp.csr_matrix(Au), sp.csr_matrix(Aj)
        Fm, Bm, Tb = Gx + Ga @ Ax, Gu + Ga @ Au, sp.csr_matrix(Ga @ Aj)
    else:
        Fm, Bm, Tb = Gx, Gu, sp.csr_matrix((n, 0))
    scale = -sigma / C.values
    S = sp.diags(scale)
    F, B = sp.csr_matrix(S @ Fm), sp.csr_matrix(S @ Bm)

    # noise factor: one column per virtual ground (sources with one virtual-ground end) and per
    # source joining two; G = diag(scale) [I | Tb] E,  Q = G G^T
    srcs = noise_sources(netlist, temperature_k, noise)
    cols = [sp.csr_matrix((nvg, 0))]
    if srcs:
        D1 = np.zeros(nvg)
        jr, jc, jv, m2 = [], [], [], 0
        for nodes, Sv in srcs:
            a, b = vg[nodes[:, 0]], vg[nodes[:, 1]]
            h = 0.5 * Sv
            both = (a >= 0) & (b >= 0)
            for r0 in (a, b):
                ok = (r0 >= 0) & ~both
                D1 += np.bincount(r0[ok], weights=h[ok], minlength=nvg)
            if np.any(both):
                k2 = np.flatnonzero(both)
                sq = np.sqrt(h[k2])
                col = m2 + np.arange(len(k2))
                jr += [a[k2], b[k2]]
                jc += [col, col]
                jv += [sq, -sq]
                m2 += len(k2)
        keep = np.flatnonzero(D1 > 0)
        cols = [_csr(keep, np.arange(len(keep)), np.sqrt(D1[keep]), (nvg, len(keep)))]
        if m2:
            cols.append(_csr(np.concatenate(jr), np.concatenate(jc), np.concatenate(jv), (nvg, m2)))
    E = sp.hstack(cols, format="csr")
    T = sp.hstack([sp.identity(n, format="csr"), Tb], format="csr")
    G = sp.csr_matrix(S @ (T @ E))
    G.eliminate_zeros()
    Q = sp.csr_matrix(G @ G.T)

    vr, vc, vv = [out[kop]], [np.arange(n)], [sigma]
    ur, uc, uv = [], [], []
    if nu_v:
        ur.append(vnode), uc.append(np.arange(nu_v)), uv.append(vsign)
    if na:
        Axc, Auc = Ax.tocoo(), Au.tocoo()
        vr.append(out[amps][Axc.row]), vc.append(Axc.col), vv.append(Axc.data)
        ur.append(out[amps][Auc.row]), uc.append(Auc.col), uv.append(Auc.data)
    Vx = _csr(np.concatenate(vr), np.concatenate(vc), np.concatenate(vv), (N1, n))
    Vu = (_csr(np.concatenate(ur), np.concatenate(uc), np.concatenate(uv), (N1, nu)) if ur
          else sp.csr_matrix((N1, nu)))
    u = np.concatenate([V.values, netlist.tables["I"].values])
    names = [f"v({nm})" for nm in C.names]
    return F, B, u, list(V.names) + list(netlist.tables["I"].names), (Q, G), names, C.ic.copy(), (Vx, Vu)
