"""Matrix -> circuit for the factored TNGD circuit (TNGD App. C, physics.md 2b): F = J^T H J / b
is never formed.

Three programmable resistor arrays hold J (m x N), H (m x m, block diagonal, one dz x dz block per
sample) and J^T (N x m), m = b * dz. Only the N parameter nodes integrate; the two m-node stages
are static inverting transimpedance stages:

    stage 1 (J):   y_k = -(1/D1_k) [ sum_j G1_kj V(x_j or xn_j) + n_a,k ]          (node a_k -> y_k)
    stage 2 (H):   w_k = -(1/D2_k) [ sum_l G2_kl V(y_l or yn_l) + n_c,k ]          (node c_k -> w_k)
    integrators:   C_i dv_i/dt = -[ sum_k G3_ik V(w_k or wn_k) + d_i v_i + G_in,i V_in,i + n_s,i ]

Two inversions cancel, so C dv/dt = -(g3 g2 g1 r_f1 r_f2) J^T H J v - G_lambda v + ... (ideal
op-amps, D = 1/r_f). **Signs**: as in :mod:`spucircuit.circuit.integrator_array`, a negative entry
takes its input from an inverting buffer (op-amp, two equal resistors r_buffer) of the source column:
``xn_j`` for J, ``yn_l`` for H, ``wn_k`` for J^T; a buffer exists only for columns that need one.
``lambda`` is a resistor R_lambda in parallel with each integrating capacitor (x_i -> s_i); g enters
through DAC voltages V_in behind R_in.

**Scales** (:class:`FactoredScales`, every one recorded): array conductances G1 = g1 |J|,
G2 = g2 |H|, G3 = g3 |J^T| (S per unit); feedback resistors r_f1, r_f2; then
``g_unit = b_norm g1 g2 g3 r_f1 r_f2`` is the conductance per unit of A = F + lambda I, with the 1/b
of F = J^T H J / b folded in (b_norm = b, or 1 for an already normalised factor);
``tau = C / g_unit``; R_lambda = 1 / (g_unit lambda); V_in = -R_in g_unit v_unit g; x = V(x) / v_unit.
In tau units the circuit obeys dx = -(A x - g) dt + noise.

Op-amps may have finite open-loop gain A0 (netlist ``U`` value): every stage then gets the exact
per-row factor D = G_f + (sum G_in + G_f) / A0 and every integrator the extra leak
beta (sum G + G_in), beta = 1 / (A0 + 1) (its summing node sits at -v / (A0 + 1)).

**Noise.** Every resistor has Johnson noise, a white current of one-sided PSD 4 k_B T / R. Each
resistor joins a driven node (op-amp output or DAC, which absorbs the current) to one summing node,
so the node injections are independent per summing node with intensity (variance per second)
q = 2 k_B T sum G. They propagate through the later stages exactly like the signal. Optional
injected noise (``noise_psd``, A^2/Hz, e.g. from kappa0) sits at the N summing nodes s_i.

The component values live in :mod:`spucircuit.circuit.factored_components`, the drift operator in
:mod:`spucircuit.statespace.chain`, the schemes in :mod:`spucircuit.integrate`, the device in
:mod:`spucircuit.device.factored_spu` and the device imperfections in
:mod:`spucircuit.imperfections.factored`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from spucircuit._util.jsonable import to_jsonable
from spucircuit.circuit.factored_components import FactoredComponents, components_from_netlist
from spucircuit.circuit.netlist import Netlist
from spucircuit.constants import C_DEFAULT, R_MAX_DEFAULT, R_MIN_DEFAULT, V_SWING_DEFAULT
from spucircuit.errors import MatrixError, NetlistError, RealizabilityError
from spucircuit.numerics.bounds import invariant_norm
from spucircuit.numerics.cg import conjugate_gradient
from spucircuit.numerics.signed_arrays import build_array, scan_array

_ZERO_RTOL = 1e-13  # |entry| below this x max|entry| is a structural zero (no resistor)


NETLIST_MAX_RESISTORS = 250_000  # factored_circuit builds the netlist automatically below this


# =====================================================================================
# mapping (J, H, lambda, g) -> circuit
# =====================================================================================
@dataclass
class FactoredScales:
    """Scale factors of one factored circuit (SI). See the module docstring for the formulas."""

    g1_siemens: float  # S per unit of J (J array)
    g2_siemens: float  # S per unit of H (H array)
    g3_siemens: float  # S per unit of J (J^T array)
    r_f1_ohm: float  # stage-1 feedback resistor
    r_f2_ohm: float  # stage-2 feedback resistor
    v_unit_v: float  # V per unit of x
    c_f: float  # integrating capacitance
    b_norm: float  # F = J^T H J / b_norm
    r_buffer_ohm: float
    r_min_ohm: float
    r_max_ohm: float

    @property
    def g_unit_siemens(self) -> float:
        """Conductance per unit of A = F + lambda I: b_norm g1 g2 g3 r_f1 r_f2 (S)."""
        return self.b_norm * self.g1_siemens * self.g2_siemens * self.g3_siemens * self.r_f1_ohm * self.r_f2_ohm

    # former names (a '_s' suffix means seconds; these are siemens), read-only
    g_unit_s = property(lambda self: self.g_unit_siemens)
    g1_s = property(lambda self: self.g1_siemens)
    g2_s = property(lambda self: self.g2_siemens)
    g3_s = property(lambda self: self.g3_siemens)

    @property
    def tau_s(self) -> float:
        return self.c_f / self.g_unit_siemens

    def to_dict(self) -> dict:
        """The scales with unit-suffixed keys (siemens as ``_S``, as MappedCircuit.scales())."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for i in (1, 2, 3):
            d[f"g{i}_S"] = d.pop(f"g{i}_siemens")
        d.update(g_unit_S=self.g_unit_siemens, tau_s=self.tau_s)
        return d


@dataclass
class FactoredCircuit:
    """A programmed factored circuit: component values, every scale, realizability record."""

    components: FactoredComponents
    scales: FactoredScales
    damping: float
    rhs: np.ndarray  # g realised (after the DAC formula), problem units
    r_in_ohm: float
    r_lambda_ohm: float
    prune: dict
    design: dict = field(default_factory=dict)
    netlist_cache: Netlist | None = field(default=None, repr=False)
    # per-integrator gain the controller divides every DAC value by (a calibration), None = 1
    input_correction: np.ndarray | None = None

    @property
    def n(self) -> int:
        return self.components.n

    @property
    def m(self) -> int:
        return self.components.m

    @property
    def tau_s(self) -> float:
        return self.scales.tau_s

    @property
    def b(self) -> np.ndarray:
        """The right-hand side g the circuit is programmed with (problem units), as MappedCircuit.b."""
        return self.rhs

    def input_volts(self, g) -> np.ndarray:
        """DAC voltages V_in (V) that encode right-hand side g: -R_in g_unit v_unit g, divided by the
        calibration's ``input_correction`` when there is one."""
        g = np.asarray(g, dtype=float).reshape(-1)
        if g.shape != (self.n,) or not np.all(np.isfinite(g)):
            raise MatrixError(f"right-hand side must be a finite vector of length N = {self.n}, got shape {g.shape}")
        v = -self.r_in_ohm * self.g_unit_siemens * self.v_unit_v * g
        return v if self.input_correction is None else v / self.input_correction

    @property
    def g_unit_siemens(self) -> float:
        return self.scales.g_unit_siemens

    g_unit_s = property(lambda self: self.g_unit_siemens)  # former name, read-only

    @property
    def v_unit_v(self) -> float:
        return self.scales.v_unit_v

    @property
    def netlist_built(self) -> bool:
        """Whether the (SPICE-exportable) netlist has been built."""
        return self.netlist_cache is not None

    @property
    def netlist(self) -> Netlist:
        """The SPICE-exportable netlist, built on first access (refused above NETLIST_MAX_RESISTORS
        resistors: call ``to_netlist(force=True)`` if you mean it)."""
        if self.netlist_cache is None:
            self.netlist_cache = self.to_netlist()
        return self.netlist_cache

    def to_netlist(self, force: bool = False) -> Netlist:
        nres = self.components.resistor_count()
        if nres > NETLIST_MAX_RESISTORS and not force:
            raise NetlistError(f"the netlist would hold {nres} resistors (> {NETLIST_MAX_RESISTORS}); "
                               "pass force=True to build it anyway")
        return self.components.to_netlist(meta={"scales": self.scales.to_dict()})

    def with_injected_noise(self, psd) -> "FactoredCircuit":
        """Same circuit with white current noise of one-sided PSD ``psd`` (A^2/Hz) at every s_i
        (shares the component arrays)."""
        psd = np.broadcast_to(np.asarray(psd, dtype=float), (self.n,)).copy()
        if np.any(~np.isfinite(psd)) or np.any(psd < 0):
            raise RealizabilityError("injected noise PSD must be finite and >= 0 A^2/Hz")
        return replace(self, components=replace(self.components, noise_psd=psd), netlist_cache=None)

    def kappa0_psd(self, kappa0: float) -> float:
        """PSD (A^2/Hz) at each s_i giving dx = ... + sqrt(2 kappa0) dW in tau units:
        4 kappa0 C^2 v_unit^2 / tau."""
        return 4.0 * float(kappa0) * self.scales.c_f ** 2 * self.scales.v_unit_v ** 2 / self.tau_s

    def x_from_volts(self, v):
        return np.asarray(v) / self.scales.v_unit_v

    def volts_from_x(self, x):
        return np.asarray(x) * self.scales.v_unit_v

    def component_counts(self) -> dict:
        return self.components.component_counts()

    def to_dict(self) -> dict:
        """JSON-ready description (strict: non-finite numbers become null)."""
        return to_jsonable({
            "architecture": "factored (TNGD App. C): J array -> H array -> J^T array -> integrators",
            "N": self.n, "m": self.m, "b": self.components.b, "dz": self.components.dz,
            "scales": self.scales.to_dict(), "damping": self.damping,
            "r_in_ohm": self.r_in_ohm, "r_lambda_ohm": self.r_lambda_ohm,
            "formulas": {
                "g_unit": "b_norm * g1 * g2 * g3 * r_f1 * r_f2 (S per unit of A = J^T H J / b_norm + lambda I)",
                "tau": "C / g_unit", "x": "V(x_i) / v_unit", "R_lambda": "1 / (g_unit * lambda)",
                "V_in": "-R_in * g_unit * v_unit * g_i", "R_J": "1 / (g1 |J_kj|)", "R_H": "1 / (g2 |H_kl|)",
                "R_JT": "1 / (g3 |J_kj|)"},
            "pruning": self.prune, "design": self.design,
            "component_counts": self.component_counts(),
        })



def _check_pos(name, v):
    if not (np.isfinite(v) and v > 0):
        raise RealizabilityError(f"{name} must be finite and > 0, got {v!r}")
    return float(v)


def _nominal_matvec(J, H, b_norm, lam, v):
    b, dz = H.shape[0], H.shape[1]
    u = (J @ v).reshape(b, dz)
    return J.T @ np.einsum("bij,bj->bi", H, u).reshape(-1) / b_norm + lam * v


def _cg_estimate(J, H, b_norm, lam, g, iters):
    """A few CG iterations on (J^T H J / b + lambda I) x = g (O(m N) each): a cheap estimate of
    x* used only to choose voltage scales (CG iterates grow in norm monotonically)."""
    return conjugate_gradient(lambda v: _nominal_matvec(J, H, b_norm, lam, v), g, None, iters,
                              stop_on_nonpositive=True)


def factored_circuit(J, H_blocks, damping, g, *, r_min: float = R_MIN_DEFAULT, r_max: float = R_MAX_DEFAULT,
                     c: float = C_DEFAULT, v_swing: float = V_SWING_DEFAULT, b_norm: float | None = None,
                     scales: FactoredScales | None = None, v_unit: float | None = None,
                     r_f1: float | None = None, r_f2: float | None = None, r_buffer: float | None = None,
                     headroom: float = 1.0, x_ref=None, cg_iters: int = 10, opamp_gain: float = np.inf,
                     scale: str = "bound",
                     noise_psd: float = 0.0, prune: bool = False, x0=None, netlist: bool | None = None,
                     title: str | None = None, out: np.ndarray | None = None) -> FactoredCircuit:
    """Map (J, H, lambda, g) onto the factored circuit (TNGD App. C).

    Parameters (SI units)
    ---------------------
    J        : (m, N) per-example output Jacobian (rows example-major, as ``tngd.Batch.jacobian``).
    H_blocks : (b, dz, dz) loss-Hessian blocks with m = b dz; None = identity 1 x 1 blocks (then J
               is an already normalised factor Ut with F = Ut^T Ut, and b_norm defaults to 1).
    damping  : lambda > 0.   g : (N,) right-hand side (the gradient).
    r_min, r_max : programmable resistance range (every resistor, arrays and stages).
    c        : integrating capacitance.   v_swing : target voltage swing for x*, stage outputs, DACs.
    b_norm   : F = J^T H J / b_norm (default b).
    scales   : reuse a previous programming's scales (g1, g2, g3, r_f1, r_f2, v_unit: tau and v_unit
               stay fixed; entries that then need R < r_min raise RealizabilityError).
    v_unit   : fix volts per unit of x (default v_swing / max|x_ref|).
    r_f1, r_f2 : feedback resistors (default: stage outputs reach v_swing for x_ref, clipped to range).
    headroom : the largest |J|, |H| entry maps to headroom * r_min (room for later, larger entries).
    x_ref    : typical solution used for the voltage scales (e.g. the previous read-out).
    scale    : without x_ref: 'bound' (default; |x| <= |g| / lambda, what the device can know) or 'cg'
               (``cg_iters`` host CG iterations: a digital estimate of the answer).
    opamp_gain : open-loop gain of every op-amp (inf = ideal).
    noise_psd  : injected white current at each s_i (A^2/Hz).
    prune    : leave entries needing R > r_max open (bound recorded) instead of raising.
    x0       : initial x (capacitor initial voltages).
    netlist  : build the Netlist now (True), never (False), or when small (None).
    out      : optional C-contiguous float64 (m, N) buffer that receives the J array (reprogramming
               an existing array in place: no new memory to fault in).

    The component arrays are built in row chunks directly from J (no Python object per element);
    nominal J and J^T arrays share one buffer. Pruning bound (recorded in ``prune``): with
    delta = ||A' - A||_2 / lambda <= [||dJ||_F ||H||_2 (||J||_F + ||J'||_F) + ||J'||_F^2 ||dH||_2] /
    (b_norm lambda), the realised natural gradient x' obeys ||x' - x|| / ||x|| <= delta / (1 - delta)
    (valid when every H block is positive semidefinite: lambda_min(A) >= lambda).
    """
    J = np.asarray(J, dtype=np.float64)
    if J.ndim != 2 or J.size == 0:
        raise MatrixError(f"J must be a non-empty (m, N) matrix, got shape {J.shape}")
    m, N = J.shape
    if H_blocks is None:
        H = np.ones((m, 1, 1))
        b_norm = 1.0 if b_norm is None else b_norm
    else:
        H = np.asarray(H_blocks, dtype=np.float64)
        if H.ndim != 3 or H.shape[1] != H.shape[2] or H.shape[0] * H.shape[1] != m:
            raise MatrixError(f"H_blocks must be (b, dz, dz) with b dz = m = {m}, got shape {H.shape}")
    b, dz = H.shape[0], H.shape[1]
    b_norm = float(b if b_norm is None else b_norm)
    _check_pos("b_norm", b_norm)
    if not np.all(np.isfinite(H)):
        raise MatrixError("H_blocks contain NaN or inf")
    lam = float(damping)
    if not (np.isfinite(lam) and lam > 0):
        raise MatrixError(f"damping lambda must be finite and > 0, got {damping!r}")
    g = np.asarray(g, dtype=np.float64).reshape(-1) if g is not None else np.zeros(N)
    if g.shape != (N,) or not np.all(np.isfinite(g)):
        raise MatrixError(f"g must be a finite vector of length N = {N}, got shape {g.shape}")
    for nm, v in (("r_min", r_min), ("r_max", r_max), ("c", c), ("v_swing", v_swing), ("headroom", headroom)):
        _check_pos(nm, v)
    if r_max < r_min:
        raise RealizabilityError(f"r_max ({r_max} Ohm) is below r_min ({r_min} Ohm)")
    if headroom < 1:
        raise RealizabilityError(f"headroom must be >= 1, got {headroom}")
    if not (np.isfinite(noise_psd) and noise_psd >= 0):
        raise RealizabilityError(f"noise_psd must be finite and >= 0 A^2/Hz, got {noise_psd!r}")
    if not (opamp_gain > 0):
        raise RealizabilityError(f"opamp_gain must be > 0 (inf = ideal), got {opamp_gain!r}")

    def in_range(nm, R):
        if not (r_min * (1 - 1e-12) <= R <= r_max * (1 + 1e-12)):
            raise RealizabilityError(f"{nm} = {R:.4g} Ohm is outside [{r_min:g}, {r_max:g}] Ohm")
        return float(R)
    Jmax = float(max(np.max(J), -np.min(J)))  # no |J| temporary; NaN / inf propagate
    if not np.isfinite(Jmax):
        raise MatrixError("J contains NaN or inf")
    Hmax = float(np.max(np.abs(H)))
    design = {}
    if scales is None:
        g1 = 1.0 / (r_min * headroom * Jmax) if Jmax > 0 else 1.0 / r_min
        g2 = 1.0 / (r_min * headroom * Hmax) if Hmax > 0 else 1.0 / r_min
        g3 = g1
        r_buffer = r_min if r_buffer is None else in_range("r_buffer", float(r_buffer))
        if x_ref is None and scale == "bound":
            # what the device knows without solving: A = J^T H J / b + lambda I with PSD H blocks has
            # lambda_min >= lambda, so |x*|_inf <= |x*|_2 <= |g|_2 / lambda, and by Cauchy-Schwarz
            # |(J x)_k| <= |J_k|_2 |x|_2, |(H J x)_k| <= |(H J)_k|_2 |x|_2 (row norms, O(m N))
            xb = invariant_norm(g) / lam
            HJ = np.einsum("bij,bjn->bin", H, J.reshape(b, dz, N)).reshape(m, N)
            xmax = xb
            jxm = float(np.max(np.linalg.norm(J, axis=1))) * xb
            hjm = float(np.max(np.linalg.norm(HJ, axis=1))) * xb
            design["scale"] = "bound"
        else:
            if x_ref is None and scale != "cg":
                raise RealizabilityError(f"scale must be 'bound' or 'cg', got {scale!r}")
            xr = _cg_estimate(J, H, b_norm, lam, g, int(cg_iters)) if x_ref is None else \
                np.asarray(x_ref, dtype=float).reshape(N)
            xmax = float(np.max(np.abs(xr)))
            Jx = J @ xr
            HJx = np.einsum("bij,bj->bi", H, Jx.reshape(b, dz)).reshape(-1)
            jxm, hjm = float(np.max(np.abs(Jx))), float(np.max(np.abs(HJx)))
            design["scale"] = "x_ref" if x_ref is not None else "cg (host estimate)"
        vu = (v_swing / xmax if xmax > 0 else v_swing) if v_unit is None else _check_pos("v_unit", v_unit)
        auto1, auto2 = r_f1 is None, r_f2 is None
        rf1 = float(np.clip(v_swing / (g1 * vu * jxm), r_min, r_max)) if (auto1 and jxm > 0) else \
            (r_min if auto1 else in_range("r_f1", float(r_f1)))
        rf2 = float(np.clip(v_swing / (g2 * rf1 * g1 * vu * hjm), r_min, r_max)) if (auto2 and hjm > 0) else \
            (r_min if auto2 else in_range("r_f2", float(r_f2)))
        # lambda resistor 1 / (g_unit lambda) must be realisable: adjust g_unit
        gu = b_norm * g1 * g2 * g3 * rf1 * rf2
        R_lam = 1.0 / (gu * lam)
        if R_lam < r_min:  # g_unit too large: lower the feedback resistors, then the array scales
            f = R_lam / r_min  # factor g_unit must be multiplied by (< 1)
            if auto1:
                k = max(f, r_min / rf1)
                rf1, f = rf1 * k, f / k
            if auto2 and f < 1:
                k = max(f, r_min / rf2)
                rf2, f = rf2 * k, f / k
            if f < 1:
                k = f ** (1.0 / 3.0)
                g1, g2, g3 = g1 * k, g2 * k, g3 * k
                design["array_scales_lowered_by"] = 1.0 / k
        elif R_lam > r_max:  # g_unit too small: raise the feedback resistors
            f = R_lam / r_max
            if auto1:
                k = min(f, r_max / rf1)
                rf1, f = rf1 * k, f / k
            if auto2 and f > 1:
                k = min(f, r_max / rf2)
                rf2, f = rf2 * k, f / k
        sc = FactoredScales(g1_siemens=g1, g2_siemens=g2, g3_siemens=g3, r_f1_ohm=rf1, r_f2_ohm=rf2, v_unit_v=vu, c_f=float(c),
                            b_norm=b_norm, r_buffer_ohm=float(r_buffer), r_min_ohm=float(r_min),
                            r_max_ohm=float(r_max))
        design.update(x_ref_max=xmax, stage1_peak_v=rf1 * g1 * vu * jxm, stage2_peak_v=rf2 * g2 * rf1 * g1 * vu * hjm,
                      note="peak stage voltages predicted for the scale's x (ideal op-amps have no rails)")
    else:
        sc = replace(scales, b_norm=b_norm, r_min_ohm=float(r_min), r_max_ohm=float(r_max))
        if v_unit is not None:
            sc = replace(sc, v_unit_v=_check_pos("v_unit", v_unit))
        if not np.isclose(c, scales.c_f):
            sc = replace(sc, c_f=float(c))
    g1, g2, g3 = sc.g1_siemens, sc.g2_siemens, sc.g3_siemens
    gu = sc.g_unit_siemens
    R_lam = in_range("lambda resistor 1/(g_unit lambda)", 1.0 / (gu * lam))
    for nm, R in (("r_f1", sc.r_f1_ohm), ("r_f2", sc.r_f2_ohm), ("r_buffer", sc.r_buffer_ohm)):
        in_range(nm, R)
    # ---- arrays (chunked: no temporary of the size of J)
    gmax = 1.0 / r_min * (1 + 1e-12)
    gmin = 1.0 / r_max
    if out is not None:
        if not (isinstance(out, np.ndarray) and out.shape == (m, N) and out.dtype == np.float64
                and out.flags.c_contiguous and out.flags.writeable):
            raise MatrixError(f"out must be a writeable C-contiguous float64 array of shape {(m, N)}")
        G1 = out
    else:
        G1 = np.empty((m, N))
    n_small, dJ2, J2, n_big, br, bc = build_array(np.ascontiguousarray(J), g1, gmin, gmax, _ZERO_RTOL * Jmax, G1)
    if n_small and not prune:
        small = (np.abs(J) * g1 < gmin) & (np.abs(J) > _ZERO_RTOL * Jmax)
        kk, jj = np.nonzero(small)
        shown = ", ".join(f"J[{k},{j}]={J[k, j]:.3g}" for k, j in zip(kk[:8], jj[:8]))
        more = f" and {n_small - 8} more" if n_small > 8 else ""
        raise RealizabilityError(
            f"{n_small} entries of J need a resistance above r_max = {r_max:g} Ohm (|J| < {gmin / g1:.3g}): "
            f"{shown}{more}. Widen the range (r_max), or pass prune=True to leave them open (error bound "
            "reported).")
    if n_big:
        raise RealizabilityError(
            f"with the given scales, {n_big} entries of J need a resistance below r_min = {r_min:g} Ohm (e.g. "
            f"J[{br},{bc}] = {J[br, bc]:.4g}, |J| > {gmax / g1:.4g}); re-design the scales (scales=None) or "
            "use more headroom")
    G2 = H * g2
    aH = np.abs(G2)
    if np.any(aH > gmax):
        raise RealizabilityError(f"with the given scales, entries of H need a resistance below r_min = "
                                 f"{r_min:g} Ohm (|H| > {gmax / g2:.4g}); re-design the scales or use more headroom")
    hzero = np.abs(H) <= _ZERO_RTOL * Hmax
    hsmall = (aH < gmin) & ~hzero
    dH = np.where(hsmall, H, 0.0)
    if np.any(hsmall) and not prune:
        bb, kk, ll = np.nonzero(hsmall)
        shown = ", ".join(f"H[{b_},{k},{l}]={H[b_, k, l]:.3g}" for b_, k, l in zip(bb[:8], kk[:8], ll[:8]))
        raise RealizabilityError(f"{int(hsmall.sum())} entries of H need a resistance above r_max = {r_max:g} "
                                 f"Ohm: {shown}. Widen r_max or pass prune=True.")
    G2[hsmall | hzero] = 0.0
    # bound
    Hn = float(np.max(np.linalg.norm(H, 2, axis=(1, 2))))  # batched over the blocks
    dHn = float(np.max(np.linalg.norm(dH, 2, axis=(1, 2))))
    Jf, dJf = math.sqrt(J2), math.sqrt(dJ2)
    Jpf = math.sqrt(max(J2 - dJ2, 0.0))
    tol_h = 1e-12 * max(Hn, 1e-300)
    h_psd = bool(np.allclose(H, H.transpose(0, 2, 1), rtol=0, atol=tol_h)
                 and np.min(np.linalg.eigvalsh(0.5 * (H + H.transpose(0, 2, 1)))) >= -tol_h)
    delta = (dJf * Hn * (Jf + Jpf) + Jpf ** 2 * dHn) / (b_norm * lam)
    bound = (delta / (1 - delta) if delta < 1 else float("inf")) if h_psd else None
    prune_info = {"pruned_J_entries": n_small, "pruned_H_entries": int(hsmall.sum()),
                  "dJ_fro": dJf, "dH_2": dHn, "delta": delta if h_psd else None,
                  "relative_solution_error_bound": bound, "h_blocks_psd": h_psd,
                  "rule": "entries with g |entry| < 1/r_max are left open (J and J^T arrays alike)"}
    # ---- vectors
    scan1 = scan_array(G1)
    _, _, negw, negx = scan1
    negy = (G2 < 0).any(axis=1).reshape(m)
    gb = 1.0 / sc.r_buffer_ohm
    vu = sc.v_unit_v
    gmax_g = float(np.max(np.abs(g)))
    r_in = r_max if gmax_g == 0 else float(np.clip(v_swing / (gu * vu * gmax_g), r_min, r_max))
    x0v = np.zeros(N) if x0 is None else np.asarray(x0, dtype=float).reshape(N) * vu
    if not np.all(np.isfinite(x0v)):
        raise MatrixError("x0 must be finite")
    gain = float(opamp_gain)
    comp = FactoredComponents(
        G1=G1, G2=G2, G3=None, g3_ratio=g3 / g1, gf1=np.full(m, 1.0 / sc.r_f1_ohm),
        gf2=np.full(m, 1.0 / sc.r_f2_ohm), g_lambda=np.full(N, 1.0 / R_lam), g_in=np.full(N, 1.0 / r_in),
        v_in=-r_in * gu * vu * g, c=np.full(N, sc.c_f), ic=x0v, noise_psd=np.full(N, float(noise_psd)),
        bx_g=np.where(negx, gb, 0.0), bx_f=np.where(negx, gb, 0.0), by_g=np.where(negy, gb, 0.0),
        by_f=np.where(negy, gb, 0.0), bw_g=np.where(negw, gb, 0.0), bw_f=np.where(negw, gb, 0.0),
        gain_int=np.full(N, gain), gain_bx=np.full(N, gain), gain_s1=np.full(m, gain),
        gain_by=np.full(m, gain), gain_s2=np.full(m, gain), gain_bw=np.full(m, gain), scan_cache=scan1)
    fc = FactoredCircuit(components=comp, scales=sc, damping=lam, rhs=g.copy(), r_in_ohm=r_in,
                         r_lambda_ohm=R_lam, prune=prune_info, design=design)
    build = netlist if netlist is not None else comp.resistor_count() <= NETLIST_MAX_RESISTORS
    if build:
        nl = fc.to_netlist(force=True)
        if title:
            nl.title = title
        fc.netlist_cache = nl
        # the chain must come from the netlist's component values: re-read them
        fc.components = components_from_netlist(nl)
    return fc
