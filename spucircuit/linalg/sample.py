"""Gaussian sampling on the integrator array: samples of N(mu, Sigma) read from the relaxed circuit.

Physics (physics.md 1, 2a): the array programmed with SPD A and right-hand side b relaxes to the
stationary law N(A^-1 b, (q/2) A^-1), q the x-unit diffusion per tau of its injected noise (an equal
white current at every summing node, as :func:`~spucircuit.linalg.solve.inv` injects, plus every
resistor's Johnson noise). Read every ``spacing`` after a burn-in, the read-outs are samples; the
fluctuation is rescaled by sqrt(2/q) (q from the compiled circuit: what the design knows) about
the mean the circuit was programmed with.

* Given the precision P = Sigma^-1: A = P, b = P mu (a digital O(n^2) product), the chains start at
  x = mu; sample y = mu + sqrt(2/q) (x - mu), covariance P^-1 = Sigma.
* Given the covariance Sigma: the array is programmed with A = Sigma itself, b = mu, so x has mean
  Sigma^-1 mu and covariance (q/2) Sigma^-1, and each sample is y = mu + sqrt(2/q) (Sigma x - mu):
  cov(Sigma x) = Sigma Sigma^-1 Sigma = Sigma, mean mu. This needs no inverse at all (an ``inv`` on
  the twin first would add its own 1 % error and a second run, and refusing would leave the
  common case to the user); the price is one digital product Sigma x per sample, O(n^2), the cost
  of reading the sample out. The chains start at 0 (Sigma^-1 mu is not known): the mean's start is in
  the error bound.

Spacing: the slowest mode of the circuit decays at lambda_min >= lambda_lower = max_i A_ii /
kappa_max (the bound a device can compute, :class:`~spucircuit.numerics.bounds.SpectrumBounds`; never
the spectrum itself). The default spacing 3 / lambda_lower tau leaves every mode correlated by at
most rho = e^-3 = 0.05 between consecutive samples of a chain, and the reported effective sample
size N (1 - rho) / (1 + rho) (an AR(1) chain's, for the mean; the covariance's is larger) is a lower
bound. Burn-in 10 / lambda_lower tau. The exponential scheme is exact at any step, so the circuit is
simulated at one step per sample.

``architecture='capacitive'``: the same samples from the capacitively coupled RLC board
(:func:`~spucircuit.linalg.capacitive.capacitive_sample`, physics.md 2c): its capacitors realise P
(given the precision, ``mode='inverse'``) or Sigma^-1 (given the covariance, ``mode='sample'``; the
board's programming takes that inverse digitally, O(n^3)), its read-out x has law N(0, Sigma) and the
sample is mu + x (the board has no input: the mean is added digitally). Only matrices the passive
board realises are accepted (non-positive off-diagonal entries, diagonally dominant; else its
RealizabilityError names the entries). Spacing and burn-in default to 3 and 20 slowest relaxation
times of the compiled board (its eigenvalues, O(n^3): the board's own tau, not a bound). Its result
carries the same fields: the effective sample size N (1 - rho) / (1 + rho) with rho the largest
correlation at one spacing of any read-out (:func:`~spucircuit.linalg.capacitive.whitened_contraction`,
a bound for the second-order, non-normal RLC drift), the batch standard error of the covariance
(about the known mean) and an error bound: 3 |se|_F + the start (rho_b^2 |Sigma|_2 sqrt(n), rho_b the
contraction over the burn-in) + the capacitors' round-off |S_realised - Sigma|_F. The bound is exact
only when the board is Gibbs (equal R_i S_i in every cell, the default); otherwise its first-order
bias is not bounded and ``error_bound`` is None (named in ``error_budget['unbounded']``).
"""
from __future__ import annotations

import numpy as np

from spucircuit._util.quantities import parse_time
from spucircuit.circuit.integrator_array import integrator_array
from spucircuit.circuit.noise import default_injected_psd
from spucircuit.constants import R_MAX_DEFAULT, R_MIN_DEFAULT, T_ROOM
from spucircuit.errors import MatrixError
from spucircuit.linalg.error_bound import diffusion_anisotropy, sample_budget, transient_bound
from spucircuit.linalg.solve import INV_POLICY, Rates, SolveInfo, stationary_run
from spucircuit.numerics.bounds import KAPPA_MAX_DEFAULT, SpectrumBounds
from spucircuit.numerics.matrices import as_vector, check_spd
from spucircuit.numerics.stats import cov_and_se, mean_and_se

GIVEN = ("precision", "covariance")
ARCHITECTURES = ("integrator", "capacitive")
SPACING_SLOW = 3.0  # default spacing, slowest relaxation times (correlation <= e^-3 between samples)
BURN_SLOW = 10.0  # default burn-in, slowest relaxation times
MIN_SAMPLES = 64  # the standard errors take 32 batches of at least 2 samples


def _count(v, name: str, least: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < least:
        raise MatrixError(f"{name} must be an integer >= {least}, got {v!r}")
    return int(v)


def effective_sample_size(n_samples: int, rho: float) -> float:
    """N (1 - rho) / (1 + rho): the effective size of N samples of AR(1) chains of correlation rho."""
    return float(n_samples * (1.0 - rho) / (1.0 + rho))


def sample(matrix, n_samples: int, *, mean=None, given: str = "precision", spacing=None, burn_in=None,
           chains: int = 8, seed=None, temperature_k: float = T_ROOM, noise_psd: float | None = None,
           kappa_max: float = KAPPA_MAX_DEFAULT, return_info: bool = False, progress=False,
           architecture: str = "integrator", **mapping_kwargs):
    """``n_samples`` samples of N(mu, Sigma) from the integrator-array twin, shape (n_samples, n).

    Args:
        matrix: SPD precision P = Sigma^-1 (``given='precision'``, default) or covariance Sigma
            (``given='covariance'``); module doc for what each programs.
        n_samples: at least 64; ``mean``: mu (default 0).
        spacing, burn_in: seconds or 'Ntau'; defaults 3 and 10 slowest relaxation times (bound).
        chains: chains run in parallel (at most n_samples // 8 are used), each keeps one sample per
            spacing; samples are ordered time-major (sample k of every chain, then k + 1).
        noise_psd: injected noise per summing node, A^2/Hz (default: inv's, 1e4 x Johnson).
        seed, temperature_k, progress, kappa_max, mapping_kwargs: as :func:`inv`.
        architecture: 'integrator' (the op-amp integrator array, any SPD matrix) or 'capacitive'
            (the RLC board, module doc; ``mapping_kwargs`` go to its ``capacitive_spu``, kappa_max and
            temperature_k are not used, noise_psd is its injected PSD).

    Returns:
        samples, or (samples, :class:`SolveInfo`) with ``covariance`` (the samples' covariance),
        ``standard_error`` (its batch-means standard error), ``mean`` and ``mean_standard_error``,
        ``error_bound`` (relative Frobenius bound on the sample covariance's error against Sigma),
        ``effective_sample_size`` (lower bound), ``spacing_s`` and ``analog_time_s``.
    """
    if given not in GIVEN:
        raise MatrixError(f"given must be one of {GIVEN}, got {given!r}")
    if not isinstance(architecture, str) or architecture not in ARCHITECTURES:
        raise MatrixError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    A = check_spd(matrix, "P" if given == "precision" else "Sigma")
    n = A.shape[0]
    mu = np.zeros(n) if mean is None else as_vector(mean, n, "mean")
    n_samples = _count(n_samples, "n_samples", MIN_SAMPLES)
    chains = min(_count(chains, "chains", 1), n_samples // 8)
    if architecture == "capacitive":
        return _capacitive(A, mu, given, n_samples, spacing=spacing, burn_in=burn_in, chains=chains, seed=seed,
                           noise_psd=noise_psd, return_info=return_info, progress=progress, **mapping_kwargs)
    rates = Rates.from_bounds(SpectrumBounds.from_matrix(A, kappa_max))
    if noise_psd is None:
        noise_psd = default_injected_psd(A, mapping_kwargs.get("r_min", R_MIN_DEFAULT),
                                         mapping_kwargs.get("r_max", R_MAX_DEFAULT), temperature_k)
    b, x0 = (A @ mu, mu) if given == "precision" else (mu, None)
    mc = integrator_array(A, b, noise_psd=noise_psd, x0=x0, check=False, scale="bound", kappa_max=kappa_max,
                          **mapping_kwargs)
    tau = mc.tau_s
    h = parse_time(spacing, tau) if spacing is not None else SPACING_SLOW / rates.slow * tau
    tb = BURN_SLOW / rates.slow * tau if burn_in is None else (
        0.0 if isinstance(burn_in, (int, float)) and not isinstance(burn_in, bool) and burn_in == 0
        else parse_time(burn_in, tau))
    tb = np.ceil(tb / h) * h  # whole steps: the run after it keeps exactly one sample per step
    per_chain = -(-n_samples // chains)
    run = stationary_run(mc, INV_POLICY, lambda eigenvalues: rates, what="sample draws its samples", dt=h,
                         time=tb + per_chain * h, burn_in=tb, temperature_k=temperature_k, chains=chains, seed=seed,
                         max_samples=per_chain, progress=progress)
    x = run.res.x[:per_chain]  # (per_chain, chains, n)
    w = x if given == "precision" else x @ A  # Sigma x (A symmetric)
    y = mu + np.sqrt(2.0 / run.q) * (w - mu)
    samples = y.reshape(-1, n)[:n_samples]
    if not return_info:
        return samples
    cov, se = cov_and_se(samples)
    cov = 0.5 * (cov + cov.T)
    m, se_m = mean_and_se(samples)
    rho = float(np.exp(-rates.slow * h / tau))
    gain = 1.0 if given == "precision" else float(np.max(np.abs(A).sum(axis=1))) ** 2  # >= |Sigma|_2^2
    d = 0.0 if given == "precision" else (np.sqrt(2.0 / run.q) * np.sqrt(gain)
                                           * transient_bound(rates.slow, run.burn_in_s, tau, b))
    budget = sample_budget(cov, se, lam_lower=rates.slow, lam_source=rates.source,
                           anisotropy=diffusion_anisotropy(run.Qx), burn_in_tau=run.burn_in_s / tau, gain=gain,
                           mean_transient=d)
    info = SolveInfo(
        task="sample", standard_error=se, analog_time_s=run.burn_in_s + run.res.analog_time_s,
        burn_in_s=run.burn_in_s, tau_s=tau, dt_s=run.spu.dt, chains=chains, noise_psd_A2_per_Hz=noise_psd,
        diffusion_x_per_tau=run.q, components=mc.component_counts(), mapped=mc, covariance=cov, mean=m,
        mean_standard_error=se_m, spacing_s=h, effective_sample_size=effective_sample_size(n_samples, rho),
        scale={"method": "bound", "kappa_max": float(kappa_max), "rates": rates.source, "v_unit_V": mc.v_unit_v,
               "given": given, "correlation_bound": rho},
        error_bound=budget.relative, error_budget=budget.to_dict(),
    )
    return samples, info


def _capacitive(A, mu, given, n_samples, *, spacing, burn_in, chains, seed, noise_psd, return_info, progress,
                **circuit_kwargs):
    """sample() on the capacitive RLC board (module doc)."""
    from spucircuit.linalg.capacitive import capacitive_sample
    from spucircuit.linalg.error_bound import Z_NOISE, finish
    from spucircuit.numerics.scaling import norm2

    if noise_psd is not None:
        circuit_kwargs["noise_psd"] = noise_psd
    x, cinfo = capacitive_sample(A, n_samples, spacing=spacing, burn_in=burn_in, chains=chains, seed=seed,
                                 progress=progress, return_info=True,
                                 mode="inverse" if given == "precision" else "sample", **circuit_kwargs)
    samples = mu + x
    if not return_info:
        return samples
    n = len(mu)
    circ = cinfo["circuit"]
    sigma = np.linalg.inv(A) if given == "precision" else A  # what the samples' law should be
    realised = circ.realised_target
    realised = np.linalg.inv(realised) if given == "precision" else realised
    rho, rho_b = cinfo["correlation_bound"], cinfo["burn_in_correlation"]
    se = cinfo["standard_error"]
    cov = cinfo["covariance"]
    transient = rho_b**2 * float(np.linalg.eigvalsh(sigma)[-1]) * np.sqrt(n)
    systematic = float(np.linalg.norm(realised - sigma))
    unbounded = () if circ.gibbs else ("the board is not Gibbs (unequal R_i S_i): its covariance is off "
                                       "Sigma to first order, not bounded here",)
    budget = finish(cov, noise=Z_NOISE * float(norm2(se)), readout=0.0, transient=transient, systematic=systematic,
                    lam_lower=1.0, lam_source="compiled board (eigenvalues)",
                    terms={"start": transient, "capacitor round-off": systematic}, unbounded=unbounded)
    m, se_m = mean_and_se(samples)
    info = SolveInfo(
        task="sample", standard_error=se, analog_time_s=cinfo["analog_time_s"], burn_in_s=cinfo["burn_in_s"],
        tau_s=cinfo["tau_slow_s"], dt_s=cinfo["spacing_s"], chains=chains, components=cinfo["components"],
        covariance=cov, mean=m, mean_standard_error=se_m, spacing_s=cinfo["spacing_s"],
        effective_sample_size=effective_sample_size(n_samples, rho),
        scale={"method": "capacitive board", "architecture": "capacitive", "given": given,
               "correlation_bound": rho, "burn_in_correlation": rho_b, "gibbs": bool(circ.gibbs),
               "v_unit_V": circ.v_unit_v, "theta_J": circ.theta},
        error_bound=budget.relative, error_budget=budget.to_dict(),
    )
    return samples, info
