"""Lyapunov equations F P + P F^T + Q = 0 on the twin: P is the stationary covariance of the circuit
dx = F x dt + dW, cov(dW) = Q dt (physics.md 1, with a general stable drift).

What is realised at circuit level (:func:`~spucircuit.circuit.integrator_array.integrator_array`):
the integrator array programmed with A = -F. Its resistor array realises any real matrix whose
entries fit the resistor range (signs through inverting buffers), symmetric or not, so the circuit
obeys dx/dt = F x in tau units with F itself, non-normal or not. The noise Q is injected at circuit
level too: a noise array (:func:`~spucircuit.circuit.integrator_array.add_noise_array`) of one
transimpedance stage per column of a factor Q = L L^T carries white noise currents into the summing
nodes through resistors r_min / |L_ik|, so the summing nodes see currents of covariance proportional
to Q. The compiled circuit's x-unit diffusion Qx (injected plus every resistor's Johnson noise) is
fitted as c Q (c = <Qx, Q>_F / <Q, Q>_F, what the design knows) and P_hat = cov(x) / c; the rest,
Qx - c Q, is the bias the error bound carries (:func:`~spucircuit.linalg.error_bound.lyap_budget`).

Run times follow inv (:data:`~spucircuit.linalg.solve.INV_POLICY`) with the slowest rate bounded from
the problem class, max_i (-F_ii) / kappa_max (-tr F / n is the mean decay rate of the modes, so the
slowest is at most max_i (-F_ii); kappa_max states how much slower it may be). The eigenvalues of F
are computed once to refuse an unstable F (the error names the largest real part), never to plan the
run. Cost: one eig of F (check), the compile and the exact scheme's set-up (O(n^3)), O(n^2) per step.
"""
from __future__ import annotations

import numpy as np

from spucircuit.circuit.integrator_array import integrator_array
from spucircuit.circuit.noise import default_injected_psd
from spucircuit.constants import R_MAX_DEFAULT, R_MIN_DEFAULT, T_ROOM
from spucircuit.linalg.error_bound import lyap_budget
from spucircuit.linalg.solve import INV_POLICY, Rates, SolveInfo, stationary_run, warn_if_short
from spucircuit.numerics.bounds import KAPPA_MAX_DEFAULT, check_kappa_max
from spucircuit.numerics.matrices import check_psd, check_stable
from spucircuit.numerics.stats import cov_and_se


def lyap_rates(F, kappa_max: float) -> Rates:
    """The rates a device can bound for drift F (1/tau): slowest >= max_i (-F_ii) / kappa_max (a
    problem-class spec), fastest <= max_i sum_j |F_ij| (Gershgorin)."""
    kappa_max = check_kappa_max(kappa_max)
    top = float(np.max(-np.diag(F)))
    return Rates(slow=top / kappa_max, fast=float(np.max(np.abs(F).sum(axis=1))), source="spec")


def lyap(F, Q, *, time=None, burn_in=None, chains: int = 8, seed=None, scheme: str = "exponential",
         dt: float | None = None, temperature_k: float = T_ROOM, noise_psd: float | None = None,
         return_info: bool = False, progress=False, kappa_max: float = KAPPA_MAX_DEFAULT, **mapping_kwargs):
    """P solving F P + P F^T + Q = 0 from the stationary covariance of the twin (module doc).

    Args:
        F: (n, n) stable drift (every eigenvalue with a negative real part), any symmetry.
        Q: (n, n) symmetric positive semi-definite noise covariance.
        time, burn_in: analog time and discarded start (s or 'Ntau'); default 2000 and 10 slowest
            relaxation times, the slowest from the bound max_i (-F_ii) / kappa_max.
        noise_psd: PSD of each injected noise current, A^2/Hz (default: inv's, 1e4 x Johnson).
        chains, seed, scheme, dt, temperature_k, progress, mapping_kwargs: as :func:`inv`.

    Returns:
        P, or (P, :class:`SolveInfo`) with ``standard_error`` (batch covariances / c),
        ``error_bound`` (relative, Frobenius), ``error_budget`` and ``analog_time_s``.
    """
    F = check_stable(F)
    n = F.shape[0]
    Q = check_psd(Q, n)
    rates = lyap_rates(F, kappa_max)
    r_min = mapping_kwargs.get("r_min", R_MIN_DEFAULT)
    r_max = mapping_kwargs.get("r_max", R_MAX_DEFAULT)
    if noise_psd is None:
        noise_psd = default_injected_psd(F, r_min, r_max, temperature_k)
    mc = integrator_array(-F, None, noise_psd=noise_psd, noise_cov=Q, check=False, **mapping_kwargs)
    run = stationary_run(mc, INV_POLICY, lambda eigenvalues: rates, what="lyap reads P", scheme=scheme, dt=dt,
                         time=time, burn_in=burn_in, temperature_k=temperature_k, chains=chains, seed=seed,
                         progress=progress)
    c = float(np.sum(run.Qx * Q) / np.sum(Q * Q))
    cov_x, se_x = cov_and_se(run.res.x)
    P = 0.5 * (cov_x + cov_x.T) / c
    se = se_x / c
    budget = lyap_budget(P, se, F, Q, run.Qx, c, lam_lower=rates.slow, lam_source=rates.source,
                         burn_in_tau=run.burn_in_s / mc.tau_s)
    info = SolveInfo(
        task="lyap", standard_error=se, analog_time_s=run.burn_in_s + run.res.analog_time_s,
        burn_in_s=run.burn_in_s, tau_s=mc.tau_s, dt_s=run.spu.dt, chains=chains, noise_psd_A2_per_Hz=noise_psd,
        diffusion_x_per_tau=c, components=mc.component_counts(), mapped=mc,
        scale={"method": "bound", "kappa_max": float(kappa_max), "rates": rates.source, "v_unit_V": mc.v_unit_v,
               "noise_array": mc.scaling.get("noise_array")},
        error_bound=budget.relative, error_budget=budget.to_dict(),
    )
    warn_if_short(info, P, INV_POLICY, rates, mc.tau_s, time, run.total_s)
    return (P, info) if return_info else P
