"""Component values of a factored TNGD circuit (App. C) as arrays, and their netlist form.

:class:`FactoredComponents` holds every resistor, capacitor, source and op-amp gain of the three
resistor arrays J (m x N), H (block diagonal, b blocks of dz x dz) and J^T (N x m) as signed
conductances (the sign says which source node, direct or inverted, a resistor hangs on). The netlist
is an *export* of these arrays (:meth:`FactoredComponents.to_netlist`), and
:func:`components_from_netlist` reads them back from any such netlist by topology alone (node roles
and values), so a perturbation of the netlist reaches the simulation.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.linalg as sla

from spucircuit.circuit.netlist import Netlist
from spucircuit.errors import NetlistError, RealizabilityError
from spucircuit.numerics.signed_arrays import scan_array


# =====================================================================================
# component values
# =====================================================================================
def inv_gain(a):
    """1/A0 elementwise (0 for an ideal op-amp)."""
    a = np.asarray(a, dtype=float)
    return np.where(np.isinf(a), 0.0, 1.0 / np.where(np.isinf(a), 1.0, a))


@dataclass
class FactoredComponents:
    """Every component value of a factored circuit, as arrays (SI units).

    Signed conductances (S): a positive entry is a resistor 1/G from the direct node, a negative
    one a resistor 1/|G| from the inverted (buffer) node, 0 is open.

    G1 (m, N)        J array, into stage-1 summing nodes a_k, from x_j (+) / xn_j (-)
    G2 (b, dz, dz)   H array (block k of rows/columns k*dz ...), into c_k, from y_l (+) / yn_l (-)
    G3 (N, m)|None   J^T array, into integrator summing nodes s_i, from w_k (+) / wn_k (-);
                     None: the same values as g3_ratio * G1^T (one shared buffer)
    gf1, gf2 (m,)    stage feedback conductances (y_k -> a_k, w_k -> c_k)
    g_lambda (N,)    damping resistors x_i -> s_i (parallel to C)
    g_in, v_in (N,)  input resistors and DAC voltages (in_i -> s_i)
    c, ic (N,)       integrating capacitors (x_i -> s_i) and their initial voltages
    noise_psd (N,)   injected white current at s_i, one-sided PSD A^2/Hz
    bx_g, bx_f (N,)  inverting buffer of x_j: input (x_j -> bx_j) and feedback (xn_j -> bx_j), 0 = none
    by_g, by_f, bw_g, bw_f (m,)  the same for y_k and w_k
    gain_* :         op-amp open-loop gains (inf = ideal): int (N), bx (N), s1, by, s2, bw (m)
    """

    G1: np.ndarray
    G2: np.ndarray
    G3: np.ndarray | None
    g3_ratio: float
    gf1: np.ndarray
    gf2: np.ndarray
    g_lambda: np.ndarray
    g_in: np.ndarray
    v_in: np.ndarray
    c: np.ndarray
    ic: np.ndarray
    noise_psd: np.ndarray
    bx_g: np.ndarray
    bx_f: np.ndarray
    by_g: np.ndarray
    by_f: np.ndarray
    bw_g: np.ndarray
    bw_f: np.ndarray
    gain_int: np.ndarray
    gain_bx: np.ndarray
    gain_s1: np.ndarray
    gain_by: np.ndarray
    gain_s2: np.ndarray
    gain_bw: np.ndarray
    # cached scan_array(G1) (|G1| row / column sums, negative rows / columns); the arrays are treated as
    # immutable once built (perturbed() returns a copy and drops it)
    scan_cache: tuple | None = field(default=None, repr=False, compare=False)

    def scan_g1(self):
        if self.scan_cache is None:
            self.scan_cache = scan_array(np.ascontiguousarray(self.G1, dtype=np.float64))
        return self.scan_cache

    @property
    def n(self) -> int:
        return self.G1.shape[1]

    @property
    def m(self) -> int:
        return self.G1.shape[0]

    @property
    def b(self) -> int:
        return self.G2.shape[0]

    @property
    def dz(self) -> int:
        return self.G2.shape[1]

    def G3_array(self) -> np.ndarray:
        """The J^T array as an (N, m) array (materialised from G1 when shared)."""
        if self.G3 is not None:
            return self.G3
        return np.ascontiguousarray(self.G1.T) * self.g3_ratio

    def G2_dense(self) -> np.ndarray:
        """The H array as an (m, m) block-diagonal matrix (small m)."""
        return sla.block_diag(*self.G2) if self.b else np.zeros((0, 0))

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        N, m, b, dz = self.n, self.m, self.b, self.dz
        if b * dz != m or self.G2.shape != (b, dz, dz):
            raise NetlistError(f"H array shape {self.G2.shape} does not match m = {m}")
        if self.G3 is not None and self.G3.shape != (N, m):
            raise NetlistError(f"J^T array shape {self.G3.shape}, expected {(N, m)}")
        for nm, n_ in (("gf1", m), ("gf2", m), ("g_lambda", N), ("g_in", N), ("v_in", N), ("c", N),
                       ("ic", N), ("noise_psd", N), ("bx_g", N), ("bx_f", N), ("by_g", m), ("by_f", m),
                       ("bw_g", m), ("bw_f", m), ("gain_int", N), ("gain_bx", N), ("gain_s1", m),
                       ("gain_by", m), ("gain_s2", m), ("gain_bw", m)):
            a = getattr(self, nm)
            if a.shape != (n_,):
                raise NetlistError(f"{nm} has shape {a.shape}, expected ({n_},)")
        if np.any(self.c <= 0) or not np.all(np.isfinite(self.c)):
            raise NetlistError("every integrator needs a finite capacitance > 0")
        if np.any(self.gf1 <= 0) or np.any(self.gf2 <= 0):
            raise NetlistError("every stage needs a feedback resistor (finite, > 0)")
        for nm in ("gain_int", "gain_bx", "gain_s1", "gain_by", "gain_s2", "gain_bw"):
            if np.any(~(getattr(self, nm) > 0)):
                raise NetlistError(f"op-amp gains ({nm}) must be > 0")
        if np.any(self.noise_psd < 0):
            raise NetlistError("injected noise PSD must be >= 0")
        # a negative entry needs the inverting buffer of its column
        _, _, neg_w, neg_x = self.scan_g1()
        if self.G3 is not None:
            _, _, _, neg_w = scan_array(np.ascontiguousarray(self.G3, dtype=np.float64))
        neg_y = (self.G2 < 0).any(axis=1).reshape(m)
        for nm, need, g_, f_ in (("x", neg_x, self.bx_g, self.bx_f), ("y", neg_y, self.by_g, self.by_f),
                                 ("w", neg_w, self.bw_g, self.bw_f)):
            bad = need & ~((g_ > 0) & (f_ > 0))
            if np.any(bad):
                raise NetlistError(f"column {int(np.flatnonzero(bad)[0])} has negative entries but no "
                                   f"inverting buffer {nm}n{int(np.flatnonzero(bad)[0])}")

    # --------------------------------------------------------------- modelling
    def copy(self) -> "FactoredComponents":
        return replace(self, **{f: (None if getattr(self, f) is None else
                                    (getattr(self, f).copy() if isinstance(getattr(self, f), np.ndarray)
                                     else getattr(self, f)))
                                for f in self.__dataclass_fields__})

    def perturbed(self, sigma: float, rng) -> "FactoredComponents":
        """A copy with every resistor R -> R (1 + sigma z), z ~ N(0, 1) independent per resistor
        (the J^T array gets its own draws, so it is materialised). Draw order: G1 (row-major
        over all entries), G2, G3, gf1, gf2, g_lambda, g_in, bx_g, bx_f, by_g, by_f, bw_g, bw_f;
        open entries draw too (so the pattern does not depend on pruning). Done in row chunks:
        no temporary of the size of an array."""
        sigma = float(sigma)
        if not (np.isfinite(sigma) and sigma >= 0):
            raise RealizabilityError(f"tolerance sigma must be finite and >= 0, got {sigma!r}")
        rng = np.random.default_rng(rng)
        new = self.copy()
        new.scan_cache = None
        if new.G3 is None:
            new.G3 = self.G3_array()
            new.g3_ratio = 1.0

        def scale(a):
            flat = a.reshape(a.shape[0], -1)
            for r0 in range(0, flat.shape[0], 64):
                blk = flat[r0:r0 + 64]
                f = 1.0 + sigma * rng.standard_normal(blk.shape)
                if np.any(f <= 0):
                    raise RealizabilityError(f"tolerance sigma = {sigma} drew a non-positive resistance")
                blk /= f  # conductance = 1 / resistance
        for nm in ("G1", "G2", "G3"):
            scale(getattr(new, nm))
        for nm in ("gf1", "gf2", "g_lambda", "g_in", "bx_g", "bx_f", "by_g", "by_f", "bw_g", "bw_f"):
            scale(getattr(new, nm).reshape(-1, 1))
        return new

    def resistor_count(self) -> int:
        nz1 = int(np.count_nonzero(self.G1))
        nz3 = nz1 if self.G3 is None else int(np.count_nonzero(self.G3))
        return (nz1 + nz3 + int(np.count_nonzero(self.G2)) + self.m * 2
                + int(np.count_nonzero(self.g_lambda)) + self.n
                + int(np.count_nonzero(self.bx_g)) * 2 + int(np.count_nonzero(self.by_g)) * 2
                + int(np.count_nonzero(self.bw_g)) * 2)

    def component_counts(self) -> dict:
        nbx, nby, nbw = (int(np.count_nonzero(a)) for a in (self.bx_g, self.by_g, self.bw_g))
        return {"resistors": self.resistor_count(), "capacitors": self.n,
                "op_amps": self.n + 2 * self.m + nbx + nby + nbw, "integrators": self.n,
                "transimpedance_stages": 2 * self.m, "inverting_buffers": nbx + nby + nbw,
                "dc_sources": self.n, "noise_sources": int(np.count_nonzero(self.noise_psd)),
                "array_resistors": {"J": int(np.count_nonzero(self.G1)), "H": int(np.count_nonzero(self.G2)),
                                    "JT": int(np.count_nonzero(self.G1 if self.G3 is None else self.G3))}}

    # ----------------------------------------------------------------- netlist
    def to_netlist(self, title: str | None = None, meta: dict | None = None) -> Netlist:
        """The netlist of these components (bulk ``add_elements``; one Python object per node)."""
        self.validate()
        N, m, b, dz = self.n, self.m, self.b, self.dz
        nl = Netlist(title or f"factored TNGD circuit N={N} b={b} dz={dz} (spucircuit)")
        nd = nl.node

        def nodes(prefix, idx):
            return np.array([nd(f"{prefix}{i}") for i in idx], dtype=np.int64)

        ar = np.arange
        x, s, inn = nodes("x", ar(N)), nodes("s", ar(N)), nodes("in", ar(N))
        a_, y, c_, w = nodes("a", ar(m)), nodes("y", ar(m)), nodes("c", ar(m)), nodes("w", ar(m))
        buf = {}
        for nm, g_, src in (("x", self.bx_g, x), ("y", self.by_g, y), ("w", self.bw_g, w)):
            idx = np.flatnonzero(g_ > 0)
            inv = np.full(len(src), -1, np.int64)
            sm = np.full(len(src), -1, np.int64)
            inv[idx] = nodes(f"{nm}n", idx)
            sm[idx] = nodes(f"b{nm}", idx)
            buf[nm] = (idx, inv, sm)
        zN, zm = np.zeros(N, np.int64), np.zeros(m, np.int64)
        # op-amps (out, +, -)
        U_names, U_nodes, U_vals = [f"U{i}" for i in range(N)], [np.stack([x, zN, s], 1)], [self.gain_int]
        U_names += [f"UA{k}" for k in range(m)] + [f"UC{k}" for k in range(m)]
        U_nodes += [np.stack([y, zm, a_], 1), np.stack([w, zm, c_], 1)]
        U_vals += [self.gain_s1, self.gain_s2]
        for nm, gain in (("x", self.gain_bx), ("y", self.gain_by), ("w", self.gain_bw)):
            idx, inv, sm = buf[nm]
            U_names += [f"UB{nm.upper()}{j}" for j in idx]
            U_nodes.append(np.stack([inv[idx], np.zeros(len(idx), np.int64), sm[idx]], 1))
            U_vals.append(gain[idx])
        nl.add_elements("U", U_names, np.concatenate(U_nodes), np.concatenate(U_vals))
        nl.add_elements("C", [f"C{i}" for i in range(N)], np.stack([x, s], 1), self.c, self.ic)
        nl.add_elements("V", [f"VIN{i}" for i in range(N)], np.stack([inn, zN], 1), self.v_in)
        R_names, R_nodes, R_vals = [], [], []

        def addR(names, src, dst, g):
            R_names.extend(names)
            R_nodes.append(np.stack([src, dst], 1))
            R_vals.append(1.0 / np.abs(g))
        il = np.flatnonzero(self.g_lambda > 0)
        addR([f"RL{i}" for i in il], x[il], s[il], self.g_lambda[il])
        addR([f"RIN{i}" for i in range(N)], inn, s, self.g_in)
        addR([f"RFA{k}" for k in range(m)], y, a_, self.gf1)
        addR([f"RFC{k}" for k in range(m)], w, c_, self.gf2)
        for nm, g_, f_, src in (("X", self.bx_g, self.bx_f, x), ("Y", self.by_g, self.by_f, y),
                                ("W", self.bw_g, self.bw_f, w)):
            idx, inv, sm = buf[nm.lower()]
            addR([f"RG{nm}{j}" for j in idx], src[idx], sm[idx], g_[idx])
            addR([f"RF{nm}{j}" for j in idx], inv[idx], sm[idx], f_[idx])
        kk, jj = np.nonzero(self.G1)
        g = self.G1[kk, jj]
        addR([f"RJ{k}_{j}" for k, j in zip(kk, jj)], np.where(g > 0, x[jj], buf["x"][1][jj]), a_[kk], g)
        bb, rr, ll = np.nonzero(self.G2)
        g = self.G2[bb, rr, ll]
        kr, lc = bb * dz + rr, bb * dz + ll
        addR([f"RH{k}_{l}" for k, l in zip(kr, lc)], np.where(g > 0, y[lc], buf["y"][1][lc]), c_[kr], g)
        G3 = self.G3_array()
        ii, kk = np.nonzero(G3)
        g = G3[ii, kk]
        addR([f"RT{i}_{k}" for i, k in zip(ii, kk)], np.where(g > 0, w[kk], buf["w"][1][kk]), s[ii], g)
        nl.add_elements("R", R_names, np.concatenate(R_nodes), np.concatenate(R_vals))
        inj = np.flatnonzero(self.noise_psd > 0)
        if len(inj):
            nl.add_elements("N", [f"NS{i}" for i in inj], np.stack([np.zeros(len(inj), np.int64), s[inj]], 1),
                            self.noise_psd[inj])
        nl.meta["factored"] = {"N": N, "b": b, "dz": dz, **(meta or {})}
        return nl


_ROLES = ("gnd", "x", "xn", "s", "in", "bx", "a", "y", "yn", "by", "c", "w", "wn", "bw")
_RC = {r: i for i, r in enumerate(_ROLES)}
_ROLE_RE = re.compile(r"^(xn|x|s|in|bx|a|yn|y|by|c|wn|w|bw)(\d+)$", re.IGNORECASE)
_SUMMING = np.array([r in ("s", "a", "c", "bx", "by", "bw") for r in _ROLES])


def components_from_netlist(netlist: Netlist, b: int | None = None, dz: int | None = None) -> FactoredComponents:
    """Read a factored circuit's component values back from a netlist's tables.

    Only topology and values are used (node roles from the node names ``x<i> s<i> in<i> xn<j> bx<j>
    a<k> y<k> yn<k> by<k> c<k> w<k> wn<k> bw<k>``, then which resistor joins which nodes); element
    names are ignored, parallel resistors add. The H block size comes from ``netlist.meta`` or, if
    absent (e.g. after a SPICE round trip), the smallest block size consistent with the H resistors.
    Anything that is not part of the architecture raises :class:`NetlistError` naming it.
    """
    names = netlist.node_names
    role = np.zeros(len(names), np.int64)
    idx = np.zeros(len(names), np.int64)
    for i, nm in enumerate(names[1:], 1):
        mt = _ROLE_RE.match(nm)
        if not mt:
            raise NetlistError(f"node {nm!r} is not part of a factored circuit (expected x<i>, s<i>, a<k>, ...)")
        role[i] = _RC[mt.group(1).lower()]
        idx[i] = int(mt.group(2))

    def count(r):
        sel = idx[role == _RC[r]]
        if len(sel) and (len(np.unique(sel)) != len(sel) or sel.max() != len(sel) - 1):
            raise NetlistError(f"nodes {r}<i> must be numbered 0..n-1 without gaps")
        return len(sel)
    N, m = count("x"), count("a")
    for r, n_ in (("s", N), ("in", N), ("y", m), ("c", m), ("w", m)):
        if count(r) != n_:
            raise NetlistError(f"a factored circuit needs {n_} nodes {r}<i>, found {count(r)}")
    if N == 0 or m == 0:
        raise NetlistError("not a factored circuit: no x<i> or a<k> nodes")
    meta = netlist.meta.get("factored", {})
    b = meta.get("b") if b is None else b
    dz = meta.get("dz") if dz is None else dz
    t = netlist.tables
    f64 = np.float64
    G1p, G1n = np.zeros((m, N)), np.zeros((m, N))
    G2p, G2n = np.zeros((m, m)), np.zeros((m, m))
    G3p, G3n = np.zeros((N, m)), np.zeros((N, m))
    vec = {k: np.zeros(n_) for k, n_ in (("gf1", m), ("gf2", m), ("g_lambda", N), ("g_in", N), ("bx_g", N),
                                         ("bx_f", N), ("by_g", m), ("by_f", m), ("bw_g", m), ("bw_f", m))}
    if len(t["R"]):
        p, q = t["R"].nodes[:, 0], t["R"].nodes[:, 1]
        G = 1.0 / t["R"].values
        sp_, sq = _SUMMING[role[p]], _SUMMING[role[q]]
        bad = sp_ == sq
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise NetlistError(f"resistor {t['R'].names[i]!r} ({names[p[i]]} - {names[q[i]]}) must join one "
                               "summing node to one driven node")
        sn = np.where(sq, q, p)
        dn = np.where(sq, p, q)
        rs, rd, ks, kd = role[sn], role[dn], idx[sn], idx[dn]
        used = np.zeros(len(G), bool)

        def pick(r_src, r_sum, same=None):
            sel = np.isin(rd, [_RC[r] for r in r_src]) & (rs == _RC[r_sum])
            if same is not None:
                wrong = sel & (ks != kd)
                if np.any(wrong):
                    i = int(np.flatnonzero(wrong)[0])
                    raise NetlistError(f"resistor {t['R'].names[i]!r} joins {names[dn[i]]} to {names[sn[i]]}: "
                                       "not part of a factored circuit")
            used[sel] = True
            return sel
        for key, src, sm in (("g_lambda", "x", "s"), ("g_in", "in", "s"), ("gf1", "y", "a"), ("gf2", "w", "c"),
                             ("bx_g", "x", "bx"), ("bx_f", "xn", "bx"), ("by_g", "y", "by"),
                             ("by_f", "yn", "by"), ("bw_g", "w", "bw"), ("bw_f", "wn", "bw")):
            sel = pick([src], sm, same=True)
            np.add.at(vec[key], ks[sel], G[sel])
        for (Gp, Gn), srcs, sm in (((G1p, G1n), ("x", "xn"), "a"), ((G2p, G2n), ("y", "yn"), "c"),
                                   ((G3p, G3n), ("w", "wn"), "s")):
            sel = pick(srcs, sm)
            pos = sel & np.isin(rd, [_RC[srcs[0]]])
            neg = sel & np.isin(rd, [_RC[srcs[1]]])
            np.add.at(Gp, (ks[pos], kd[pos]), G[pos])
            np.add.at(Gn, (ks[neg], kd[neg]), G[neg])
        if not used.all():
            i = int(np.flatnonzero(~used)[0])
            raise NetlistError(f"resistor {t['R'].names[i]!r} ({names[p[i]]} - {names[q[i]]}) is not part of "
                               "a factored circuit")
    for nm_, (Gp, Gn) in (("J", (G1p, G1n)), ("H", (G2p, G2n)), ("J^T", (G3p, G3n))):
        both = (Gp > 0) & (Gn > 0)
        if np.any(both):
            k, j = np.argwhere(both)[0]
            raise NetlistError(f"{nm_} array entry ({k}, {j}) has resistors from both the direct and the "
                               "inverted node: not supported")
    G1, G2full, G3 = G1p - G1n, G2p - G2n, G3p - G3n
    # H blocks
    nzk, nzl = np.nonzero(G2full)
    if dz is None:
        dz = next(d for d in range(1, m + 1) if m % d == 0 and np.all(nzk // d == nzl // d))
        b = m // dz
    b, dz = int(b), int(dz)
    if b * dz != m or np.any(nzk // dz != nzl // dz):
        raise NetlistError(f"H resistors do not fit {b} diagonal blocks of size {dz}")
    G2 = np.stack([G2full[k * dz:(k + 1) * dz, k * dz:(k + 1) * dz] for k in range(b)])
    # op-amps: (out, +, -), + grounded, - on the summing node of the same index
    gains = {r: np.full(n_, np.nan) for r, n_ in (("x", N), ("xn", N), ("y", m), ("yn", m), ("w", m), ("wn", m))}
    summ = {"x": "s", "xn": "bx", "y": "a", "yn": "by", "w": "c", "wn": "bw"}
    for i, (o, ip, im) in enumerate(t["U"].nodes):
        r = _ROLES[role[o]]
        if r not in summ or ip != 0 or _ROLES[role[im]] != summ[r] or idx[im] != idx[o]:
            raise NetlistError(f"op-amp {t['U'].names[i]!r} is not a factored-circuit stage "
                               f"(out {names[o]}, + {names[ip]}, - {names[im]})")
        gains[r][idx[o]] = t["U"].values[i]
    for r, gg in gains.items():
        need = np.ones(len(gg), bool) if r in ("x", "y", "w") else \
            (vec[{"xn": "bx_g", "yn": "by_g", "wn": "bw_g"}[r]] > 0)
        miss = need & np.isnan(gg)
        if np.any(miss):
            raise NetlistError(f"node {r}{int(np.flatnonzero(miss)[0])} has no op-amp driving it")
        gains[r] = np.where(np.isnan(gg), np.inf, gg)
    c = np.zeros(N)
    ic = np.zeros(N)
    for i, (p_, q_) in enumerate(t["C"].nodes):
        if not (_ROLES[role[p_]] == "x" and _ROLES[role[q_]] == "s" and idx[p_] == idx[q_]):
            raise NetlistError(f"capacitor {t['C'].names[i]!r} is not an integrating capacitor x<i> - s<i>")
        c[idx[p_]] += t["C"].values[i]
        ic[idx[p_]] = t["C"].ic[i]
    v_in = np.zeros(N)
    for i, (p_, q_) in enumerate(t["V"].nodes):
        if not (_ROLES[role[p_]] == "in" and q_ == 0):
            raise NetlistError(f"voltage source {t['V'].names[i]!r} is not a DAC in<i> - 0")
        v_in[idx[p_]] = t["V"].values[i]
    psd = np.zeros(N)
    for i, (p_, q_) in enumerate(t["N"].nodes):
        other, sn_ = (p_, q_) if role[q_] == _RC["s"] else (q_, p_)
        if other != 0 or role[sn_] != _RC["s"]:
            raise NetlistError(f"noise source {t['N'].names[i]!r} must connect ground to a summing node s<i>")
        psd[idx[sn_]] += t["N"].values[i]
    for k in ("L", "G", "I"):
        if len(t[k]):
            raise NetlistError(f"element {t[k].names[0]!r}: kind {k} is not part of a factored circuit")
    comp = FactoredComponents(
        G1=G1.astype(f64), G2=G2, G3=G3, g3_ratio=1.0, gf1=vec["gf1"], gf2=vec["gf2"],
        g_lambda=vec["g_lambda"], g_in=vec["g_in"], v_in=v_in, c=c, ic=ic, noise_psd=psd,
        bx_g=vec["bx_g"], bx_f=vec["bx_f"], by_g=vec["by_g"], by_f=vec["by_f"], bw_g=vec["bw_g"],
        bw_f=vec["bw_f"], gain_int=gains["x"], gain_bx=gains["xn"], gain_s1=gains["y"],
        gain_by=gains["yn"], gain_s2=gains["w"], gain_bw=gains["wn"])
    comp.validate()
    return comp


def perturb_netlist_resistors(netlist: Netlist, sigma: float, rng) -> Netlist:
    """In place: every resistor R -> R (1 + sigma z), z ~ N(0, 1) (a fabrication tolerance)."""
    rng = np.random.default_rng(rng)
    tab = netlist.tables["R"]
    f = 1.0 + float(sigma) * rng.standard_normal(len(tab))
    if np.any(f <= 0):
        raise RealizabilityError(f"tolerance sigma = {sigma} drew a non-positive resistance")
    tab.set_values(slice(None), tab.values * f)
    return netlist
