"""Thermodynamic linear algebra on the twin: ``solve`` (time average) and ``inv`` (covariance).

Both map A onto an integrator array (:func:`~spucircuit.mapping.integrator_array`), simulate the
circuit from its component values with :class:`~spucircuit.device.SPU`, and map the node voltages
back to problem units. Analog times are in seconds, or strings like '50tau'; tau = C / g_unit is
the mapping's time unit (dx/dt = -(A x - b) with t in tau).
"""
from __future__ import annotations

import numpy as np

from spucircuit._util.quantities import parse_time
from spucircuit.circuit.integrator_array import integrator_array
from spucircuit.circuit.noise import default_injected_psd
from spucircuit.constants import R_MAX_DEFAULT, R_MIN_DEFAULT, T_ROOM
from spucircuit.device.spu import SPU
from spucircuit.integrate.discretize import symmetric_eigen
from spucircuit.numerics.matrices import as_vector, check_spd
from spucircuit.numerics.stats import cov_and_se, mean_and_se

MAX_STEPS_DEFAULT = 200_000


def _program(mc, *, scheme: str, dt, **spu_kw):
    """SPU for ``mc`` and the ascending eigenvalues of the realised A (dimensionless).

    They come from the drift's eigendecomposition when it is symmetric (ideal arrays; the same
    eigh then serves the exact scheme's set-up, so the spectrum costs nothing extra), else from
    eigvalsh(mc.A). The SPU is made with a provisional step when the step is still to be chosen.
    """
    provisional = dt if dt is not None else (None if scheme == "euler" else 1.0)
    spu = SPU(mc, scheme=scheme, dt=provisional, **spu_kw)
    sym = symmetric_eigen(spu.ss)
    lam = np.sort(-sym[0] * mc.tau_s) if sym is not None else np.linalg.eigvalsh(mc.A)
    return spu, lam


def _times(lam, tau, time, burn_in, default_tau_units):
    total = parse_time(time, tau) if time is not None else default_tau_units / lam[0] * tau
    if burn_in is None:
        tb = min(0.5 * total, 20.0 / lam[0] * tau)
    else:
        tb = 0.0 if (isinstance(burn_in, (int, float)) and burn_in == 0) else parse_time(burn_in, tau)
    if tb >= total:
        from spucircuit.errors import ParseError

        raise ParseError(f"burn-in ({tb:.4g} s) must be shorter than the analog time ({total:.4g} s)")
    return total, tb


def solve(A, b, *, time=None, burn_in=None, chains: int = 1, seed=None, scheme: str = "exact",
          dt: float | None = None, temperature_k: float = T_ROOM, noise: bool = True, x0=None,
          prune: bool = False, return_info: bool = False, progress: bool = False, **mapping_kwargs):
    """x ~ A^-1 b as the time average of the twin's node voltages after burn-in.

    time     : total analog time (s or 'Ntau'); default 220 / lambda_min(A) tau.
    burn_in  : discarded initial time; default min(time / 2, 20 / lambda_min tau).
    The standard error comes from batch means at least 5 / lambda_min tau long (several chains
    or a long window are needed for it to have enough batches; ``info['se_batches']``).
    Returns x, or (x, info) with ``standard_error`` (batch means over time and chains),
    ``analog_time_s``, ``burn_in_s``, ``tau_s``, ``components``, ``transient_bias_bound``.
    """
    A = check_spd(A)
    b = as_vector(b, A.shape[0])
    mc = integrator_array(A, b, prune=prune, x0=x0, check=False, **mapping_kwargs)
    spu, lam = _program(mc, scheme=scheme, dt=dt, temperature_k=temperature_k, noise=noise,
                        chains=chains, seed=seed)
    total, tb = _times(lam, mc.tau_s, time, burn_in, 220.0)
    if dt is None and scheme == "exact":
        spu.set_dt(max(0.5 / lam[-1] * mc.tau_s, total / MAX_STEPS_DEFAULT))
    if tb > 0:
        tb = spu.run(tb, max_samples=1).analog_time_s  # the burn-in actually simulated
    res = spu.run(max(total - tb, spu.dt), progress=progress)
    slow = 5.0 / lam[0] * mc.tau_s  # batch length for honest batch means, s
    spacing = res.t[0] if len(res.t) else spu.dt
    x, se = mean_and_se(res.x, min_batch=int(np.ceil(slow / spacing)))
    if not return_info:
        return x
    xs = np.linalg.solve(mc.A, b)
    x0v = np.zeros_like(b) if x0 is None else np.asarray(x0, float)
    info = {
        "standard_error": se,
        "analog_time_s": tb + res.analog_time_s,
        "burn_in_s": tb,
        "tau_s": mc.tau_s,
        "dt_s": spu.dt,
        "steps": int(round(tb / spu.dt)) + res.n_steps,
        "se_reliable": bool(np.all(np.isfinite(se))),
        "scheme": scheme,
        "components": mc.component_counts(),
        "transient_bias_bound": float(np.exp(-lam[0] * tb / mc.tau_s) * np.linalg.norm(x0v - xs)),
        "pruning": mc.prune,
        "se_batches": int(min(res.x.shape[0] // max(1, int(np.ceil(slow / spacing))),
                              max(2, 32 // chains) if chains < 32 else 1) * chains),
        "mapped": mc,
    }
    return x, info


def inv(A, *, time=None, burn_in=None, chains: int = 8, seed=None, scheme: str = "exact",
        dt: float | None = None, temperature_k: float = T_ROOM, noise_psd: float | None = None,
        prune: bool = False, return_info: bool = False, progress: bool = False, **mapping_kwargs):
    """A^-1 from the stationary covariance of the twin with b = 0.

    An equal white noise current of PSD ``noise_psd`` (A^2/Hz) is injected at every summing node;
    by default 1e4 x the largest Johnson PSD landing on a summing node, so that the Johnson
    noise (not equal across rows, and correlated through the inverting buffers) biases the result
    by about 1e-4 only. The covariance of x is rescaled by the diffusion the twin actually has:
    A^-1 = 2 cov(x) / q, q = mean diagonal of the x-unit diffusion per tau.

    time : total analog time per chain; default 2000 / lambda_min(A) tau (relative SE ~1 % with
    8 chains).
    """
    A = check_spd(A)
    r_min = mapping_kwargs.get("r_min", R_MIN_DEFAULT)
    r_max = mapping_kwargs.get("r_max", R_MAX_DEFAULT)
    if noise_psd is None:
        noise_psd = default_injected_psd(A, r_min, r_max, temperature_k)
    mc = integrator_array(A, None, prune=prune, noise_psd=noise_psd, check=False, **mapping_kwargs)
    spu, lam = _program(mc, scheme=scheme, dt=dt, temperature_k=temperature_k, noise=True,
                        chains=chains, seed=seed)
    total, tb = _times(lam, mc.tau_s, time, burn_in, 2000.0)
    if burn_in is None:
        tb = min(0.1 * total, 10.0 / lam[0] * mc.tau_s)
    if dt is None and scheme == "exact":
        spu.set_dt(max(min(0.2 / lam[0] * mc.tau_s, (total - tb) / 1000), total / MAX_STEPS_DEFAULT))
    if tb > 0:
        tb = spu.run(tb, max_samples=1).analog_time_s
    res = spu.run(max(total - tb, spu.dt), max_samples=MAX_STEPS_DEFAULT, progress=progress)
    cov_x, se_x = cov_and_se(res.x)
    Y, _ = spu.readout_map
    Qx = (Y @ spu.ss.diffusion @ Y.T) * mc.tau_s / mc.v_unit_v**2
    q = float(np.mean(np.diag(Qx)))
    Ainv = 2.0 * cov_x / q
    Ainv = 0.5 * (Ainv + Ainv.T)
    if not return_info:
        return Ainv
    off = Qx - np.diag(np.diag(Qx))
    info = {
        "standard_error": 2.0 * se_x / q,
        "analog_time_s": tb + res.analog_time_s,
        "burn_in_s": tb,
        "tau_s": mc.tau_s,
        "dt_s": spu.dt,
        "chains": chains,
        "noise_psd_A2_per_Hz": noise_psd,
        "diffusion_x_per_tau": q,
        "noise_anisotropy": float((np.ptp(np.diag(Qx)) + 2 * np.abs(off).sum(axis=1).max()) / q),
        "components": mc.component_counts(),
        "mapped": mc,
    }
    return Ainv, info
