"""Matrix exponentials on the twin (thermodynamic matrix exponential, Duffield et al.): expm(-A) and
expm(A) from the autocovariance of a circuit realising a non-symmetric drift.

Identity. For the OU process dx = F x dt + dW (F stable, cov(dW) = Q dt, any Q) the lag-s
autocovariance is E[x(t + s) x(t)^T] = expm(F s) E[x(t) x(t)^T]: expm(F s) = C(s) S^-1, S the
covariance at time t. In sampled form, x_{k+1} = Phi_h x_k + e_k with Phi_h = expm(F h) and e_k
independent of x_k. The circuit is sampled every h = tau / m and Phi_h is read as the least-squares
estimate (sum x_{k+1} x_k^T)(sum x_k x_k^T)^-1 (with an intercept, so a constant offset cannot bias
it): C_hat(h) S_hat^-1, C and S from the same run. Then

    expm(F) = Phi_h^m        (computed digitally, O(n^3 log m)).

This is the maximum-likelihood estimate of expm(F) from the sampled path (the least-squares Phi_h is
the MLE of Phi_h, and the MLE is invariant under Phi -> Phi^m); it holds from any start
(E[x_{k+1} | x_k] = Phi_h x_k), so no burn-in is discarded, and it needs neither Q nor the scale of
the diffusion (no noise calibration enters). Reading the lag tau directly (m = 1, thermox's way)
is the same estimator without the time scaling; its error grows like e^(lambda) for a mode decaying
at lambda, whereas with h resolving the fastest mode (h <= 0.5 / the drift's Gershgorin bound, which
the device computes from its entries) the error of Phi_h^m approaches that of the continuously
observed path (relative error ~ sqrt(lambda / T)): 8x smaller on thermox's expnegm case at equal
analog time.

What the circuit realises (as :func:`~spucircuit.linalg.lyapunov.lyap`): the integrator array
programmed with -F (signed entries through inverting buffers, any symmetry), so that
dx/dt = F x + noise with t in the mapping's time unit tau (C / g_unit, set by the conductance scale);
each summing node gets an equal injected white noise current (inv's default) plus every resistor's
Johnson noise. Time scaling: the lag is one tau (m steps of h), so the circuit computes expm(F) for
F in tau units; in seconds, the lag is tau = C / g_unit (``info.scale['lag_s']``).

* ``expnegm(A)`` = expm(-A): F = -A, which needs every eigenvalue of A with a positive real part;
* ``expm(A)``: F = A itself (expm(A) = expnegm(-A)), which needs A stable (every eigenvalue with a
  negative real part, e.g. thermox's [[-0.4, 0.1], [0.5, -0.3]]); an unstable A is refused (its
  largest eigenvalue real part named): no stationary circuit realises it.

Error: the asymptotic covariance of the least-squares estimate, cov(Phi_i., Phi_j.) =
Sigma_ij (Z^T Z)^-1 (:mod:`~spucircuit.numerics.trajectory`), carried to Phi_h^m to first order
(d Phi^m = sum_j Phi^j dPhi Phi^(m-1-j)), gives the covariance C of vec(expm) and the standard
error of every entry. The noise term of the bound is a bound on |E_hat - E|_F for a Gaussian error
of covariance C (:func:`frobenius_noise_bound`): the smaller of 3 sqrt(tr C) and the
Laurent-Massart tail sqrt(tr C + 2 sqrt(t tr C^2) + 2 t |C|_2) at the same probability (t =
-ln 0.0027). For many entries the squared error concentrates at tr C (|E_hat - E|_F ~ |se|_F), and
3 |se|_F overstated it threefold: at n = 64 the relative bound was 1.4 (above 100 %) for an error of
0.2. Plus, for pruned entries (|dF|_F = eps), |expm(F + dF) - expm(F)|_F <= sqrt(n) eps
e^(mu+ + eps) (mu+ = max(0, log norm of F), computed from F). The least-squares bias is O(1/N) for
N pairs, below the noise by sqrt(N).

Run time: ``time`` if given; else adaptive to a ``target`` relative bound (default 5 %), from what
the run measures, not the spectrum: a pilot of 100 tau, then one extension to the time its noise
term predicts (noise ~ T^-1/2: T = T_pilot (noise / noise_target)^2, 20 % margin), at most
``max_time`` (default 1e5 tau); a run that ends above its target warns (ShortRunWarning). The pairs
of both runs enter one least-squares fit (the extension starts its own path: no pair across the
seam). Runs are made in segments and accumulated, so memory does not grow with the run. Cost: one eig
of F (the stability check), the exact scheme's set-up, O(n^2) per step and chain, and O(m^2 n^4)
digital work for C (:func:`~spucircuit.numerics.trajectory.power_and_cov_kron`: the least-squares
covariance is a Kronecker product, so the m-th power's Jacobian is never formed; 1 s at n = 64).
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.sparse.linalg import eigsh

from spucircuit._util.quantities import parse_time
from spucircuit._util.seeds import seed_sequence
from spucircuit.circuit.integrator_array import integrator_array
from spucircuit.circuit.noise import default_injected_psd
from spucircuit.constants import R_MAX_DEFAULT, R_MIN_DEFAULT, T_ROOM
from spucircuit.errors import ShortRunWarning, SPUError
from spucircuit.linalg.error_bound import Z_NOISE, finish
from spucircuit.linalg.lyapunov import lyap_rates
from spucircuit.linalg.solve import INV_POLICY, SolveInfo, stationary_run
from spucircuit.numerics.bounds import KAPPA_MAX_DEFAULT
from spucircuit.numerics.matrices import as_matrix, check_stable
from spucircuit.numerics.scaling import norm2
from spucircuit.numerics.trajectory import Var1Stats, power_and_cov_kron

SEGMENT_STEPS = 20_000  # steps per segment of a long run (8 chains x n = 8: 10 MB)
STEP_RATE = 0.5  # the sampling step h resolves the fastest mode: h <= STEP_RATE / (rate bound)
DEFAULT_TARGET = 0.05  # the relative error bound a run without a given time aims at
PILOT_TAU = 100.0  # the adaptive run's pilot (tau)
MAX_TAU = 1e5  # the adaptive run's longest analog time (tau), unless max_time
MARGIN = 1.2  # the extension's margin over the predicted time (the pilot's noise estimate is itself noisy)
EXTEND_SPAWN_KEY = 16  # the extension's noise comes from this child key of the run's seed
T_TAIL = -np.log(0.0027)  # the tail probability of a 3-sigma normal bound, as e^-t


def frobenius_noise_bound(C) -> float:
    """A bound on |e|_2 for a Gaussian e ~ N(0, C) exceeded with probability about 0.0027 (module
    doc): min(3 sqrt(tr C), sqrt(tr C + 2 sqrt(t tr C^2) + 2 t |C|_2)), t = -ln 0.0027 (Laurent &
    Massart, Ann. Statist. 28, 2000, Lemma 1, for the weighted chi-square |e|^2 = sum_i lambda_i z_i^2).
    |C|_2: the largest eigenvalue (Lanczos above 512 entries, rounded up by 1e-6 relative)."""
    C = 0.5 * (np.asarray(C, float) + np.asarray(C, float).T)
    tr = float(np.trace(C))
    if not tr > 0:
        return 0.0
    tr2 = float(np.sum(C * C))
    if C.shape[0] <= 512:
        top = float(np.linalg.eigvalsh(C)[-1])
    else:
        top = float(eigsh(C, k=1, which="LA", return_eigenvectors=False, tol=1e-8)[0]) * (1 + 1e-6)
    lm = np.sqrt(tr + 2.0 * np.sqrt(T_TAIL * tr2) + 2.0 * T_TAIL * max(top, 0.0))
    return float(min(Z_NOISE * np.sqrt(tr), lm))


def lag_steps(fast: float) -> int:
    """m, the samples per lag of one tau: h = tau / m <= STEP_RATE / fast (``fast`` >= the fastest
    rate, 1/tau: the Gershgorin bound of the drift, what the device computes from its entries)."""
    return max(1, int(np.ceil(fast / STEP_RATE)))


def _expm_drift(F, task: str, *, time=None, target=None, max_time=None, chains: int = 8, seed=None,
                temperature_k: float = T_ROOM, noise_psd: float | None = None, kappa_max: float = KAPPA_MAX_DEFAULT,
                return_info: bool = False, progress=False, **mapping_kwargs):
    """expm(F) (F stable, tau units) as the twin's lag-one-tau regression matrix (module doc)."""
    n = F.shape[0]
    if target is None and time is None:
        target = DEFAULT_TARGET
    if target is not None:
        target = float(target)
        if not (np.isfinite(target) and target > 0):
            raise SPUError(f"target must be a relative error bound > 0, got {target!r}")
    rates = lyap_rates(F, kappa_max)
    if noise_psd is None:
        noise_psd = default_injected_psd(F, mapping_kwargs.get("r_min", R_MIN_DEFAULT),
                                         mapping_kwargs.get("r_max", R_MAX_DEFAULT), temperature_k)
    mc = integrator_array(-F, None, noise_psd=noise_psd, check=False, **mapping_kwargs)
    m = lag_steps(rates.fast)
    max_s = parse_time(max_time, mc.tau_s) if max_time is not None else MAX_TAU * mc.tau_s
    stats = Var1Stats(n)
    fresh = [True]

    def consume(res):
        stats.add(res.x, new=fresh[0])
        fresh[0] = False

    def stationary(t, s):
        fresh[0] = True
        return stationary_run(mc, INV_POLICY, lambda eigenvalues: rates, what=f"{task} reads the exponential",
                              dt=mc.tau_s / m, time=t, burn_in=0, temperature_k=temperature_k, chains=chains, seed=s,
                              max_samples=SEGMENT_STEPS, progress=progress, consume=consume)

    eps = float(mc.prune.get("dA_fro", 0.0))
    mu = max(0.0, float(np.linalg.eigvalsh(0.5 * (F + F.T))[-1]))
    systematic = eps * np.exp(mu + eps) * np.sqrt(n)

    def estimate():
        fit = stats.fit()
        E, cov = power_and_cov_kron(fit.Phi, fit.Sigma, fit.Zi[:n, :n], m)  # = J cov_phi J^T, O(m^2 n^4)
        return fit, E, cov, frobenius_noise_bound(cov)

    run = stationary(time if time is not None else f"{PILOT_TAU}tau", seed)
    analog = run.res.analog_time_s
    fit, E, cov, noise = estimate()
    extended = 0.0
    if target is not None:
        a_target = target * float(norm2(E)) / (1.0 + target)  # relative = a / (|E| - a) (error_bound.finish)
        want = analog * MARGIN * (noise / (a_target - systematic)) ** 2 if a_target > systematic else np.inf
        if noise + systematic > a_target:
            more = min(want, max_s) - analog
            if more > 0:
                ss = seed_sequence(seed)
                child = np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (EXTEND_SPAWN_KEY,),
                                               pool_size=ss.pool_size)
                run2 = stationary(more, child)
                extended = run2.res.analog_time_s
                analog += extended
                fit, E, cov, noise = estimate()
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None)).reshape(n, n)
    budget = finish(E, noise=noise, readout=0.0, transient=0.0, systematic=systematic,
                    lam_lower=rates.slow, lam_source=rates.source, terms={"pruning": systematic} if eps else {})
    if target is not None and not (budget.relative is not None and budget.relative <= target):
        warnings.warn(f"{task}: the run ended at a relative error bound of {budget.relative:.3g}, above the target "
                      f"{target:g} (analog time {analog / mc.tau_s:.4g} tau, at most {max_s / mc.tau_s:.4g}): give a "
                      "longer max_time or a larger target", ShortRunWarning, stacklevel=3)
    budget_dict = budget.to_dict()
    se_fro = float(norm2(se))
    if se_fro > 0:  # the noise term is z |se|_F with this z (<= 3: the Frobenius rule of the module doc)
        budget_dict["z"] = noise / se_fro
    budget_dict["noise_rule"] = "min(3 sqrt(tr C), Laurent-Massart tail at probability 0.0027)"
    info = SolveInfo(
        task=task, standard_error=se, analog_time_s=analog, burn_in_s=0.0, window_s=analog,
        tau_s=mc.tau_s, dt_s=run.spu.dt, steps=int(round(analog / run.spu.dt)), chains=chains,
        noise_psd_A2_per_Hz=noise_psd, diffusion_x_per_tau=run.q, components=mc.component_counts(), mapped=mc,
        scale={"method": "bound", "kappa_max": float(kappa_max), "rates": run.rates.source, "v_unit_V": mc.v_unit_v,
               "lag_s": mc.tau_s, "step_s": mc.tau_s / m, "steps_per_lag": m, "pairs": fit.pairs,
               "identity": "expm(F) = Phi_h^m, Phi_h = C(h) S^-1 (least squares), h = tau / m",
               "target": target, "extension_s": extended},
        error_bound=budget.relative, error_budget=budget_dict,
    )
    return (E, info) if return_info else E


def expnegm(A, **kwargs):
    """expm(-A) from the twin realising dx = -A x dt + noise (module doc); A: (n, n), every
    eigenvalue with a positive real part, any symmetry.

    Keyword arguments: time (analog time, s or 'Ntau'; default adaptive: a 100 tau pilot extended
    until the relative error bound is at most ``target``, default 0.05, within ``max_time``, default
    1e5 tau: module doc), target (with a time: that time is the pilot), max_time, chains, seed, temperature_k, noise_psd (A^2/Hz per summing node),
    kappa_max, return_info, progress, and the mapping's (r_min, r_max, c, ...).
    Returns expm(-A), or (expm(-A), :class:`SolveInfo`) with ``standard_error`` (per entry),
    ``error_bound`` (relative, Frobenius), ``error_budget`` and ``analog_time_s``.
    """
    A = as_matrix(A, "A")
    return _expm_drift(check_stable(-A, "-A", what="expnegm(A) needs every eigenvalue of A with a positive real part"),
                       "expnegm", **kwargs)


def expm(A, **kwargs):
    """expm(A) for a stable A (every eigenvalue with a negative real part) from the twin realising
    dx = A x dt + noise: expm(A) = expnegm(-A) (module doc). Arguments and result as :func:`expnegm`."""
    A = as_matrix(A, "A")
    return _expm_drift(check_stable(A, "A", what="expm(A) on the twin needs a stable A"), "expm", **kwargs)
