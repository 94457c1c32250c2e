"""Error bars that cover the error: a bound on ||x_hat - x*||_2 from what the device can know.

A solve's answer x_hat (time average of the ADC read-out) differs from x* = A^-1 b by

    ||x_hat - x*|| <= z ||se||  +  ||ADC||  +  transient  +  ||r|| / lambda_lower,          (1)

* z ||se||: the noise, from the batch-means standard error of the run (z = 3);
* ||ADC||: the read-out rounding, half an lsb per component (:class:`~spucircuit.imperfections.models.ADC`);
* transient: what is left of the start after the burn-in, e^(-lambda_lower t_b) (|x0| + |b| / lambda_lower);
* r = A x_dev - b: the residual the device's stationary answer leaves in the nominal equations,
  bounded from the imperfection *spec* (:mod:`spucircuit.imperfections.dc_error`: quantisation,
  tolerances, finite gain, offsets, DAC rounding; never the device's fabricated values), plus what
  the controller itself changed (pruned entries, a calibration's pre-distortion), and
  ||x_dev - x*|| <= ||A^-1|| ||r|| <= ||r|| / lambda_lower with lambda_lower the device's bound
  max_i A_ii / kappa_max (:mod:`spucircuit.numerics.bounds`; the true lambda_min with the oracle).

The relative bound is ||x_hat - x*|| / ||x*|| <= bound / (||x_hat|| - bound) (infinite when the
bound is not below ||x_hat||). A converter that clipped, or a model without a DC error model, makes
the bound unavailable (None), with the reason in ``unbounded``. Cost: O(n^2) for the dense coupling
matrix of the programmed circuit (the device's own entries), no solve.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.sparse as sp

from spucircuit.imperfections.base import Chain
from spucircuit.imperfections.dc_error import Z_SYSTEMATIC, DCContext, DCError
from spucircuit.imperfections.effective import coupling_matrix
from spucircuit.imperfections.instance import Device
from spucircuit.imperfections.models import (
    ADC,
    CapacitorBank,
    InjectedNoise,
    Parasitics,
    Thermal,
)
from spucircuit.numerics.scaling import norm2

Z_NOISE = 3.0  # k-sigma of the noise term


@dataclass(frozen=True)
class ErrorBudget:
    """The terms of eq. (1) (problem units, 2-norms) and the bounds they add up to.

    ``absolute`` bounds ||x_hat - x*||_2, ``relative`` bounds ||x_hat - x*|| / ||x*||; both are None
    when ``unbounded`` names a reason. ``terms``: each imperfection model's share of ``systematic``
    plus ``readout``. ``lam_lower`` and its ``lam_source`` ('spec' or 'oracle') give the 1/lambda.
    """

    absolute: float | None
    relative: float | None
    noise: float
    readout: float
    transient: float
    systematic: float
    lam_lower: float
    lam_source: str
    z: float = Z_NOISE
    terms: dict = field(default_factory=dict)
    unbounded: tuple = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["unbounded"] = list(self.unbounded)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ErrorBudget":
        return cls(**{**d, "unbounded": tuple(d["unbounded"])})


def relative_bound(x, absolute: float | None) -> float | None:
    """||x_hat - x*|| / ||x*|| <= a / (||x_hat|| - a) for ||x_hat - x*|| <= a (inf if a >= ||x_hat||)."""
    if absolute is None:
        return None
    xn = float(norm2(x))
    return absolute / (xn - absolute) if xn > absolute else float("inf")


def finish(x, *, noise: float, readout: float, transient: float, systematic: float, lam_lower: float,
           lam_source: str, terms=None, unbounded=()) -> ErrorBudget:
    """Add the terms of eq. (1) and turn the absolute bound into the relative one."""
    noise, readout, transient, systematic = (float(v) for v in (noise, readout, transient, systematic))
    if np.isnan(noise):  # no standard error: batch means need at least 2 batches
        unbounded = tuple(unbounded) + ("no standard error: the run is too short for 2 batches of 5 slowest "
                                        "relaxation times",)
    absolute = noise + readout + transient + systematic
    return ErrorBudget(absolute=None if unbounded else absolute, relative=relative_bound(x, None if unbounded else absolute), noise=noise, readout=readout,
                       transient=transient, systematic=systematic, lam_lower=lam_lower, lam_source=lam_source,
                       z=Z_NOISE, terms=dict(terms or {}), unbounded=tuple(unbounded))


def transient_bound(lam_lower: float, burn_in_s: float, tau_s: float, b, x0=None) -> float:
    """|x(t_b) - x_dev| <= e^(-lambda t_b) |x0 - x_dev| <= e^(-lambda t_b) (|x0| + |b| / lambda):
    what the device can bound of its start after a burn-in ``burn_in_s`` (lambda in 1/tau)."""
    x0n = 0.0 if x0 is None else float(norm2(x0))
    return float(np.exp(-lam_lower * burn_in_s / tau_s) * (x0n + norm2(b) / lam_lower))


def trapezoidal_transient_bound(lam_lower: float, lam_upper: float, h_tau: float, burn_steps: int, damp_steps: int,
                                b, x0=None) -> float:
    """The trapezoidal scheme's counterpart of :func:`transient_bound` after ``burn_steps`` steps of
    h = ``h_tau`` tau, the first ``damp_steps`` damped (two backward-Euler half steps each,
    :mod:`spucircuit.integrate.trapezoidal`); lambda in [lam_lower, lam_upper] (1/tau, the device's
    bounds), symmetric drift (an ideal array: each mode decays on its own).

    A mode with z = h lambda is multiplied by f(z) = (1 + z/2)^(-2D) |(1 - z/2) / (1 + z/2)|^K,
    D = damp_steps, K = burn_steps - D, and never grows afterwards (|multiplier| <= 1), so
    |x_k - x_dev| <= max f (|x0| + |b| / lam_lower) for every later step k. f decreases on
    [0, 2] (f(2) = 0) and on [2, inf) has one maximum, at z* = 2 (K + D) / D (D > 0; increasing
    without damping), so its maximum over [z_lo, z_hi] is exact from three points."""
    D = int(min(max(damp_steps, 0), burn_steps))
    K = int(burn_steps) - D
    zlo, zhi = float(h_tau) * lam_lower, float(h_tau) * lam_upper

    def f(z):
        with np.errstate(divide="ignore"):
            return float(np.exp(-2 * D * np.log1p(z / 2) + K * (np.log(abs(1 - z / 2)) - np.log1p(z / 2))))

    zs = [zlo, zhi]
    if D > 0:
        zs.append(min(max(2.0 * (K + D) / D, 2.0, zlo), zhi))
    x0n = 0.0 if x0 is None else float(norm2(x0))
    return max(f(z) for z in zs) * (x0n + float(norm2(b)) / lam_lower)


def ideal_budget(x, se, *, lam_lower: float, lam_source: str, transient: float, pruning: dict | None = None) -> ErrorBudget:
    """An ideal array: noise, transient and the pruned entries' perturbation |dA|_F (|x_hat| + d)."""
    noise = Z_NOISE * float(norm2(se))
    d = noise + transient
    dA = float((pruning or {}).get("dA_fro", 0.0))
    systematic = dA * (float(norm2(x)) + np.sqrt(len(x)) * d) / lam_lower
    return finish(x, noise=noise, readout=0.0, transient=transient, systematic=systematic, lam_lower=lam_lower,
                  lam_source=lam_source, terms={"pruning": systematic} if dA else {})


_NO_DC = (InjectedNoise, CapacitorBank, Parasitics)


def _factored_dc(device: Device, x_abs) -> DCError:
    """A factored circuit: only models that leave its DC answer alone, and its ADC, are bounded yet."""
    n = device.n
    items = device.imperfection.flat() if isinstance(device.imperfection, Chain) else (device.imperfection,)
    out = DCError.zero(n)
    for imp in items:
        if isinstance(imp, _NO_DC) or (isinstance(imp, Thermal) and not (imp.tcr_ppm_per_k or imp.tcr_spread_ppm_per_k)):
            continue
        if isinstance(imp, ADC):
            vu = device.nominal.v_unit_v
            step = 0.5 * imp.full_scale_v / (2 ** (int(imp.bits) - 1) - 1)
            out = out + DCError.of("ADC", n, readout=np.full(n, step / vu))
            continue
        out = out + DCError.missing(type(imp).__name__, n, "no DC error model on a factored circuit's arrays yet")
    return out


def dc_context(device: Device, x_abs, b) -> tuple:
    """The context of :mod:`~spucircuit.imperfections.dc_error` and what the controller itself
    changed: rows |A - A_programmed| x_abs + |V_in - V_in,nominal| / (r_in g_unit v_unit)."""
    prog, nom = device.programmed, device.nominal
    A_prog = coupling_matrix(prog)
    v_in = prog.input_volts(b)
    ctx = DCContext(circuit=prog, A_coupling=A_prog, x_abs=x_abs, b=b, v_in=v_in)
    own = np.abs(nom.A - A_prog) @ x_abs + np.abs(v_in - nom.input_volts(b)) / ctx.input_units_v
    return ctx, own


def device_budget(device: Device, x, b, *, se=None, lam_lower: float, lam_source: str, transient: float = 0.0,
                  clipped: int = 0, saturated=()) -> ErrorBudget:
    """Eq. (1) for a programmed device's answer x to right-hand side b (``se``: the run's standard
    error, None for an exact read-out; ``clipped``: converter clips seen and ``saturated``: op-amps
    that sat on a rail, both of which void the bound)."""
    x = np.asarray(x, dtype=float)
    b = np.asarray(b, dtype=float)
    noise = 0.0 if se is None else Z_NOISE * float(norm2(se))
    d = noise + transient
    unbounded = (f"{clipped} converter values clipped",) if clipped else ()
    if saturated:
        unbounded += (f"{len(saturated)} op-amps saturated ({', '.join(list(saturated)[:4])}"
                      f"{', ...' if len(saturated) > 4 else ''})",)
    if device.factored:
        err = _factored_dc(device, np.abs(x) + d)
        readout = float(norm2(err.readout))
        return finish(x, noise=noise, readout=readout, transient=transient, systematic=0.0, lam_lower=lam_lower,
                      lam_source=lam_source, terms=err.terms, unbounded=unbounded + err.unbounded)
    err = device.imperfection.dc_error(dc_context(device, np.abs(x) + d, b)[0])  # the read-out bound first
    readout = float(norm2(err.readout))
    ctx, own = dc_context(device, np.abs(x) + d + readout, b)
    err = device.imperfection.dc_error(ctx)
    prune = float(device.nominal.prune.get("dA_fro", 0.0)) * float(norm2(ctx.x_abs))
    residual = err.residual_norm(Z_SYSTEMATIC) + float(norm2(own)) + prune
    terms = {k: (v / lam_lower if k != "ADC" else v) for k, v in err.terms.items()}
    if np.any(own):
        terms["programming"] = float(norm2(own)) / lam_lower
    if prune:
        terms["pruning"] = prune / lam_lower
    return finish(x, noise=noise, readout=readout, transient=transient, systematic=residual / lam_lower,
                  lam_lower=lam_lower, lam_source=lam_source, terms=terms, unbounded=unbounded + err.unbounded)


def pooled_budget(x, se, budgets, *, extra: float = 0.0) -> ErrorBudget:
    """An ensemble's mean: the pooled noise, and each member's other terms averaged (the mean of
    errors is within the mean of their bounds); ``extra`` (absolute) is added to the systematic
    term (e.g. the norm of a subtracted offset estimate)."""
    bs = list(budgets)
    mean = lambda name: float(np.mean([getattr(bb, name) for bb in bs]))
    terms: dict = {}
    for bb in bs:
        for k, v in bb.terms.items():
            terms[k] = terms.get(k, 0.0) + v / len(bs)
    return finish(x, noise=Z_NOISE * float(norm2(se)), readout=mean("readout"), transient=mean("transient"),
                  systematic=mean("systematic") + extra, lam_lower=min(bb.lam_lower for bb in bs), lam_source=bs[0].lam_source,
                  terms=terms, unbounded=tuple(u for bb in bs for u in bb.unbounded))


# =====================================================================================  inv
def diffusion_anisotropy(Qx) -> float:
    """||Q - q I||_2 / q, q = mean diagonal of the read-out diffusion Q (Gershgorin bound): how far
    the noise is from the equal, uncorrelated drive that makes cov(x) = (q/2) A^-1 (dense or
    scipy.sparse Q, O(nnz))."""
    if sp.issparse(Qx):
        Qx = sp.csr_matrix(Qx)
        d = Qx.diagonal()
        q = float(np.mean(d))
        return float(np.max(np.asarray(abs(Qx - q * sp.identity(Qx.shape[0])).sum(axis=1))) / q)
    Qx = np.asarray(Qx, float)
    q = float(np.mean(np.diag(Qx)))
    D = Qx - q * np.eye(len(Qx))
    return float(np.abs(D).sum(axis=1).max() / q)


def matrix_error_norm(device: Device) -> tuple:
    """(eps, unbounded): eps >= ||A_dev - A||_F from the spec (each model's residual rows at
    x = 1 minus those at x = 0, since ||E||_F <= || (sum_j |E_ij|)_i ||_2), the controller's own
    changes and pruning."""
    if device.factored:
        return 0.0, ("inv on a factored circuit has no matrix error model",)
    prog, nom = device.programmed, device.nominal
    n = nom.n
    A_prog = coupling_matrix(prog)
    z = np.zeros(n)
    e1 = device.imperfection.dc_error(DCContext(prog, A_prog, np.ones(n), z, z))
    e0 = device.imperfection.dc_error(DCContext(prog, A_prog, z, z, z))
    eps = (float(norm2(e1.worst - e0.worst)) + Z_SYSTEMATIC * np.sqrt(max(float((e1.var - e0.var).sum()), 0.0))
           + float(norm2(nom.A - A_prog)) + float(nom.prune.get("dA_fro", 0.0)))
    return eps, e1.unbounded


LADDER_RHO = 0.6  # max |(1 - z/2) / (1 + z/2)| over z in [0.5, 2]: a ladder rung's covariance factor is its square


def trapezoidal_covariance_transient(lam_lower: float, h_tau: float, burn_steps: int, ladder_steps: int | None,
                                     anisotropy: float = 0.0) -> float:
    """|E|_2 in units of A^-1 (times 2/q) after a trapezoidal run from x = 0 (b = 0): what the
    covariance still lacks of the stationary S = (q/2)(1 +- anisotropy) A^-1.

    E evolves as E' = M E M^T (the noise cancels) from E_0 = S, every M a function of the same
    symmetric drift, so |E|_2 <= (1 + anisotropy) max_lambda phi(lambda)^2 / lambda, phi the product
    of the step multipliers rho(z) = (1 - z/2) / (1 + z/2), |rho| <= 1, z = h lambda. The step
    ladder (:func:`spucircuit.linalg.selected.settle_covariance`: steps 2 / lambda_upper x 4^j below
    h, ``ladder_steps`` steps each) gives every mode with h lambda > 4 one rung with z in [0.5, 2]:
    phi^2 <= 0.36^ladder_steps there, and 1 / lambda < h / 4. The modes with h lambda <= 4 get
    ``burn_steps`` steps at h with |rho| <= max(|rho(h lam_lower)|, 1/3). ``ladder_steps`` None: no
    ladder was needed (h lambda_upper <= 2: no mode has h lambda > 4)."""
    z_lo = float(h_tau) * lam_lower
    stiff = 0.0 if ladder_steps is None else LADDER_RHO ** (2 * int(ladder_steps)) * float(h_tau) / 4.0
    slow = 0.0
    if z_lo <= 4.0:
        r = max(abs((1 - z_lo / 2) / (1 + z_lo / 2)), 1.0 / 3.0)
        slow = r ** (2 * int(burn_steps)) / lam_lower
    return (1.0 + anisotropy) * max(slow, stiff)


def inv_budget(Ainv, se, *, lam_lower: float, lam_source: str, anisotropy: float, eps: float = 0.0,
               burn_in_tau: float = 0.0, adc_lsb_v: float | None = None, v_unit: float = 1.0, q: float = 1.0,
               adc_noise_v: float = 0.0, adc_gain_error: float = 0.0, adc_dnl_v: float = 0.0,
               adc_inl_slope: float = 0.0, unbounded=(), transient_norm2: float | None = None,
               entries: int | None = None) -> ErrorBudget:
    """A bound on ||A_hat^-1 - A^-1||_F for A_hat^-1 = 2 cov(x) / q.

    The device's covariance solves A_dev S + S A_dev^T = Q with A_dev = A + E, |E| <= eps, and
    |Q - q I| <= anisotropy q. Then D = S - (q/2) A^-1 solves A D + D A = Q - q I - (E S + S E^T),
    so (2/q) |D|_2 <= (eps / lambda + anisotropy) / (lambda - eps) (Lyapunov: |D| <= |RHS| / 2 lambda),
    times sqrt(n) for the Frobenius norm. Plus 3 x the noise (|se|_F) and the ADC: rounding each
    sample by at most lsb/2 moves cov_ij by at most lsb/2 (s_i + s_j) + lsb^2/4 (s the read-out's
    standard deviations, V; far less when the noise dithers it, see the code). A run started at x = 0 has the covariance S - e^(-A t) S e^(-A t) after
    the burn-in t: sqrt(n) e^(-2 (lambda - eps) t) / (lambda - eps) is left. A real ADC adds: its
    transition noise (rms ``adc_noise_v``, independent per sample) to the diagonal, whose spec value
    the estimate has subtracted (its whole variance stays in the bound: a part's noise is typical,
    not exact); its gain error g scales the covariance by (1 + g)^2; its INL, a smooth bow of slope at
    most L = ``adc_inl_slope``, moves cov_ij by at most L (2 + L) s_i s_j (a Lipschitz map changes a
    Gaussian's standard deviation by at most L times it: Poincare); its DNL, at most e = ``adc_dnl_v``
    per sample, by at most e (s_i + s_j) + e^2, like rounding (its offset cancels in a covariance).
    ``relative`` bounds the
    Frobenius relative error. ``transient_norm2``: a scheme's own bound on the start's |E|_2 (A^-1
    units; :func:`trapezoidal_covariance_transient`) instead of the exponential scheme's.
    ``entries``: ``Ainv`` and ``se`` are k = ``entries`` selected entries (a vector): every entry of a
    matrix is at most its 2-norm, so sqrt(k) replaces sqrt(n) (the read-out terms need the whole
    matrix and are not available then). (The spread of the Johnson noise with the resistors' tolerances, about
    1e-4 of the injected noise times the tolerance, is left out.)
    """
    Ainv = np.asarray(Ainv, float)
    n = len(Ainv) if entries is None else int(entries)
    noise = Z_NOISE * float(norm2(se))
    readout = 0.0
    if adc_lsb_v and entries is not None:
        raise ValueError("inv_budget: the read-out terms need the whole matrix, not selected entries")
    if adc_lsb_v:
        s = np.sqrt(np.clip(np.diag(Ainv), 0.0, None) * q / 2.0) * v_unit  # read-out standard deviations (V)
        # Gaussian read-outs wider than an lsb leave rounding errors uniform and uncorrelated with
        # the signal up to exp(-2 pi^2 s^2 / lsb^2) (Widrow & Kollar, Quantization Noise, 2008, ch. 4-5):
        # only Sheppard's lsb^2/12 on the diagonal; narrower ones get the worst case
        smin = np.minimum(s[:, None], s[None, :])
        g = np.minimum(1.0, 2.0 * np.exp(-2.0 * np.pi**2 * smin**2 / adc_lsb_v**2))
        dcov = (g * (0.5 * adc_lsb_v * (s[:, None] + s[None, :]) + 0.25 * adc_lsb_v**2)
                + np.eye(n) * adc_lsb_v**2 / 12.0)
        if adc_dnl_v:
            e = float(adc_dnl_v)
            dcov = dcov + e * (s[:, None] + s[None, :]) + e**2
        if adc_inl_slope:
            L = abs(float(adc_inl_slope))
            dcov = dcov + L * (2.0 + L) * s[:, None] * s[None, :]
        dcov = dcov + np.eye(n) * float(adc_noise_v) ** 2
        readout = float(norm2(dcov)) * 2.0 / (q * v_unit**2)
        if adc_gain_error:
            g = abs(float(adc_gain_error))
            readout += (2.0 * g + g * g) * (float(norm2(Ainv)) + readout) / (1.0 - 2.0 * g - g * g)
    unbounded = tuple(unbounded)
    transient = 0.0
    if eps >= lam_lower:
        unbounded += (f"the matrix error bound {eps:.3g} is not below lambda_lower {lam_lower:.3g}",)
        systematic = float("inf")
    else:
        systematic = np.sqrt(n) * (eps / lam_lower + anisotropy) / (lam_lower - eps)
        transient = np.sqrt(n) * (np.exp(-2.0 * (lam_lower - eps) * burn_in_tau) / (lam_lower - eps)
                                  if transient_norm2 is None else float(transient_norm2))
    terms = {"noise anisotropy": np.sqrt(n) * anisotropy / (lam_lower - eps) if eps < lam_lower else float("inf")}
    if eps:
        terms["matrix error"] = systematic - terms["noise anisotropy"]
    return finish(Ainv, noise=noise, readout=readout, transient=transient, systematic=systematic,
                  lam_lower=lam_lower, lam_source=lam_source, terms=terms, unbounded=unbounded)


def device_inv_budget(device: Device, Ainv, se, *, lam_lower: float, lam_source: str, burn_in_tau: float = np.inf,
                      read_out: bool = True, clipped: int = 0) -> ErrorBudget:
    """:func:`inv_budget` for a programmed device's estimate: the design's noise anisotropy
    (:meth:`~spucircuit.imperfections.instance.Device.design_x_diffusion`), the spec's matrix error (:func:`matrix_error_norm`), its ADC (``read_out``) and clips."""
    mc = device.nominal
    Qx = device.design_x_diffusion()
    q = float(np.mean(np.diag(Qx)))
    eps, unbounded = matrix_error_norm(device)
    adc = device.build.adc if read_out else None
    if clipped:
        unbounded = unbounded + (f"{clipped} read-out values clipped",)
    real = {} if adc is None else {"adc_noise_v": adc.noise_lsb * adc.lsb, "adc_gain_error": adc.gain_error,
                                   "adc_dnl_v": adc.dnl_lsb * adc.lsb,
                                   # the bow inl (1 - (v / fs)^2) lsb has slope at most 2 inl lsb / fs
                                   "adc_inl_slope": 2.0 * abs(adc.inl_lsb) * adc.lsb / adc.full_scale_v}
    return inv_budget(Ainv, np.zeros_like(Ainv) if se is None else se, lam_lower=lam_lower, lam_source=lam_source,
                      anisotropy=diffusion_anisotropy(Qx), eps=eps, burn_in_tau=burn_in_tau,
                      adc_lsb_v=None if adc is None else adc.lsb, v_unit=mc.v_unit_v, q=q, unbounded=unbounded,
                      **real)


# =====================================================================================  sampling, Lyapunov
def sample_budget(cov, se, *, lam_lower: float, lam_source: str, anisotropy: float, eps: float = 0.0,
                  burn_in_tau: float = 0.0, gain: float = 1.0, mean_transient: float = 0.0) -> ErrorBudget:
    """A bound on ||C_hat - Sigma||_F for the sample covariance C_hat of samples y = mu + G z,
    z the circuit's rescaled read-out (covariance A^-1 up to :func:`inv_budget`'s systematic and
    transient terms) and G = I (given the precision) or Sigma (given the covariance):
    ||G (Z - A^-1) G||_F <= ``gain`` ||Z - A^-1||_F with ``gain`` >= ||G||_2^2. Plus 3 x the noise
    (|se|_F of C_hat) and the start of the mean: a drift of the mean by at most d across the samples
    adds at most d^2 to C_hat (``mean_transient`` = d in sample units)."""
    base = inv_budget(cov, np.zeros_like(cov), lam_lower=lam_lower, lam_source=lam_source, anisotropy=anisotropy,
                      eps=eps, burn_in_tau=burn_in_tau)
    terms = {k: gain * v for k, v in base.terms.items()}
    if mean_transient:
        terms["mean transient"] = float(mean_transient) ** 2
    return finish(cov, noise=Z_NOISE * float(norm2(se)), readout=0.0,
                  transient=gain * base.transient + float(mean_transient) ** 2, systematic=gain * base.systematic,
                  lam_lower=lam_lower, lam_source=lam_source, terms=terms, unbounded=base.unbounded)


def lyapunov_gain(F, max_steps: int = 20_000) -> float:
    """An upper bound on int_0^inf |e^{F t}|_2^2 dt for a stable F (tau units), hence on the norm of
    X -> the solution D of F D + D F^T + X = 0 (|D|_F <= gain |X|_F), computed from F alone:
    M_k = |e^{F k h}|_2 on a grid of step h = 0.1 / |F|_2 (products of one expm, O(n^3) each), each
    step's sup <= M_k e^{mu+ h} (mu+ = max(0, log norm of F)), until M_K <= 1/2; the tail beyond is at
    most the sum so far times M_K^2 / (1 - M_K^2) (semigroup). inf if it does not decay in ``max_steps``."""
    from scipy.linalg import expm

    F = np.asarray(F, float)
    mu = float(np.linalg.eigvalsh(0.5 * (F + F.T))[-1])
    if mu < 0:
        return 1.0 / (2.0 * abs(mu))
    h = 0.1 / float(np.linalg.norm(F, 2))
    step, E = expm(F * h), np.eye(len(F))
    grow = np.exp(2.0 * mu * h)
    total = 0.0
    for _ in range(max_steps):
        m = float(np.linalg.norm(E, 2))
        if m <= 0.5:
            return total / (1.0 - m * m)
        total += h * m * m * grow
        E = step @ E
    return float("inf")


def lyap_budget(P, se, F, Q, Qx, c: float, *, lam_lower: float, lam_source: str, burn_in_tau: float) -> ErrorBudget:
    """A bound on ||P_hat - P||_F for P_hat = cov(x) / c, x driven by dx = F x dt + dW, cov(dW) =
    Qx dt, and P solving F P + P F^T + Q = 0 (F, Q in tau units; c the fit of Qx to c Q).

    * noise: 3 |se|_F;
    * systematic: D = P_dev - P solves F D + D F^T + E = 0, E = Qx / c - Q (the circuit's Johnson
      noise, unequal and correlated, and pruned noise weights): |D|_F <= g |E|_F with g >= int
      |e^{F t}|_2^2 dt from :func:`lyapunov_gain` (1 / (2 |mu|) for a contractive F);
    * transient: a run started at x = 0 has the covariance P - e^{F t} P e^{F^T t} at the end of the
      burn-in t: |e^{F t}|_2^2 sqrt(n) |P|_2 is left (|e^{F t}|_2 computed from F, O(n^3), digital).
    """
    from scipy.linalg import expm

    P = np.asarray(P, float)
    n = len(P)
    noise = Z_NOISE * float(norm2(se))
    E = np.asarray(Qx, float) / c - np.asarray(Q, float)
    p2 = float(np.linalg.norm(P, 2)) + noise
    gain = lyapunov_gain(F)
    unbounded = () if np.isfinite(gain) else ("|e^{F t}| did not decay below 1/2 within 20000 grid steps: no bound "
                                              "on the bias of the circuit's own Johnson noise",)
    systematic = gain * float(norm2(E))
    grow = float(np.linalg.norm(expm(F * burn_in_tau), 2))
    transient = grow**2 * np.sqrt(n) * (p2 + (systematic if np.isfinite(systematic) else 0.0))
    return finish(P, noise=noise, readout=0.0, transient=transient, systematic=systematic, lam_lower=lam_lower,
                  lam_source=lam_source, terms={"noise mismatch": systematic}, unbounded=unbounded)
