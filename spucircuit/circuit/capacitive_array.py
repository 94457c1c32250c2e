"""The built SPU (Melanson et al., physics.md 2c): capacitively coupled RLC unit cells.

Cell i is one node ``v<i>`` with an inductor ``L<i>``, a damping resistor ``R<i>``, a capacitor
``CG<i>`` (C_i,ground) and a white noise current source ``N<i>`` (one-sided PSD S_i, injected
from ground into the node), all to ground; every pair of cells is coupled by a capacitor
``CC<i>_<j>`` (C_ij). KCL with the Maxwell capacitance matrix

    C_ii = C_i,ground + sum_j C_ij,      C_ij(off-diagonal) = -C_ij,

gives  C dv/dt = -R^-1 v - i + j(t),  L di/dt = v,  <j_i j_k> = (S_i/2 + 2 k_B T / R_i) delta_ik
(Johnson noise of each R_i included). Stationary law (derived, physics.md 2c): when R_i S_i is
the same in every cell the law is Gibbs,

    cov(v) = theta C^-1,   cov(i) = theta L^-1,   cov(v, i) = 0,   theta = k_B T + R S / 4,

so Johnson noise alone (S = 0) is Gibbs at theta = k_B T for *any* R_i (thermal equilibrium),
while an equal injected noise with mismatched R_i is not (a first-order error, see the tests).

**Programming.** The circuit realises a dimensionless SPD matrix P as C = c_unit P (F):

* ``mode='inverse'`` (A^-1 from cov(v)): P = T A T;
* ``mode='sample'`` (samples of N(0, S)): P = T S^-1 T;

with T = diag(t) a diagonal rescaling (identity unless ``rescale=True``). The readout is
x = t * v / v_unit, v_unit = sqrt(theta / c_unit) (V per unit of x), and then cov(x) = A^-1
(inverse) or S (sample).

**Realisability.** Passive capacitors give C_ij >= 0 and C_i,ground >= 0: P must have
non-positive off-diagonal entries and be (weakly) diagonally dominant. Other matrices raise
:class:`~spucircuit.errors.RealizabilityError` naming the offending entries and rows and the
alternatives: a diagonal rescaling D M D (:func:`diagonal_rescaling`; it exists exactly when the
sign pattern of M is balanced, proof there) or the op-amp integrator array
(:func:`spucircuit.integrator_array`, any SPD matrix).

**Default component values** (chosen here, not from the paper; all overridable):
largest Maxwell diagonal C_ii = 10 nF (sets c_unit), L = 470 uH, R = 220 Ohm per cell: a cell of
4.7 nF resonates at 34 kHz with damping ratio zeta = sqrt(L/C) / (2R) = 0.72 (0.49 at 10 nF,
1.1 at 2 nF), so every mode of a well-conditioned matrix is close to critically damped. The
injected noise defaults to the PSD (equal in every cell, designed for the mean R) that makes
v_unit = 10 mV: the signals are millivolts, 10^4 x the 1 uV Johnson level of a nF node.
"""
from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from spucircuit.statespace.mna import compile_netlist
from spucircuit.constants import K_B, T_ROOM
from spucircuit.errors import MatrixError, RealizabilityError
from spucircuit.circuit.netlist import Netlist
from spucircuit.numerics.matrices import check_spd

C_DIAG_MAX_DEFAULT = 10e-9  # largest Maxwell diagonal capacitance, F (sets the default c_unit)
L_DEFAULT = 470e-6  # cell inductance, H
R_DEFAULT = 220.0  # cell damping resistance, Ohm
V_UNIT_DEFAULT = 10e-3  # default readout scale, V per unit of x (sets the default noise PSD)
ZERO_RTOL = 1e-10  # entries below this x max diag(P) are round-off of zeros (no capacitor)
MODES = ("inverse", "sample")


# ------------------------------------------------------------------ realisability
def _offdiag_graph(M: np.ndarray, zero_rtol: float):
    n = M.shape[0]
    scale = float(np.max(np.abs(np.diag(M)))) if n else 0.0
    nz = (np.abs(M) > zero_rtol * scale) & ~np.eye(n, dtype=bool)
    return nz, scale


def capacitive_realisability(M, *, zero_rtol: float = ZERO_RTOL, name: str = "M") -> dict:
    """Can C = c M be built from passive capacitors (C_ij >= 0, C_i,ground >= 0)?

    Returns a dict: ``realisable`` (bool), ``positive_offdiag`` [(i, j, M_ij)] (i < j),
    ``rows_not_dominant`` [(i, M_ii, sum_j |M_ij|)], ``ground_capacitance_rel`` (row sums of M),
    and ``rescalable`` (bool: a diagonal D with D M D realisable exists, see
    :func:`diagonal_rescaling`) with ``frustrated_cycle`` (node list) when it does not.
    Entries below ``zero_rtol`` x max diag(M) count as zero.
    """
    M = check_spd(M, name)
    nz, scale = _offdiag_graph(M, zero_rtol)
    pos = [(int(i), int(j), float(M[i, j])) for i, j in np.argwhere(nz & (M > 0)) if i < j]
    off = np.where(nz, np.abs(M), 0.0)
    offsum = off.sum(axis=1)
    rowsum = np.diag(M) - np.where(nz, -M, 0.0).sum(axis=1)  # ground capacitance if signs are right
    tol = zero_rtol * scale
    bad_rows = [(int(i), float(M[i, i]), float(offsum[i])) for i in np.flatnonzero(np.diag(M) - offsum < -tol)]
    _, cycle = _signature(M, nz)
    return {
        "realisable": not pos and not bad_rows,
        "positive_offdiag": pos,
        "rows_not_dominant": bad_rows,
        "ground_capacitance_rel": rowsum,
        "rescalable": cycle is None,
        "frustrated_cycle": cycle,
    }


def _signature(M: np.ndarray, nz: np.ndarray):
    """s in {+-1}^n with s_i s_j M_ij < 0 on every non-zero off-diagonal entry, or (None, cycle)
    with a cycle of the coupling graph along which that is impossible (odd number of positive
    entries: the signed graph is unbalanced)."""
    n = M.shape[0]
    s = np.zeros(n, dtype=int)
    parent = np.full(n, -1)
    for root in range(n):
        if s[root]:
            continue
        s[root] = 1
        queue = deque([root])
        while queue:
            a = queue.popleft()
            for b in np.flatnonzero(nz[a]):
                want = -s[a] if M[a, b] > 0 else s[a]
                if s[b] == 0:
                    s[b], parent[b] = want, a
                    queue.append(b)
                elif s[b] != want:  # frustrated: close the cycle through the BFS tree
                    pa, pb = [a], [b]
                    while parent[pa[-1]] >= 0:
                        pa.append(int(parent[pa[-1]]))
                    while parent[pb[-1]] >= 0:
                        pb.append(int(parent[pb[-1]]))
                    common = set(pa) & set(pb)
                    pa = pa[: next(k for k, x in enumerate(pa) if x in common) + 1]
                    pb = pb[: next(k for k, x in enumerate(pb) if x in common)]
                    return None, [int(x) for x in pa + pb[::-1]]
    return s, None


def diagonal_rescaling(M, *, zero_rtol: float = ZERO_RTOL, name: str = "M") -> np.ndarray:
    """Diagonal t (no zero entry) such that P = diag(t) M diag(t) is capacitor-realisable.

    Construction (exact, no LP): (1) a signature s in {+-1}^n with s_i s_j M_ij <= 0 for all
    i != j, found by breadth-first 2-colouring of the coupling graph; it exists iff every cycle
    carries an even number of positive entries (balanced sign pattern). (2) M' = S M S is then a
    symmetric positive definite Z-matrix, i.e. a non-singular M-matrix, so M'^-1 >= 0 entrywise
    with a positive diagonal and d = M'^-1 1 > 0. (3) t = s * d gives P = D M' D with row sums
    P 1 = D M' d = d > 0 and non-positive off-diagonals: strictly diagonally dominant,
    C_i,ground = c_unit d_i > 0. Conversely, if some D M D is realisable, sign(D) is such a
    signature. So a rescaling exists exactly when the sign pattern is balanced.

    t is normalised to max |t| = 1. Raises :class:`RealizabilityError` naming a frustrated
    cycle when no rescaling exists.
    """
    M = check_spd(M, name)
    nz, _ = _offdiag_graph(M, zero_rtol)
    s, cycle = _signature(M, nz)
    if s is None:
        raise RealizabilityError(_no_rescaling_msg(M, cycle, name))
    Mp = np.where(nz | np.eye(len(M), dtype=bool), M, 0.0) * np.outer(s, s)
    d = np.linalg.solve(Mp, np.ones(len(M)))
    if not np.all(d > 0):  # cannot happen for an SPD Z-matrix except through round-off
        raise RealizabilityError(
            f"{name} is too ill-conditioned for the rescaling: M'^-1 1 has a non-positive entry "
            f"({float(d.min()):.3g}); use spucircuit.integrator_array instead"
        )
    return s * d / d.max()


def _no_rescaling_msg(M, cycle, name) -> str:
    ring = cycle + [cycle[0]]
    edges = ", ".join(f"{name}[{a},{b}]={M[a, b]:+.3g}" for a, b in zip(ring[:-1], ring[1:]))
    return (
        f"no diagonal rescaling D {name} D is realisable by capacitors: the cycle "
        f"{'-'.join(map(str, ring))} has an odd number of positive off-diagonal entries ({edges}), "
        "so no choice of signs makes them all non-positive. Use the op-amp integrator array "
        "(spucircuit.integrator_array), which realises any SPD matrix."
    )


def _plural(k: int, one: str, many: str) -> str:
    return f"{k} {one if k == 1 else many}"


def _not_realisable_msg(rep: dict, name: str) -> str:
    parts = []
    pos = rep["positive_offdiag"]
    if pos:
        shown = ", ".join(f"{name}[{i},{j}]={v:.3g}" for i, j, v in pos[:8])
        more = f" and {len(pos) - 8} more" if len(pos) > 8 else ""
        parts.append(f"{_plural(len(pos), 'positive off-diagonal entry', 'positive off-diagonal entries')} "
                     f"would need negative coupling capacitors: {shown}{more}")
    rows = rep["rows_not_dominant"]
    if rows:
        shown = ", ".join(f"row {i} ({name}[{i},{i}]={d:.3g} < sum_j |{name}[{i},j]|={s:.3g})"
                          for i, d, s in rows[:8])
        more = f" and {len(rows) - 8} more" if len(rows) > 8 else ""
        parts.append(f"{_plural(len(rows), 'row is', 'rows are')} not diagonally dominant and would "
                     f"need a negative capacitance to ground: {shown}{more}")
    if rep["rescalable"]:
        alt = ("a diagonal rescaling D {0} D is realisable (pass rescale=True; the readout undoes "
               "it), or use the op-amp integrator array (spucircuit.integrator_array)").format(name)
    else:
        cyc = "-".join(map(str, rep["frustrated_cycle"] + rep["frustrated_cycle"][:1]))
        alt = (f"no diagonal rescaling helps (the cycle {cyc} has an odd number of positive "
               "entries); use the op-amp integrator array (spucircuit.integrator_array), which "
               "realises any SPD matrix")
    return (f"{name} cannot be realised by passive coupling capacitors (needs non-positive "
            f"off-diagonals and diagonal dominance): " + "; ".join(parts) + f". Alternatives: {alt}.")


# ----------------------------------------------------------------------- circuit
@dataclass
class CapacitiveCircuit:
    """A capacitively coupled RLC cell array with the scales that map node volts to x (SI)."""

    netlist: Netlist
    mode: str  # 'inverse' or 'sample'
    target: np.ndarray  # A (inverse) or S (sample) as given
    programmed: np.ndarray  # P realised (dimensionless), C = c_unit P
    rescaling: np.ndarray  # t: P = diag(t) M diag(t), M = A or S^-1
    c_unit_f: float  # F per unit of P
    inductance_h: np.ndarray  # (n,)
    resistance_ohm: np.ndarray  # (n,)
    noise_psd_a2_hz: np.ndarray  # (n,) injected one-sided PSD per cell
    temperature_k: float
    nodes: list  # cell node names, v0..v{n-1}
    dropped_rel: float = 0.0  # largest |entry| of P left out as round-off, relative to max diag
    _dyn: dict = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return self.programmed.shape[0]

    @property
    def capacitance_matrix(self) -> np.ndarray:
        """Maxwell capacitance matrix C (F)."""
        return self.c_unit_f * self.programmed

    @property
    def c_ground_f(self) -> np.ndarray:
        return self.capacitance_matrix.sum(axis=1)

    @property
    def c_coupling_f(self) -> np.ndarray:
        """Coupling capacitances C_ij >= 0 (F), symmetric, zero diagonal."""
        C = -self.capacitance_matrix
        np.fill_diagonal(C, 0.0)
        return C

    @property
    def theta_j(self) -> np.ndarray:
        """Per-cell noise energy k_B T + R_i S_i / 4 (J); the law is Gibbs when all are equal."""
        return K_B * self.temperature_k + self.resistance_ohm * self.noise_psd_a2_hz / 4.0

    @property
    def theta(self) -> float:
        """Noise energy used by the readout (J): the mean of :attr:`theta_j`."""
        return float(np.mean(self.theta_j))

    @property
    def gibbs(self) -> bool:
        """True when R_i S_i (Johnson included) is equal in all cells: cov(v) = theta C^-1 exactly."""
        th = self.theta_j
        return bool(np.ptp(th) <= 1e-12 * th.mean())

    @property
    def v_unit_v(self) -> float:
        """Volts per unit of x before the rescaling: v_unit = sqrt(theta / c_unit)."""
        return float(np.sqrt(self.theta / self.c_unit_f))

    @property
    def readout_scale(self) -> np.ndarray:
        """x = readout_scale * V(nodes): t / v_unit (1/V)."""
        return self.rescaling / self.v_unit_v

    @property
    def realised_target(self) -> np.ndarray:
        """The A (inverse) or S (sample) the capacitors actually realise."""
        ti = 1.0 / self.rescaling
        M = self.programmed * np.outer(ti, ti)
        return M if self.mode == "inverse" else np.linalg.inv(M)

    def x_from_volts(self, v):
        return np.asarray(v) * self.readout_scale

    def volts_from_x(self, x):
        return np.asarray(x) / self.readout_scale

    def gibbs_cov(self) -> np.ndarray:
        """Gibbs covariance of the states [v; i] (V^2, A^2): theta blockdiag(C^-1, L^-1)."""
        n = self.n
        S = np.zeros((2 * n, 2 * n))
        S[:n, :n] = self.theta * np.linalg.inv(self.capacitance_matrix)
        S[n:, n:] = np.diag(self.theta / self.inductance_h)
        return S

    def dynamics(self) -> dict:
        """Relaxation and resonance figures of the compiled circuit (eigenvalues of the drift)."""
        if self._dyn is None:
            ev = np.linalg.eigvals(compile_netlist(self.netlist, self.temperature_k).drift.to_dense())
            rate = -ev.real
            if np.any(rate <= 0):
                raise RealizabilityError("the cell array is not stable (a drift eigenvalue has Re >= 0)")
            zeta = rate / np.abs(ev)
            osc = np.abs(ev.imag) > 0
            self._dyn = {
                "tau_slow_s": float(1.0 / rate.min()),
                "tau_fast_s": float(1.0 / rate.max()),
                "damping_ratio_min": float(zeta.min()),
                "damping_ratio_max": float(zeta.max()),
                "resonance_hz_min": float(np.abs(ev.imag[osc]).min() / (2 * np.pi)) if osc.any() else 0.0,
                "resonance_hz_max": float(np.abs(ev.imag[osc]).max() / (2 * np.pi)) if osc.any() else 0.0,
            }
        return dict(self._dyn)

    def component_counts(self) -> dict:
        c = self.netlist.component_counts()
        c["cells"] = self.n
        c["coupling_capacitors"] = sum(1 for nm in self.netlist.tables["C"].names if nm.upper().startswith("CC"))
        c["ground_capacitors"] = sum(1 for nm in self.netlist.tables["C"].names if nm.upper().startswith("CG"))
        return c

    def scales(self) -> dict:
        return {
            "c_unit_F": self.c_unit_f, "v_unit_V": self.v_unit_v, "theta_J": self.theta,
            "temperature_K": self.temperature_k, "gibbs": self.gibbs,
            "L_H": self.inductance_h.tolist(), "R_ohm": self.resistance_ohm.tolist(),
            "noise_psd_A2_per_Hz": self.noise_psd_a2_hz.tolist(),
            "theta_per_cell_J": self.theta_j.tolist(),
        }

    def to_dict(self) -> dict:
        """JSON-ready description: scales, readout map, capacitances and the component list."""
        comps = [{"name": e.name, "kind": e.kind, "nodes": list(e.nodes), "value": e.value}
                 for e in self.netlist.elements()]
        Cc = self.c_coupling_f
        iu, ju = np.nonzero(np.triu(Cc, 1))
        cov_formula = "cov(x) = A^-1" if self.mode == "inverse" else "cov(x) = S"
        return {
            "architecture": "capacitive_rlc_array",
            "mode": self.mode,
            "n": self.n,
            "scales": self.scales(),
            "readout": {
                "formula": "x_i = readout_scale[i] * V(nodes[i]),  readout_scale = t / v_unit_V",
                "stationary": cov_formula + " (exact when gibbs is true)",
                "nodes": list(self.nodes),
                "readout_scale_per_V": self.readout_scale.tolist(),
                "rescaling_t": self.rescaling.tolist(),
            },
            "matrices": {
                "target": self.target.tolist(),
                "programmed_P": self.programmed.tolist(),
                "programming": "C = c_unit_F * P,  P = diag(t) M diag(t),  M = "
                               + ("A" if self.mode == "inverse" else "S^-1"),
                "dropped_rel": self.dropped_rel,
            },
            "capacitances": {
                "maxwell_F": self.capacitance_matrix.tolist(),
                "ground_F": self.c_ground_f.tolist(),
                "coupling_F": [[int(i), int(j), float(Cc[i, j])] for i, j in zip(iu, ju)],
            },
            "dynamics": self.dynamics(),
            "component_counts": self.component_counts(),
            "components": comps,
        }

    def to_json(self, path) -> None:
        from spucircuit._util.files import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=1, allow_nan=False))


def _per_cell(value, n: int, what: str, unit: str, allow_zero: bool = False) -> np.ndarray:
    try:
        arr = np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy()
    except (TypeError, ValueError):
        raise RealizabilityError(f"{what} must be a number or {n} numbers ({unit}), got {value!r}") from None
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        need = ">= 0" if allow_zero else "> 0"
        raise RealizabilityError(f"{what} of cell {i} must be finite and {need} {unit}, got {arr[i]!r}")
    return arr


def capacitive_spu(M, *, mode: str = "inverse", c_unit: float | None = None, L=L_DEFAULT,
                   R=R_DEFAULT, noise_psd=None, temperature_k: float = T_ROOM,
                   rescale: bool = False, zero_rtol: float = ZERO_RTOL,
                   title: str | None = None) -> CapacitiveCircuit:
    """Map an SPD matrix onto the capacitively coupled RLC cell array (the built SPU).

    Parameters (SI units)
    ---------------------
    M           : (n, n) SPD matrix: A (``mode='inverse'``, cov(x) = A^-1) or the covariance S
                  to sample (``mode='sample'``, cov(x) = S; the capacitors realise S^-1).
    c_unit      : capacitance per unit of the programmed matrix, F (default: the largest
                  Maxwell diagonal becomes 10 nF).
    L, R        : cell inductance (H) and damping resistance (Ohm): a number or one per cell.
    noise_psd   : injected one-sided current PSD per cell, A^2/Hz (number or per cell). 0 leaves
                  Johnson noise only; None (default) picks the equal PSD that gives
                  v_unit = 10 mV for the mean R.
    temperature_k: Johnson-noise temperature, K (also used by the readout's theta).
    rescale     : program diag(t) M diag(t) (:func:`diagonal_rescaling`) so that matrices with
                  a balanced sign pattern become realisable; the readout undoes it.
    zero_rtol   : entries below this x max diag are round-off zeros (no capacitor); the largest
                  one dropped is recorded as ``dropped_rel``.

    Raises :class:`RealizabilityError` naming the offending rows and entries when the matrix
    cannot be built from passive capacitors, with the alternatives.
    """
    if mode not in MODES:
        raise RealizabilityError(f"mode must be 'inverse' or 'sample', got {mode!r}")
    if not (np.isfinite(temperature_k) and temperature_k >= 0):
        raise RealizabilityError(f"temperature must be finite and >= 0 K, got {temperature_k!r}")
    if not (np.isfinite(zero_rtol) and 0 <= zero_rtol < 1e-3):
        raise RealizabilityError(f"zero_rtol must be in [0, 1e-3), got {zero_rtol!r}")
    name = "A" if mode == "inverse" else "S"
    target = check_spd(M, name)
    n = target.shape[0]
    if mode == "inverse":
        M0, pname = target, "A"
    else:
        M0, pname = np.linalg.inv(target), "S^-1"
        M0 = 0.5 * (M0 + M0.T)
    t = diagonal_rescaling(M0, zero_rtol=zero_rtol, name=pname) if rescale else np.ones(n)
    P = M0 * np.outer(t, t)
    rep = capacitive_realisability(P, zero_rtol=zero_rtol, name=pname if not rescale else f"D {pname} D")
    if not rep["realisable"]:
        raise RealizabilityError(_not_realisable_msg(rep, pname))
    # realised matrix: round-off zeros dropped (no capacitor), ground capacitances clipped at 0
    nz, scale = _offdiag_graph(P, zero_rtol)
    off = np.where(nz, P, 0.0)
    dropped = float(np.max(np.abs(np.where(nz | np.eye(n, dtype=bool), 0.0, P)), initial=0.0))
    ground = np.diag(P) + off.sum(axis=1)  # row sums
    small_g = ground <= zero_rtol * scale
    dropped = max(dropped, float(np.max(np.abs(ground[small_g]), initial=0.0)))
    ground[small_g] = 0.0
    P_real = off + np.diag(ground - off.sum(axis=1))
    try:
        np.linalg.cholesky(P_real)
    except np.linalg.LinAlgError:
        raise RealizabilityError(
            f"the realisable part of {pname} is singular: every group of coupled cells needs a "
            "capacitor to ground (some row of the matrix must be strictly dominant)"
        ) from None

    if c_unit is None:
        c_unit = C_DIAG_MAX_DEFAULT / float(np.max(np.diag(P_real)))
    if not (np.isfinite(c_unit) and c_unit > 0):
        raise RealizabilityError(f"c_unit must be finite and > 0 F, got {c_unit!r}")
    Lv = _per_cell(L, n, "inductance L", "H")
    Rv = _per_cell(R, n, "resistance R", "Ohm")
    if noise_psd is None:
        theta_target = c_unit * V_UNIT_DEFAULT**2
        s0 = max(0.0, 4.0 * (theta_target - K_B * temperature_k) / float(np.mean(Rv)))
        Sv = np.full(n, s0)
    else:
        Sv = _per_cell(noise_psd, n, "noise PSD", "A^2/Hz", allow_zero=True)

    C = c_unit * P_real
    nl = Netlist(title or f"capacitive SPU n={n} ({mode}, spucircuit)")
    nodes = [f"v{i}" for i in range(n)]
    idx = np.array([nl.node(v) for v in nodes])
    gnd = np.zeros(n, dtype=int)
    nl.add_elements("L", [f"L{i}" for i in range(n)], np.stack([idx, gnd], 1), Lv)
    nl.add_elements("R", [f"R{i}" for i in range(n)], np.stack([idx, gnd], 1), Rv)
    cg = C.sum(axis=1)
    has_g = ~small_g
    # ground capacitors first: they become the compiled states v(CG<i>) = V(v<i>)
    nl.add_elements("C", [f"CG{i}" for i in np.flatnonzero(has_g)],
                    np.stack([idx[has_g], gnd[has_g]], 1), cg[has_g])
    iu, ju = np.nonzero(np.triu(nz, 1))
    nl.add_elements("C", [f"CC{i}_{j}" for i, j in zip(iu, ju)], np.stack([idx[iu], idx[ju]], 1),
                    -C[iu, ju])
    has_n = Sv > 0
    nl.add_elements("N", [f"N{i}" for i in np.flatnonzero(has_n)],
                    np.stack([gnd[has_n], idx[has_n]], 1), Sv[has_n])
    circ = CapacitiveCircuit(
        netlist=nl, mode=mode, target=target, programmed=P_real, rescaling=t, c_unit_f=float(c_unit),
        inductance_h=Lv, resistance_ohm=Rv, noise_psd_a2_hz=Sv, temperature_k=float(temperature_k),
        nodes=nodes, dropped_rel=dropped / scale if scale else 0.0,
    )
    nl.meta["capacitive"] = {k: v for k, v in circ.scales().items()}
    nl.meta["capacitive"]["mode"] = mode
    return circ


# ------------------------------------------------------------------- running it
def _run(circ: CapacitiveCircuit, *, dt, burn_in, run_time, chains, seed, max_samples, progress):
    from spucircuit.device.spu import SPU

    spu = SPU(circ.netlist, temperature_k=circ.temperature_k, scheme="exact", dt=dt, chains=chains,
              seed=seed)
    tb = spu.run(burn_in, max_samples=1).analog_time_s if burn_in > 0 else 0.0
    res = spu.run(run_time, max_samples=max_samples, progress=progress)
    Y, _ = spu.ss.node_voltage_map(circ.nodes)
    x = circ.x_from_volts(res.states @ Y.T)  # (m, chains, n)
    return spu, res, x, tb


def _analog(value, tau, allow_zero=False):
    """Seconds from a number of seconds or a string such as '50tau' (tau: slowest relaxation)."""
    from spucircuit._util.quantities import parse_time

    if allow_zero and isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        return 0.0
    return parse_time(value, tau)


def capacitive_inv(A, *, time=None, burn_in=None, dt=None, chains: int = 8, seed=None,
                   rescale: bool = False, return_info: bool = False, progress: bool = False,
                   **circuit_kwargs):
    """A^-1 from the stationary covariance of the capacitive SPU twin (exact scheme).

    cov(x) with x = t * v / v_unit (known zero mean) estimates A^-1 (theta from the component
    values: exact when the circuit is Gibbs, ``info['gibbs']``). Times are seconds or 'N tau'
    with tau = the slowest relaxation time of the compiled circuit. Defaults: time = 2000 tau,
    burn_in = 20 tau, dt = tau / 2 (the exact scheme has no step bias).
    Returns Ainv, or (Ainv, info) with ``standard_error`` (batch covariances over time and
    chains), ``analog_time_s``, ``tau_slow_s``, ``circuit`` and more.
    ``circuit_kwargs`` go to :func:`capacitive_spu` (c_unit, L, R, noise_psd, temperature_k, ...).
    """
    from spucircuit.numerics.stats import cov_and_se

    circ = capacitive_spu(A, mode="inverse", rescale=rescale, **circuit_kwargs)
    tau = circ.dynamics()["tau_slow_s"]
    total = _analog(time if time is not None else 2000.0 * tau, tau)
    tb = _analog(burn_in, tau, allow_zero=True) if burn_in is not None else 20.0 * tau
    h = _analog(dt, tau) if dt is not None else 0.5 * tau
    n_keep = int(round(total / h))
    spu, res, x, tb = _run(circ, dt=h, burn_in=tb, run_time=total, chains=chains, seed=seed,
                           max_samples=max(n_keep, 1), progress=progress)
    cov, se = cov_and_se(x, mean=np.zeros(circ.n))
    Ainv = 0.5 * (cov + cov.T)
    if not return_info:
        return Ainv
    info = {
        "standard_error": se, "analog_time_s": tb + res.analog_time_s, "burn_in_s": tb,
        "tau_slow_s": tau, "dt_s": spu.dt, "chains": chains, "samples_per_chain": x.shape[0],
        "gibbs": circ.gibbs, "theta_J": circ.theta, "v_unit_V": circ.v_unit_v,
        "components": circ.component_counts(), "circuit": circ,
    }
    return Ainv, info


def capacitive_sample(S, n_samples: int, *, spacing=None, burn_in=None, chains: int = 8,
                      seed=None, rescale: bool = False, return_info: bool = False,
                      progress: bool = False, **circuit_kwargs):
    """``n_samples`` samples of N(0, S) read from the capacitive SPU twin, shape (n_samples, n).

    The chains run in parallel after a burn-in (default 20 tau); each keeps one sample every
    ``spacing`` (default 3 tau: the slowest mode's correlation between samples is e^-3 = 0.05,
    faster modes much less). Samples are ordered time-major (sample k of every chain, then k+1).
    With ``return_info``: (samples, info) with ``covariance`` (sample covariance about the known
    zero mean), its ``standard_error`` (batch covariances over time and chains) and the circuit.
    """
    from spucircuit.numerics.stats import cov_and_se

    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise MatrixError(f"n_samples must be an integer >= 2, got {n_samples!r}")
    if int(chains) < 1:
        raise MatrixError(f"chains must be >= 1, got {chains!r}")
    circ = capacitive_spu(S, mode="sample", rescale=rescale, **circuit_kwargs)
    tau = circ.dynamics()["tau_slow_s"]
    h = _analog(spacing, tau) if spacing is not None else 3.0 * tau
    tb = _analog(burn_in, tau, allow_zero=True) if burn_in is not None else 20.0 * tau
    per_chain = -(-int(n_samples) // int(chains))
    spu, res, x, tb = _run(circ, dt=h, burn_in=tb, run_time=per_chain * h, chains=chains, seed=seed,
                           max_samples=per_chain, progress=progress)
    samples = x.reshape(-1, circ.n)[: int(n_samples)]
    if not return_info:
        return samples
    cov, se = cov_and_se(x, mean=np.zeros(circ.n))
    info = {
        "covariance": 0.5 * (cov + cov.T), "standard_error": se,
        "analog_time_s": tb + res.analog_time_s, "burn_in_s": tb, "spacing_s": spu.dt,
        "tau_slow_s": tau, "chains": chains, "gibbs": circ.gibbs, "v_unit_V": circ.v_unit_v,
        "components": circ.component_counts(), "circuit": circ,
    }
    return samples, info
