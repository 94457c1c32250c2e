"""Matrix -> circuit: the op-amp integrator array of the TNGD paper (App. C, Fig. 6).

Variable i is the output voltage V_i of an inverting integrator: op-amp ``Ui`` (out ``xi``,
non-inverting input grounded, inverting input = summing node ``si``) with capacitor ``Ci`` from
``xi`` to ``si``. KCL at the virtual-ground summing node gives (physics.md 2a)

    C dV_i/dt = -sum_j G_ij V_j - V_in,i / R_in + I_n,i ,          G = g_unit * A.

**Signed entries** use an inverting buffer per column that needs one: op-amp ``UNj`` with two
equal resistors ``RGj`` (xj -> bj) and ``RFj`` (bj -> xnj) makes V(xnj) = -V_j. A positive A_ij
is a resistor 1/(g_unit A_ij) from ``xj`` to ``si``; a negative one the same resistance from the
inverted output ``xnj``. Every resistor is physical, so all of them (buffers included) add Johnson
noise; the buffers' noise is correlated across rows and makes the thermal covariance deviate from
A^-1 (the active circuit is not in equilibrium), which is why :func:`~spucircuit.linalg.solve.inv`
injects a dominant, equal noise current ``NSi`` at every summing node.

**Scales** (all recorded on the returned :class:`MappedCircuit`):

- g_unit (S per unit of A): the largest |A_ij| gets ``r_min``; tau = C / g_unit (s) is the time
  unit in which the circuit obeys dx/dt = -(A x - b);
- v_unit (V per unit of x): how the device ranges, ``scale``: 'bound' (default) maps a bound it can
  compute from A, b and the problem class, |x*|_inf <= kappa_max |b|_2 / max_i A_ii
  (:class:`~spucircuit.numerics.bounds.SpectrumBounds`), to ``v_swing`` (1 V by default); a number
  is used as given (e.g. found by auto-ranging, :func:`~spucircuit.linalg.solve.solve`); 'oracle'
  maps the exact max |x*| = |A^-1 b| (a labelled upper bound: no device knows x* before solving);
- r_in (Ohm): common input resistor; the DAC voltage is V_in,i = -r_in g_unit v_unit b_i.

Entries with |A_ij| g_unit < 1 / r_max cannot be realised. By default that is an error naming the
entries; ``prune=True`` leaves them open (no resistor) and records the perturbation dA with the
bound  ||x' - x|| / ||x|| <= kappa eps / (1 - kappa eps),  eps = ||dA||_F / ||A||_2.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from spucircuit.circuit.netlist import Netlist, PatternNames
from spucircuit.constants import C_DEFAULT, R_MAX_DEFAULT, R_MIN_DEFAULT, V_SWING_DEFAULT
from spucircuit.errors import MatrixError, RealizabilityError
from spucircuit.numerics.bounds import KAPPA_MAX_DEFAULT, SpectrumBounds, check_kappa_max
from spucircuit.numerics.matrices import as_vector, check_spd

_ZERO_RTOL = 1e-13  # |A_ij| below this fraction of max|A| is a structural zero (no resistor)
COUPLING = r"R\d+_\d+"  # element names of the programmable coupling array (R<i>_<j> realises A_ij)
COUPLING_RE = re.compile(r"^R(\d+)_(\d+)$", re.IGNORECASE)  # ... with (i, j) as groups
INTEGRATORS = r"U\d+"  # the integrators' op-amps (the inverting buffers are UN<j>)


@dataclass
class MappedCircuit:
    """An integrator-array netlist with every scale factor needed to map volts back to x."""

    netlist: Netlist
    A: np.ndarray  # the matrix actually realised (after pruning), dimensionless
    b: np.ndarray
    g_unit_siemens: float  # conductance per unit of A, S
    v_unit_v: float  # volts per unit of x, V
    c_f: float  # integrator capacitance, F
    r_in_ohm: float
    r_buffer_ohm: float
    noise_psd_a2_hz: float  # injected noise PSD per summing node, A^2/Hz (0 = none)
    output_nodes: list
    summing_nodes: list
    input_sources: list
    capacitors: list
    prune: dict = field(default_factory=dict)
    scaling: dict = field(default_factory=dict)  # how v_unit was chosen: method, kappa_max, x_bound
    params: dict = field(default_factory=dict, repr=False)  # the mapping's arguments (remap() reuses them)

    @property
    def n(self) -> int:
        return self.A.shape[0]

    g_unit_s = property(lambda self: self.g_unit_siemens)  # former name ('_s' means seconds), read-only

    @property
    def tau_s(self) -> float:
        """Analog time unit: the circuit obeys dx/dt = -(A x - b) with t measured in tau (s)."""
        return self.c_f / self.g_unit_siemens

    def x_from_volts(self, v):
        """x from output voltages V (V): x = V / v_unit. Works on (..., n) arrays."""
        return np.asarray(v) / self.v_unit_v

    def volts_from_x(self, x):
        return np.asarray(x) * self.v_unit_v

    def input_volts(self, b) -> np.ndarray:
        """DAC voltages V_in (V) that encode right-hand side b: V_in = -r_in g_unit v_unit b."""
        b = as_vector(b, self.n, "b")
        return -self.r_in_ohm * self.g_unit_siemens * self.v_unit_v * b

    def component_counts(self) -> dict:
        c = self.netlist.component_counts()
        c["integrators"] = self.n
        c["inverting_buffers"] = sum(1 for nm in self.netlist.tables["U"].names if nm.upper().startswith("UN"))
        return c

    def scales(self) -> dict:
        return {
            "g_unit_S": self.g_unit_siemens, "v_unit_V": self.v_unit_v, "C_F": self.c_f,
            "tau_s": self.tau_s, "R0_ohm": 1.0 / self.g_unit_siemens, "r_in_ohm": self.r_in_ohm,
            "r_buffer_ohm": self.r_buffer_ohm, "noise_psd_A2_per_Hz": self.noise_psd_a2_hz,
            **{f"scale_{k}": v for k, v in self.scaling.items() if k != "v_unit_V"},
        }

    def to_dict(self) -> dict:
        """JSON-ready description: scales, state-to-voltage map and the full component list."""
        # strict JSON: an ideal op-amp's infinite gain is written as null with "ideal": true
        comps = [
            {"name": e.name, "kind": e.kind, "nodes": list(e.nodes),
             "value": e.value if np.isfinite(e.value) else None,
             **({"ideal": True} if e.kind == "U" and not np.isfinite(e.value) else {}),
             **({"ic": e.ic} if e.kind in "CL" and e.ic else {})}
            for e in self.netlist.elements()
        ]
        return {
            "architecture": "integrator_array",
            "n": self.n,
            "scales": self.scales(),
            "readout": {
                "formula": "x_i = V(output_nodes[i]) / v_unit_V",
                "output_nodes": self.output_nodes,
                "states": [f"v({c})" for c in self.capacitors],
                "state_formula": "v(C_i) = V(x_i) - V(s_i) = V(x_i) for an ideal op-amp",
            },
            "inputs": {
                "formula": "V_in_i = -r_in_ohm * g_unit_S * v_unit_V * b_i",
                "sources": self.input_sources,
                "b": self.b.tolist(),
            },
            "pruning": {k: (v if not isinstance(v, float) or np.isfinite(v) else None)
                        for k, v in self.prune.items()},
            "component_counts": self.component_counts(),
            "components": comps,
        }



def integrator_array(A, b=None, *, r_min: float = R_MIN_DEFAULT, r_max: float = R_MAX_DEFAULT,
                     c: float = C_DEFAULT, v_swing: float = V_SWING_DEFAULT,
                     r_buffer: float | None = None, opamp_gain: float = np.inf,
                     noise_psd: float = 0.0, prune: bool = False, x0=None,
                     check: bool = True, title: str | None = None, scale="bound",
                     kappa_max: float = KAPPA_MAX_DEFAULT, noise_cov=None) -> MappedCircuit:
    """Map SPD matrix A (and right-hand side b) onto an op-amp integrator array.

    Parameters (SI units)
    ---------------------
    A, b        : (n, n) symmetric positive definite matrix (dense, or scipy.sparse: kept sparse, O(nnz)
                  netlist and ``MappedCircuit.A`` in CSR); (n,) right-hand side (default 0).
    r_min, r_max: programmable resistance range, Ohm.
    c           : integrator capacitance, F.
    v_swing     : largest |V| the solution x* = A^-1 b should reach, V.
    r_buffer    : resistors of the inverting buffers, Ohm (default r_min).
    opamp_gain  : open-loop gain of every op-amp (inf = ideal).
    noise_psd   : one-sided PSD of an injected white noise current at each summing node, A^2/Hz.
    prune       : leave entries below 1/(g_unit r_max) open instead of raising.
    x0          : initial x (sets the capacitor initial voltages), default 0.
    scale       : 'bound' (default), 'oracle', or v_unit itself (V per unit of x); see the module doc.
    kappa_max   : the problem class's largest condition number (for scale 'bound').
    noise_cov   : (n, n) PSD Q: inject ``noise_psd`` through a noise array (:func:`add_noise_array`)
                  whose diffusion is proportional to Q instead of at each summing node alone.

    With ``check=False`` A may be any real matrix whose entries the resistor range realises: the
    array then obeys dx/dt = -A x + b (tau units) whether or not A is symmetric (a non-symmetric
    drift for Lyapunov equations); stability is the caller's to check.
    """
    sparse = sp.issparse(A)
    if sparse:
        A = check_spd(A) if check else sp.csr_matrix(A, dtype=float)
    else:
        A = check_spd(A) if check else np.array(A, dtype=float)
    n = A.shape[0]
    b = np.zeros(n) if b is None else as_vector(b, n)
    nums = {}
    for nm, v in (("r_min", r_min), ("r_max", r_max), ("c", c), ("v_swing", v_swing), ("noise_psd", noise_psd),
                  ("opamp_gain", opamp_gain)):
        try:
            nums[nm] = float(v)
        except (TypeError, ValueError):
            raise RealizabilityError(f"{nm} must be a number, got {v!r}") from None
    r_min, r_max, c, v_swing, noise_psd, opamp_gain = nums.values()
    for nm, v in (("r_min", r_min), ("r_max", r_max), ("c", c), ("v_swing", v_swing)):
        if not (np.isfinite(v) and v > 0):
            raise RealizabilityError(f"{nm} must be finite and > 0, got {v!r}")
    if r_max < r_min:
        raise RealizabilityError(f"r_max ({r_max} Ohm) is below r_min ({r_min} Ohm)")
    if not (np.isfinite(noise_psd) and noise_psd >= 0):
        raise RealizabilityError(f"noise_psd must be finite and >= 0 A^2/Hz, got {noise_psd!r}")
    r_buffer = r_min if r_buffer is None else float(r_buffer)
    if not (r_min <= r_buffer <= r_max):
        raise RealizabilityError(f"r_buffer = {r_buffer} Ohm is outside [{r_min}, {r_max}] Ohm")

    if sparse:
        A, prune_info = _sparse_entries(A, r_min, r_max, prune)
        ii, jj, aval = A.row, A.col, A.data
        g_unit = 1.0 / (r_min * float(np.max(np.abs(aval))))
        A = A.tocsr()
    else:
        A, prune_info, ii, jj, aval, g_unit = _dense_entries(A, r_min, r_max, prune)
    return _build(A, b, ii, jj, aval, g_unit, prune_info, n=n, r_min=r_min, r_max=r_max, c=c, v_swing=v_swing,
                  r_buffer=r_buffer, opamp_gain=opamp_gain, noise_psd=noise_psd, prune=prune, x0=x0, title=title,
                  scale=scale, kappa_max=kappa_max, noise_cov=noise_cov)


def _small_entries_error(where_i, where_j, vals, r_min, r_max, amax):
    shown = ", ".join(f"A[{i},{j}]={v:.3g}" for i, j, v in zip(where_i[:8], where_j[:8], vals[:8]))
    more = f" and {len(where_i) - 8} more" if len(where_i) > 8 else ""
    return RealizabilityError(
        f"{len(where_i)} entries of A need a resistance above r_max = {r_max:g} Ohm "
        f"(|A_ij| < max|A| * r_min/r_max = {amax * r_min / r_max:.3g}): {shown}{more}. "
        "Widen the range (r_max), or pass prune=True to leave them open (error bound reported)."
    )


def _sparse_entries(A, r_min, r_max, prune):
    """(A as COO without structural zeros, pruning record) of a scipy.sparse A, in O(nnz); the
    pruning bound's ||A||_2 and cond(A) come from Lanczos (eigsh) on A."""
    A = sp.coo_matrix(A)
    A.sum_duplicates()
    amax = float(np.max(np.abs(A.data)))
    nonzero = np.abs(A.data) > _ZERO_RTOL * amax
    g_unit = 1.0 / (r_min * amax)
    small = nonzero & (np.abs(A.data) * g_unit < 1.0 / r_max)
    prune_info = {"pruned_entries": 0}
    if np.any(small):
        k = np.flatnonzero(small)
        if not prune:
            raise _small_entries_error(A.row[k], A.col[k], A.data[k], r_min, r_max, amax)
        import scipy.sparse.linalg as spla

        dA = sp.coo_matrix((A.data[k], (A.row[k], A.col[k])), shape=A.shape)
        A_real = sp.coo_matrix((A.data[~small], (A.row[~small], A.col[~small])), shape=A.shape)
        try:
            check_spd(A_real, "pruned A")
        except MatrixError as exc:
            raise RealizabilityError(f"pruning {len(k)} small entries destroys positive definiteness: {exc}") from None
        hi = float(spla.eigsh(A.tocsc(), k=1, which="LA", return_eigenvectors=False)[0])
        lo = float(spla.eigsh(A.tocsc(), k=1, sigma=0.0, which="LM", return_eigenvectors=False)[0])
        fro = float(np.sqrt(np.sum(dA.data ** 2)))
        eps, kappa = fro / hi, hi / lo
        prune_info = {
            "pruned_entries": int(len(k)), "dA_fro": fro, "eps_rel": eps, "kappa": kappa,
            "relative_solution_error_bound": kappa * eps / (1 - kappa * eps) if kappa * eps < 1 else float("inf"),
            "rule": "entries with |A_ij| g_unit < 1/r_max are left open",
        }
        nonzero &= ~small
    return sp.coo_matrix((A.data[nonzero], (A.row[nonzero], A.col[nonzero])), shape=A.shape), prune_info


def _dense_entries(A, r_min, r_max, prune):
    """(A realised, pruning record, rows, columns and values of its resistors, g_unit) of a dense A."""
    amax = float(np.max(np.abs(A)))
    g_unit = 1.0 / (r_min * amax)
    absA = np.abs(A)
    nonzero = absA > _ZERO_RTOL * amax
    small = nonzero & (absA * g_unit < 1.0 / r_max)
    prune_info = {"pruned_entries": 0}
    if np.any(small):
        where = np.argwhere(small)
        if not prune:
            raise _small_entries_error(where[:, 0], where[:, 1], A[where[:, 0], where[:, 1]], r_min, r_max, amax)
        dA = np.where(small, A, 0.0)
        A_real = A - dA
        normA = float(np.linalg.norm(A, 2))
        eps = float(np.linalg.norm(dA, "fro")) / normA
        kappa = float(np.linalg.cond(A))
        bound = kappa * eps / (1 - kappa * eps) if kappa * eps < 1 else float("inf")
        try:
            check_spd(A_real, "pruned A")
        except MatrixError as exc:
            raise RealizabilityError(f"pruning {len(where)} small entries destroys positive definiteness: {exc}") from None
        prune_info = {
            "pruned_entries": int(len(where)), "dA_fro": float(np.linalg.norm(dA, "fro")),
            "eps_rel": eps, "kappa": kappa, "relative_solution_error_bound": bound,
            "rule": "entries with |A_ij| g_unit < 1/r_max are left open",
        }
        A = A_real
        nonzero &= ~small
    ii, jj = np.nonzero(nonzero)
    return A, prune_info, ii, jj, A[ii, jj], g_unit


def _build(A, b, ii, jj, aval, g_unit, prune_info, *, n, r_min, r_max, c, v_swing, r_buffer, opamp_gain, noise_psd,
           prune, x0, title, scale, kappa_max, noise_cov=None) -> MappedCircuit:
    """The netlist of the array from its resistor entries (ii, jj, A_ij): O(n + nnz)."""
    scaling = _choose_scale(A, b, scale, kappa_max, v_swing)
    v_unit = scaling["v_unit_V"]
    bmax = float(np.max(np.abs(b)))
    if not (np.isfinite(v_unit) and v_unit > 0 and np.isfinite(g_unit * v_unit * bmax) and g_unit * v_unit * bmax > 0
            or bmax == 0):
        raise RealizabilityError(f"b (max |b_i| = {bmax:.3g}) cannot be mapped to volts: the {scaling['method']} scale "
                                 f"gives v_unit = {v_unit!r} V per unit of x, outside the floating-point range; "
                                 "rescale A and b")
    r_in = r_max if bmax == 0 else float(np.clip(v_swing / (g_unit * v_unit * bmax), r_min, r_max))

    nl = Netlist(title or f"integrator array n={n} (spucircuit)")
    # element names are PatternNames ("R{}_{}" -> R3_7), built only when asked for: a million
    # coupling-resistor names at n = 1024 would cost ~0.7 s to make and check
    ar = np.arange(n)
    gnd = np.zeros(n, np.int64)
    s_nodes = [f"s{i}" for i in range(n)]
    x_nodes = [f"x{i}" for i in range(n)]
    s_idx = nl.nodes(s_nodes)
    x_idx = nl.nodes(x_nodes)
    neg_cols = np.unique(jj[aval < 0])
    xn_idx = np.full(n, -1)
    xn_idx[neg_cols] = nl.nodes([f"xn{j}" for j in neg_cols])
    # integrators
    nl.add_elements("U", PatternNames("U{}", ar), np.stack([x_idx, gnd, s_idx], 1), np.full(n, float(opamp_gain)))
    x0v = np.zeros(n) if x0 is None else as_vector(x0, n, "x0") * v_unit
    nl.add_elements("C", PatternNames("C{}", ar), np.stack([x_idx, s_idx], 1), np.full(n, c), x0v)
    # inverting buffers: V(xnj) = -V(xj)
    if len(neg_cols):
        b_idx = nl.nodes([f"b{j}" for j in neg_cols])
        m = len(neg_cols)
        nl.add_elements("U", PatternNames("UN{}", neg_cols),
                        np.stack([xn_idx[neg_cols], np.zeros(m, np.int64), b_idx], 1), np.full(m, float(opamp_gain)))
        nl.add_elements("R", PatternNames("RG{}", neg_cols), np.stack([x_idx[neg_cols], b_idx], 1), np.full(m, r_buffer))
        nl.add_elements("R", PatternNames("RF{}", neg_cols), np.stack([b_idx, xn_idx[neg_cols]], 1), np.full(m, r_buffer))
    # coupling array: resistor R_ij from (x_j or xn_j) to s_i
    src = np.where(aval > 0, x_idx[jj], xn_idx[jj])
    rnodes = np.empty((len(ii), 2), np.int64)
    rnodes[:, 0], rnodes[:, 1] = src, s_idx[ii]
    nl.add_elements("R", PatternNames("R{}_{}", ii, jj), rnodes, 1.0 / (g_unit * np.abs(aval)))
    # inputs: DAC voltage source -> r_in -> summing node
    in_idx = nl.nodes([f"in{i}" for i in range(n)])
    v_in = -r_in * g_unit * v_unit * b
    nl.add_elements("V", PatternNames("VIN{}", ar), np.stack([in_idx, gnd], 1), v_in)
    nl.add_elements("R", PatternNames("RIN{}", ar), np.stack([in_idx, s_idx], 1), np.full(n, r_in))
    noise_array = {}
    if noise_psd > 0 and noise_cov is not None:
        noise_array = add_noise_array(nl, s_idx, noise_cov, noise_psd, r_min=r_min, r_max=r_max, r_buffer=r_buffer,
                                      opamp_gain=opamp_gain)
    elif noise_psd > 0:
        nl.add_elements("N", PatternNames("NS{}", ar), np.stack([gnd, s_idx], 1), np.full(n, float(noise_psd)))
    mc = MappedCircuit(
        netlist=nl, A=A, b=b, g_unit_siemens=g_unit, v_unit_v=v_unit, c_f=float(c), r_in_ohm=r_in,
        r_buffer_ohm=r_buffer, noise_psd_a2_hz=float(noise_psd), output_nodes=x_nodes,
        summing_nodes=s_nodes, input_sources=[f"VIN{i}" for i in range(n)],
        capacitors=[f"C{i}" for i in range(n)], prune=prune_info, scaling=scaling,
        params=dict(r_min=r_min, r_max=r_max, c=c, v_swing=v_swing, r_buffer=r_buffer, opamp_gain=opamp_gain,
                    noise_psd=noise_psd, prune=prune, kappa_max=kappa_max,
                    **({"noise_cov": noise_cov} if noise_cov is not None else {})),
    )
    if noise_array:
        mc.scaling["noise_array"] = noise_array
    nl.meta["mapping"] = mc.scales()
    return mc


def add_noise_array(nl: Netlist, s_idx, Q, psd: float, *, r_min: float, r_max: float, r_buffer: float,
                    opamp_gain: float = np.inf) -> dict:
    """Inject white noise of covariance proportional to a PSD Q into the summing nodes ``s_idx``.

    Q = L L^T (L = V sqrt(w) from Q's eigendecomposition, a digital O(n^3) set-up; eigenvalues
    below 1e-12 max w are dropped), scaled so that max |L_ik| = 1. Each column k is a noise
    current ``NQk`` (one-sided PSD ``psd``) into a transimpedance stage: op-amp ``UQk`` with
    feedback resistor ``RQFk`` = r_min, output ``qk`` at -r_min I_k. Resistors ``RQi_k`` =
    r_min / |L_ik| carry it into summing node i, from ``qk`` or, for L_ik < 0, from its inverted
    copy ``qnk`` (buffer ``UQNk`` as the array's own). Each summing node then receives the current
    sum_k L_ik I_k (up to one common sign): a white current of covariance (psd / 2) L L^T per
    unit bandwidth, whatever A is. Weights |L_ik| < r_min / r_max are left open; every resistor
    adds its Johnson noise: the compiled diffusion shows both, and the callers bound them from it.
    Returns a record (stages, dropped weights).
    """
    Q = np.asarray(Q, float)
    w, V = np.linalg.eigh(0.5 * (Q + Q.T))
    keep = w > 1e-12 * max(float(w.max()), 0.0)
    L = V[:, keep] * np.sqrt(w[keep])
    L = L / np.max(np.abs(L))
    n, m = L.shape
    ar, gnd = np.arange(m), np.zeros(m, np.int64)
    t_idx = nl.nodes([f"tq{k}" for k in range(m)])
    q_idx = nl.nodes([f"q{k}" for k in range(m)])
    nl.add_elements("U", PatternNames("UQ{}", ar), np.stack([q_idx, gnd, t_idx], 1), np.full(m, float(opamp_gain)))
    nl.add_elements("R", PatternNames("RQF{}", ar), np.stack([q_idx, t_idx], 1), np.full(m, r_min))
    nl.add_elements("N", PatternNames("NQ{}", ar), np.stack([gnd, t_idx], 1), np.full(m, float(psd)))
    used = np.abs(L) >= r_min / r_max
    neg = np.flatnonzero(np.any(used & (L < 0), axis=0))
    qn_idx = np.full(m, -1)
    if len(neg):
        qn_idx[neg] = nl.nodes([f"qn{k}" for k in neg])
        bq = nl.nodes([f"bq{k}" for k in neg])
        z = np.zeros(len(neg), np.int64)
        nl.add_elements("U", PatternNames("UQN{}", neg), np.stack([qn_idx[neg], z, bq], 1),
                        np.full(len(neg), float(opamp_gain)))
        nl.add_elements("R", PatternNames("RQG{}", neg), np.stack([q_idx[neg], bq], 1), np.full(len(neg), r_buffer))
        nl.add_elements("R", PatternNames("RQB{}", neg), np.stack([bq, qn_idx[neg]], 1), np.full(len(neg), r_buffer))
    ii, kk = np.nonzero(used)
    src = np.where(L[ii, kk] > 0, q_idx[kk], qn_idx[kk])
    nl.add_elements("R", PatternNames("RQ{}_{}", ii, kk), np.stack([src, np.asarray(s_idx)[ii]], 1),
                    r_min / np.abs(L[ii, kk]))
    return {"stages": int(m), "weights": int(used.sum()), "dropped_weights": int((~used).sum())}


SCALES = ("bound", "oracle")


def _choose_scale(A, b, scale, kappa_max, v_swing) -> dict:
    """v_unit (V per unit of x) and how it was chosen (module doc); b = 0 needs no ranging."""
    check_kappa_max(kappa_max)  # a bad problem-class spec is refused even where this mapping needs none
    if not isinstance(scale, str):
        try:
            v = float(scale)
        except (TypeError, ValueError):
            raise RealizabilityError(f"scale must be one of {SCALES} or v_unit in V, got {scale!r}") from None
        if not (np.isfinite(v) and v > 0):
            raise RealizabilityError(f"v_unit must be finite and > 0 V, got {scale!r}")
        return {"method": "given", "v_unit_V": v}
    if scale not in SCALES:
        raise RealizabilityError(f"scale must be one of {SCALES} or v_unit in V, got {scale!r}")
    if not np.any(b):
        return {"method": "rhs zero", "v_unit_V": float(v_swing)}
    if scale == "oracle":  # a labelled upper bound: uses the exact answer
        if sp.issparse(A):
            import scipy.sparse.linalg as spla

            xmax = float(np.max(np.abs(spla.spsolve(sp.csc_matrix(A), b))))
        else:
            xmax = float(np.max(np.abs(np.linalg.solve(A, b))))
        return {"method": "oracle", "x_max": xmax, "v_unit_V": v_swing / xmax}
    bounds = SpectrumBounds.from_matrix(A, kappa_max)
    xb = bounds.solution_bound(b)
    return {"method": "bound", "kappa_max": bounds.kappa_max, "x_bound": xb, "v_unit_V": v_swing / xb}


def remap(mc: MappedCircuit, scale) -> MappedCircuit:
    """The same array mapped again at another ``scale`` (e.g. the v_unit auto-ranging found): same
    A, b and mapping arguments; the input resistor and DAC levels follow the new v_unit."""
    return integrator_array(mc.A, mc.b, check=False, title=mc.netlist.title, **dict(mc.params, scale=scale))
