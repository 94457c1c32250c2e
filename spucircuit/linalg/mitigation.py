"""Averaging error mitigation (physics.md section 4; Aifer et al., arXiv 2401.16231).

Program K devices (or one device K times) with independent *unbiased* roundings A_k of the target,
E[A_k] = A, and pool their samples. For ``solve`` the pooled mean is mean_k A_k^-1 b; for ``inv``
the pooled covariance is mean_k A_k^-1 (times the noise scale). Expanding A_k = A + E_k,

    A_k^-1 = A^-1 - A^-1 E_k A^-1 + A^-1 E_k A^-1 E_k A^-1 - ...

the first-order term averages to -A^-1 (mean_k E_k) A^-1 and the second-order one to a bias of
order eps^2 (eps = component imprecision). With K *independent* roundings mean_k E_k is
O(eps / sqrt K): it hides the eps^2 behaviour unless K >> 1 / eps^2.

What we do instead (``scheme='stratified'``, the default): the K roundings of each component are
stratified -- uniforms (pi(k) + U) / K with a random permutation pi per component -- so each
member is still, marginally, an unbiased stochastic rounding, but the K roundings of every
component average to the target within one level step / K (the ensemble behaves like a bank with
log2 K more bits). The first-order residual is then O(eps / K) instead of O(eps / sqrt K) and the
O(eps^2) bias is visible for K of order 1 / eps. ``scheme='independent'`` gives the i.i.d. version.

Only the *controller's* randomness (rounding, DAC dither) is stratified. Fabrication errors
(tolerance, offsets) are whatever nature made: with ``devices='separate'`` (K boards) they are
independent per member and average as 1/sqrt K; with ``devices='reprogram'`` (one board K times)
they do not average at all.
"""
from __future__ import annotations

import numpy as np

from spucircuit.circuit.integrator_array import MappedCircuit, integrator_array
from spucircuit.errors import SPUError
from spucircuit.imperfections.base import Imperfection, chain
from spucircuit.imperfections.instance import Device, nominal_diffusion
from spucircuit.imperfections.models import ResistorBank, Thermal
from spucircuit.linalg.error_bound import ErrorBudget, pooled_budget
from spucircuit.linalg.solve import device_inv, device_solve


class Ensemble:
    """K devices (members) programmed with coordinated roundings of the same target."""

    def __init__(self, imperfection: Imperfection | None, K: int, seed=None, *,
                 scheme: str = "stratified", devices: str = "separate", **mapping):
        if int(K) < 1:
            raise SPUError(f"ensemble size K must be >= 1, got {K}")
        if scheme not in ("stratified", "independent"):
            raise SPUError(f"unknown ensemble scheme {scheme!r}: use 'stratified' or 'independent'")
        if devices not in ("separate", "reprogram"):
            raise SPUError(f"unknown ensemble devices {devices!r}: use 'separate' or 'reprogram'")
        self.K, self.scheme, self.devices = int(K), scheme, devices
        self.members = [
            Device(imperfection, seed, member=k, members=self.K, stratify=(scheme == "stratified"),
                   fab_member=0 if devices == "reprogram" else k, **mapping)
            for k in range(self.K)
        ]
        self.mapping = dict(mapping)
        self.nominal: MappedCircuit | None = None

    def program(self, A, b=None, *, calibration=None) -> "Ensemble":
        """Program every member with target A, b (mapped onto an integrator array)."""
        return self.program_circuit(integrator_array(A, b, **self.mapping), calibration=calibration)

    def program_circuit(self, circuit, *, calibration=None) -> "Ensemble":
        """Program every member with a mapped circuit of either architecture. ``calibration``: one
        calibration for all members or a list with one per member (each device has its own
        fabrication errors)."""
        self.nominal = circuit
        cals = calibration if isinstance(calibration, (list, tuple)) else [calibration] * self.K
        for dev, cal in zip(self.members, cals):
            dev.program_circuit(circuit, calibration=cal)
        return self

    # ------------------------------------------------------------------ exact (noise-free)
    def steady_solve(self, b=None):
        """Pooled exact stationary read-out: mean over members of each member's x* (through its
        DAC and ADC). Returns (x, info) with the members' read-outs and clipping counts."""
        xs, clip = [], 0
        for dev in self.members:
            x, rep = dev.steady_x(b, warn=False)
            xs.append(x)
            clip += rep["adc_clipped"] + rep["dac_clipped"]
        xs = np.array(xs)
        return xs.mean(axis=0), {"members": xs, "clipped": clip}

    def steady_inverse(self):
        """Pooled exact inverse: mean over members of 2 cov_k / q (Lyapunov covariances, nominal
        diffusion q). Members must carry noise (mapping noise_psd)."""
        q = nominal_diffusion(self.nominal, self.members[0].build.temperature_k)
        return np.mean([dev.stationary_inverse(q) for dev in self.members], axis=0)

    # --------------------------------------------------------------------- twin (noisy)
    def solve(self, b=None, **kw):
        """Run every member on the twin (keyword arguments as
        :func:`~spucircuit.linalg.solve.device_solve`; ``seed`` is split per member) and pool: the
        pooled mean is the mean of the members' time averages (equal run lengths), its standard
        error sqrt(sum_k se_k^2) / K. ``analog_time_s`` is the sum over members (one board run K
        times; K boards in parallel take ``analog_time_s / K``). ``error_bound``: the pooled noise
        plus the mean of the members' other error terms (:func:`~spucircuit.linalg.error_bound.pooled_budget`)."""
        seeds = np.random.SeedSequence(kw.pop("seed", None)).spawn(self.K)
        xs, ses, t, clip, budgets, sat = [], [], 0.0, 0, [], 0
        for dev, ss in zip(self.members, seeds):
            x, info = device_solve(dev, b, seed=int(ss.generate_state(1)[0]), **kw)
            xs.append(x)
            ses.append(info["standard_error"])
            t += info["analog_time_s"]
            clip += info["adc_clipped"] + info["dac_clipped"]
            sat += info.saturated or 0
            budgets.append(ErrorBudget.from_dict(info.error_budget))
        xs, ses = np.array(xs), np.array(ses)
        se = np.sqrt(np.sum(ses**2, axis=0)) / self.K
        budget = pooled_budget(xs.mean(axis=0), se, budgets)
        return xs.mean(axis=0), {"standard_error": se, "members": xs, "analog_time_s": t, "clipped": clip,
                                 "saturated": sat, "error_bound": budget.relative, "error_budget": budget.to_dict()}

    def inv(self, **kw):
        """Pooled covariance estimate of A^-1 on the twin: mean of the members' estimates."""
        seeds = np.random.SeedSequence(kw.pop("seed", None)).spawn(self.K)
        outs, ses, t, budgets = [], [], 0.0, []
        for dev, ss in zip(self.members, seeds):
            Ai, info = device_inv(dev, seed=int(ss.generate_state(1)[0]), **kw)
            outs.append(Ai)
            ses.append(info["standard_error"])
            t += info["analog_time_s"]
            budgets.append(ErrorBudget.from_dict(info.error_budget))
        ses = np.array(ses)
        se = np.sqrt(np.sum(ses**2, axis=0)) / self.K
        budget = pooled_budget(np.mean(outs, axis=0), se, budgets)
        return np.mean(outs, axis=0), {"standard_error": se, "analog_time_s": t, "error_bound": budget.relative,
                                       "error_budget": budget.to_dict()}


# ------------------------------------------------------------------------- slope analysis
def fit_slope(eps, err) -> float:
    """Least-squares slope of log(err) against log(eps)."""
    eps, err = np.asarray(eps, float), np.asarray(err, float)
    return float(np.polyfit(np.log(eps), np.log(err), 1)[0])


def eps_scan(matrices, eps_values, *, K: int = 64, scheme: str = "stratified", seed: int = 0,
             rhs=None, task: str = "solve", extra: Imperfection | None = None,
             r_range=(1e3, 1e6), noise_psd: float = 1e-20) -> dict:
    """Error of a single device (nearest rounding) and of a K-ensemble (stochastic rounding)
    against the relative component imprecision eps, on log-spaced resistor banks with level
    ratio 1 + eps (:meth:`~spucircuit.imperfections.models.ResistorBank.relative_step`). Exact (noise-free)
    evaluation: stationary read-out for 'solve', Lyapunov covariance for 'inv' (temperature 0,
    equal injected noise, so the only error is the matrix the components realise).

    Returns {'eps', 'single', 'ensemble' (arrays: geometric mean over matrices of the relative
    error), 'slope_single', 'slope_ensemble', 'per_matrix'}.
    """
    single, ens = [], []
    for mi, A in enumerate(matrices):
        A = np.asarray(A, float)
        n = A.shape[0]
        b = np.ones(n) if rhs is None else np.asarray(rhs[mi], float)
        x_ref = np.linalg.solve(A, b)
        Ai_ref = np.linalg.inv(A)
        mapping = {"noise_psd": noise_psd} if task == "inv" else {}
        row_s, row_e = [], []
        for eps in eps_values:
            near = chain(ResistorBank.relative_step(eps, r_range), Thermal(0.0), extra)
            stoch = chain(ResistorBank.relative_step(eps, r_range, rounding="stochastic"), Thermal(0.0), extra)
            d = Device(near, seed=seed + mi, **mapping).program(A, b)
            e = Ensemble(stoch, K, seed=seed + 1000 + mi, scheme=scheme, **mapping).program(A, b)
            if task == "solve":
                xs = d.steady_x(warn=False)[0]
                xe = e.steady_solve()[0]
                row_s.append(np.linalg.norm(xs - x_ref) / np.linalg.norm(x_ref))
                row_e.append(np.linalg.norm(xe - x_ref) / np.linalg.norm(x_ref))
            elif task == "inv":
                q = nominal_diffusion(d.nominal, 0.0)
                Is = d.stationary_inverse(q)
                Ie = e.steady_inverse()
                row_s.append(np.linalg.norm(Is - Ai_ref) / np.linalg.norm(Ai_ref))
                row_e.append(np.linalg.norm(Ie - Ai_ref) / np.linalg.norm(Ai_ref))
            else:
                raise SPUError(f"unknown task {task!r}: use 'solve' or 'inv'")
        single.append(row_s)
        ens.append(row_e)
    single, ens = np.array(single), np.array(ens)
    gs, ge = np.exp(np.log(single).mean(axis=0)), np.exp(np.log(ens).mean(axis=0))
    eps = np.asarray(eps_values, float)
    return {"eps": eps, "single": gs, "ensemble": ge, "slope_single": fit_slope(eps, gs),
            "slope_ensemble": fit_slope(eps, ge), "per_matrix": {"single": single, "ensemble": ens},
            "K": K, "scheme": scheme, "task": task}
