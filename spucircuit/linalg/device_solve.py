"""spucircuit/linalg/device_solve.py (from spucircuit/imperfections/models.py)."""
from __future__ import annotations

import numpy as np

from spucircuit.imperfections.instance import Device, nominal_diffusion
from spucircuit.numerics.matrices import as_vector
from spucircuit.numerics.stats import cov_and_se, mean_and_se


# =========================================================================  solve / inv
def device_solve(device: Device, b=None, *, time=None, burn_in=None, chains: int = 1, seed=None,
                 noise: bool = True, samples: int | None = None, scheme: str = "exact",
                 dt: float | None = None):
    """Solve on the device twin: time average of the ADC read-out after burn-in.

    Times as :func:`~spucircuit.solvers.solve` (default 220 / lambda_min tau, burn-in
    min(T/2, 20 / lambda_min tau); lambda of the *target* matrix). ``samples``: ADC samples per
    chain (default up to 20000). Returns (x, info) with ``standard_error`` (batch means),
    ``analog_time_s``, ``adc_clipped``, ``dac_clipped``.
    """
    from spucircuit.linalg.solve import MAX_STEPS_DEFAULT, _times

    device._need()
    mc = device.nominal
    b = mc.b if b is None else as_vector(b, mc.n)
    lam = np.linalg.eigvalsh(mc.A)
    total, tb = _times(lam, mc.tau_s, time, burn_in, 220.0)
    if dt is None and scheme == "exact":
        dt = max(0.5 / lam[-1] * mc.tau_s, total / MAX_STEPS_DEFAULT)
    spu = device.spu(noise=noise, scheme=scheme, dt=dt, chains=chains, seed=seed)
    spu.set_rhs(b)
    if tb > 0:
        tb = spu.run(tb, max_samples=1, adc=False).analog_time_s
    kw = {} if samples is None else {"max_samples": int(samples)}
    res = spu.run(max(total - tb, spu.dt), **kw)
    slow = 5.0 / lam[0] * mc.tau_s
    spacing = res.t[0] if len(res.t) else spu.dt
    x, se = mean_and_se(res.x, min_batch=int(np.ceil(slow / spacing)))
    info = {
        "standard_error": se, "analog_time_s": tb + res.analog_time_s, "burn_in_s": tb,
        "tau_s": mc.tau_s, "dt_s": spu.dt, "adc_samples": res.adc_samples,
        "adc_clipped": res.adc_clipped, "dac_clipped": spu.dac_clipped,
        "x_before_adc": res.x_before_adc_mean.mean(axis=0),
    }
    return x, info


def device_inv(device: Device, *, time=None, burn_in=None, chains: int = 8, seed=None,
               scheme: str = "exact", dt: float | None = None, samples: int | None = None):
    """A^-1 = 2 cov(x) / q from the device twin's stationary fluctuations (b = 0). The device
    must carry an injected noise (program it with mapping noise_psd, as
    :func:`~spucircuit.solvers.inv` does); q is the nominal diffusion."""
    from spucircuit.linalg.solve import MAX_STEPS_DEFAULT, _times

    device._need()
    mc = device.nominal
    lam = np.linalg.eigvalsh(mc.A)
    total, tb = _times(lam, mc.tau_s, time, burn_in, 2000.0)
    if burn_in is None:
        tb = min(0.1 * total, 10.0 / lam[0] * mc.tau_s)
    if dt is None and scheme == "exact":
        dt = max(min(0.2 / lam[0] * mc.tau_s, (total - tb) / 1000), total / MAX_STEPS_DEFAULT)
    spu = device.spu(noise=True, scheme=scheme, dt=dt, chains=chains, seed=seed)
    spu.set_rhs(np.zeros(mc.n))
    if tb > 0:
        tb = spu.run(tb, max_samples=1, adc=False).analog_time_s
    res = spu.run(max(total - tb, spu.dt), max_samples=int(samples or MAX_STEPS_DEFAULT))
    cov, se = cov_and_se(res.x)
    q = nominal_diffusion(mc, device.build.temperature_k)
    Ainv = 2.0 * cov / q
    return 0.5 * (Ainv + Ainv.T), {
        "standard_error": 2.0 * se / q, "analog_time_s": tb + res.analog_time_s, "chains": chains,
        "adc_clipped": res.adc_clipped, "diffusion_x_per_tau": q,
    }
