"""Linear algebra on the capacitively coupled RLC board (Melanson et al.): A^-1 from its
stationary covariance (:func:`capacitive_inv`) and Gaussian samples (:func:`capacitive_sample`),
both run on the twin from the component values with the exact scheme."""
from __future__ import annotations

import numpy as np

from spucircuit._util.quantities import parse_time
from spucircuit.circuit.capacitive_array import CapacitiveCircuit, capacitive_spu
from spucircuit.device.spu import SPU
from spucircuit.errors import MatrixError, RealizabilityError
from spucircuit.numerics.stats import cov_and_se
from spucircuit.statespace.mna import compile_netlist


def dynamics(circ: CapacitiveCircuit) -> dict:
    """Relaxation and resonance figures of the compiled circuit (eigenvalues of its drift, O(n^3)),
    cached on the circuit (and then part of its ``to_dict()`` and SPICE export)."""
    if circ.dynamics_cache is None:
        ev = np.linalg.eigvals(compile_netlist(circ.netlist, circ.temperature_k).drift.to_dense())
        rate = -ev.real
        if np.any(rate <= 0):
            raise RealizabilityError("the cell array is not stable (a drift eigenvalue has Re >= 0)")
        zeta = rate / np.abs(ev)
        osc = np.abs(ev.imag) > 0
        circ.dynamics_cache = {
            "tau_slow_s": float(1.0 / rate.min()),
            "tau_fast_s": float(1.0 / rate.max()),
            "damping_ratio_min": float(zeta.min()),
            "damping_ratio_max": float(zeta.max()),
            "resonance_hz_min": float(np.abs(ev.imag[osc]).min() / (2 * np.pi)) if osc.any() else 0.0,
            "resonance_hz_max": float(np.abs(ev.imag[osc]).max() / (2 * np.pi)) if osc.any() else 0.0,
        }
    return dict(circ.dynamics_cache)


# ------------------------------------------------------------------- running it
def _run(circ: CapacitiveCircuit, *, dt, burn_in, run_time, chains, seed, max_samples, progress):
    spu = SPU(circ.netlist, temperature_k=circ.temperature_k, scheme="exponential", dt=dt, chains=chains,
              seed=seed)
    tb = spu.run(burn_in, max_samples=1).analog_time_s if burn_in > 0 else 0.0
    res = spu.run(run_time, max_samples=max_samples, progress=progress)
    Y, _ = spu.ss.node_voltage_map(circ.nodes)
    x = circ.x_from_volts(res.states @ Y.T)  # (m, chains, n)
    return spu, res, x, tb


def _analog(value, tau, allow_zero=False):
    """Seconds from a number of seconds or a string such as '50tau' (tau: slowest relaxation)."""
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
    circ = capacitive_spu(A, mode="inverse", rescale=rescale, **circuit_kwargs)
    tau = dynamics(circ)["tau_slow_s"]
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


def whitened_contraction(ss, times) -> list:
    """|S^-1/2 e^{F t} S^1/2|_2 for each t (s), F the compiled drift and S its stationary state covariance
    (F S + S F^T + D = 0): the largest correlation, at lag t, of any linear read-out of the stationary
    circuit (and at most 1, since S - e^{Ft} S e^{F^T t} >= 0). O(n^3) per t; 1.0 when S is singular."""
    from scipy.linalg import expm, solve_continuous_lyapunov

    F = ss.drift.to_dense() if hasattr(ss.drift, "to_dense") else np.asarray(ss.drift)
    D = np.asarray(ss.diffusion.to_dense() if hasattr(ss.diffusion, "to_dense") else ss.diffusion, float)
    S = solve_continuous_lyapunov(F, -D)
    try:
        L = np.linalg.cholesky(0.5 * (S + S.T))
    except np.linalg.LinAlgError:
        return [1.0 for _ in times]
    return [float(min(1.0, np.linalg.norm(np.linalg.solve(L, expm(F * t) @ L), 2))) for t in times]


def capacitive_sample(S, n_samples: int, *, spacing=None, burn_in=None, chains: int = 8,
                      seed=None, rescale: bool = False, return_info: bool = False,
                      progress: bool = False, mode: str = "sample", **circuit_kwargs):
    """``n_samples`` samples of N(0, S) read from the capacitive SPU twin, shape (n_samples, n)
    (``mode='inverse'``: S is a precision A and the samples are of N(0, A^-1), the capacitors realising
    A itself, no inverse taken).

    The chains run in parallel after a burn-in (default 20 tau); each keeps one sample every
    ``spacing`` (default 3 tau: the slowest mode's correlation between samples is e^-3 = 0.05,
    faster modes much less). Samples are ordered time-major (sample k of every chain, then k+1).
    With ``return_info``: (samples, info) with ``covariance`` (sample covariance about the known
    zero mean), its ``standard_error`` (batch covariances over time and chains), the circuit and
    ``correlation_bound`` / ``burn_in_correlation``: :func:`whitened_contraction` at the spacing and
    at the burn-in (the largest lag correlation of any read-out; the covariance's start is off by
    at most burn_in_correlation^2 in the stationary law's own norm).
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise MatrixError(f"n_samples must be an integer >= 2, got {n_samples!r}")
    if int(chains) < 1:
        raise MatrixError(f"chains must be >= 1, got {chains!r}")
    circ = capacitive_spu(S, mode=mode, rescale=rescale, **circuit_kwargs)
    tau = dynamics(circ)["tau_slow_s"]
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
    info["correlation_bound"], info["burn_in_correlation"] = whitened_contraction(spu.ss, [spu.dt, tb])
    return samples, info
