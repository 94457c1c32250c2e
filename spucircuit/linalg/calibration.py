"""Calibration of an imperfect device from measurements the device itself can make.

The device's stationary read-out is affine in its input DACs: x*(b) = M b + m0 (see
:class:`~spucircuit.imperfections.effective.EffectiveSystem`), with M = A_dev^-1 D (A_dev the matrix its
components realise, D the relative gains of its input resistors) and m0 the offsets. Probing with
known inputs and reading time-averaged outputs gives columns of M; A_hat = M^-1 = D^-1 A_dev.

What is estimated is a **per-position gain** gamma_ij = A_hat_ij / A_known_ij: the realised entry
over the entry the controller programmed (after the bank's rounding, which it chose and therefore
knows). Fabrication tolerance of the coupling resistor, of the input resistor (D_i) and of the
inverting buffer (RF_j / RG_j, for entries fed from the inverted output) are all multiplicative
per position, so gamma does not depend on the programmed value: one calibration serves every
later matrix on this device. It is kept separately for entries fed from x_j (``gain_pos``) and
from the inverted output xn_j (``gain_neg``).

Methods
-------
``blocks`` (default, once per device): n - 1 (n even) or n (odd) round-robin perfect matchings
of the indices; for each matching and each sign a block-diagonal calibration matrix with 2 x 2
blocks [[1, +-beta], [+-beta, 1]] (condition number (1+beta)/(1-beta) = 3 at beta = 1/2, so every
probe settles in a few tau). Three probes per matrix (b = 0, the first element of every pair, the
second) measure all blocks at once: 6 (n - 1) probes for even n. Every coupling position (i, j)
appears in exactly one matching.

``matrix`` (per target): program the target itself and probe b = 0 and b = s e_j, n + 1 probes at
the target's own (slower) relaxation time; gains for the target's sign pattern only.

``sysid`` (per target, :func:`identify`): no probing to a steady state; the target itself runs
with its noise, once at b = 0 and once at a probe b = s 1, read every h = 0.5 / (Gershgorin bound)
tau, and the maximum-likelihood fit of the exact discretisation x_{k+1} = Phi x_k + d_g + e_k
(:mod:`~spucircuit.numerics.trajectory`) gives the device's effective drift F = logm(Phi) / h, its
diffusion Q and its intercepts c_g = F (Phi - I)^-1 d_g = C^-1 (D b_g + offsets) (C the
integrators' relative capacitances). So A_hat = diag(s / (c_1 - c_0)) (-F) = D^-1 A_dev, the same
matrix the probes measure, with standard errors from the least-squares fit's asymptotic covariance
(delta method). Gains as ``matrix``.

Correction: :meth:`Calibration.predistort` divides every programmed conductance by its gain
(values are then rounded by the device's bank as usual), so the device realises D A and solves
(D A)^-1 D b = A^-1 b. Offsets are removed digitally with one b = 0 probe of the programmed target
(:func:`measure_offset`). Finite op-amp gain adds diag(g_tot) / a0, which depends on the row
loading and is not a per-position gain: it is left as residual (O(1/a0)).

Every probe's analog time (burn-in + averaging window) is added up in ``analog_time_s``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from spucircuit._util.quantities import parse_time
from spucircuit.circuit.factored_array import FactoredCircuit
from spucircuit.circuit.integrator_array import COUPLING_RE, MappedCircuit
from spucircuit.constants import V_SWING_DEFAULT
from spucircuit.device.converters import convert
from spucircuit.errors import ClippingWarning, SPUError
from spucircuit.imperfections.effective import coupling_matrix
from spucircuit.imperfections.factored import measure_input_gains
from spucircuit.imperfections.instance import Device
from spucircuit.imperfections.models import ResistorBank
from spucircuit.linalg.solve import range_device
from spucircuit.numerics.bounds import KAPPA_MAX_DEFAULT
from spucircuit.numerics.trajectory import Var1Stats, delta_cov, drift_from_discrete


@dataclass
class Calibration:
    """Per-position gains of one device and what measuring them cost."""

    gain_pos: np.ndarray  # (n, n) realised / programmed entry, entries fed from x_j (nan: unmeasured)
    gain_neg: np.ndarray  # (n, n) the same for entries fed from the inverted output xn_j
    probes: int
    analog_time_s: float
    method: str
    r_range: tuple | None = None  # bank range: pre-distorted values are clipped into it
    details: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.gain_pos.shape[0]

    def predistort(self, mc: MappedCircuit) -> MappedCircuit:
        """The mapped circuit with every coupling conductance divided by its measured gain
        (resistance multiplied). Unmeasured positions keep their value. The scales and the target
        ``A`` are unchanged. Values pushed outside ``r_range`` are clipped (counted in
        ``details['clipped']``)."""
        nl = mc.netlist.copy()
        t = nl.tables["R"]
        rows, vals = [], []
        for k, nm in enumerate(t.names):
            m = COUPLING_RE.match(nm)
            if not m:
                continue
            i, j = int(m.group(1)), int(m.group(2))
            if i >= self.n or j >= self.n:
                raise SPUError(f"calibration is for n = {self.n}, circuit has element {nm}")
            neg = nl.node_names[t.nodes[k, 0]].lower().startswith("xn")
            g = (self.gain_neg if neg else self.gain_pos)[i, j]
            if np.isfinite(g) and g > 0:
                rows.append(k)
                vals.append(t.values[k] * g)
        vals = np.asarray(vals, float)
        clipped = 0
        if self.r_range is not None and len(vals):
            lo, hi = self.r_range
            clipped = int(np.count_nonzero((vals < lo) | (vals > hi)))
            vals = np.clip(vals, lo, hi)
        if rows:
            t.set_values(np.asarray(rows), vals)
        self.details["clipped"] = self.details.get("clipped", 0) + clipped
        return replace(mc, netlist=nl)

    def to_dict(self) -> dict:
        gp, gn = self.gain_pos, self.gain_neg
        dev = np.concatenate([np.abs(gp[np.isfinite(gp)] - 1), np.abs(gn[np.isfinite(gn)] - 1)])
        return {"method": self.method, "n": self.n, "probes": self.probes,
                "analog_time_s": self.analog_time_s,
                "max_gain_deviation": float(dev.max()) if dev.size else None,
                "rms_gain_deviation": float(np.sqrt(np.mean(dev**2))) if dev.size else None,
                **{k: v for k, v in self.details.items() if np.isscalar(v)}}


@dataclass
class InputGainCalibration:
    """Per-integrator input gains of one factored-circuit device (the mismatch of its input and
    lambda resistors), measured with the arrays open (:func:`measure_input_gains`).

    Same interface as :class:`Calibration`: :meth:`predistort` returns the circuit to program,
    here with every DAC voltage divided by its gain, so the device realises the nominal input map."""

    gains: np.ndarray  # (N,) measured / nominal response of each integrator to its DAC
    probes: int
    analog_time_s: float
    method: str = "input_gains"
    details: dict = field(default_factory=dict)

    def predistort(self, fc: FactoredCircuit) -> FactoredCircuit:
        if fc.n != len(self.gains):
            raise SPUError(f"calibration is for N = {len(self.gains)}, circuit has N = {fc.n}")
        comp = replace(fc.components, v_in=fc.components.v_in / self.gains)
        corr = self.gains if fc.input_correction is None else fc.input_correction * self.gains
        return replace(fc, components=comp, netlist_cache=None, input_correction=corr)

    def to_dict(self) -> dict:
        dev = np.abs(self.gains - 1.0)
        return {"method": self.method, "n": len(self.gains), "probes": self.probes,
                "analog_time_s": self.analog_time_s, "max_gain_deviation": float(dev.max()),
                "rms_gain_deviation": float(np.sqrt(np.mean(dev**2)))}


# ------------------------------------------------------------------------------- helpers
def round_robin(n: int) -> list:
    """Perfect matchings of 0..n-1 covering every pair once (circle method); n odd: one index
    sits out per round."""
    players = list(range(n)) + ([None] if n % 2 else [])
    m = len(players)
    rounds = []
    for _ in range(m - 1):
        pairs = [(players[i], players[m - 1 - i]) for i in range(m // 2)]
        rounds.append([(a, b) for a, b in pairs if a is not None and b is not None])
        players = [players[0], players[-1]] + players[1:-1]
    return rounds


def _probe_times(device: Device, lam_min: float, time_per_probe, burn_in):
    tau = device.nominal.tau_s
    tb = 20.0 / lam_min * tau if burn_in is None else parse_time(burn_in, tau)
    tw = 50.0 / lam_min * tau if time_per_probe is None else parse_time(time_per_probe, tau)
    return tb, tw


class _Prober:
    """Measures time-averaged read-outs of the currently programmed device: 'steady' (exact
    infinite-time value through DAC and ADC; the analog time a measurement would take is still
    counted) or 'twin' (simulated, warm-started run per probe, noise on)."""

    def __init__(self, device, evaluate, tb, tw, chains, seed, noise, samples):
        self.device, self.evaluate = device, evaluate
        self.tb, self.tw = tb, tw
        self.time = 0.0
        self.count = 0
        self.clipped = 0
        self.spu = None
        if evaluate == "twin":
            mc = device.nominal
            dt = 0.5 / device.spectrum_bounds().lam_max_upper * mc.tau_s  # Gershgorin: what the device knows
            self.spu = device.spu(noise=noise, chains=chains, seed=seed, dt=dt)
            self.samples = samples
        elif evaluate != "steady":
            raise SPUError(f"unknown evaluation {evaluate!r}: use 'steady' or 'twin'")

    def __call__(self, b) -> np.ndarray:
        self.count += 1
        if self.spu is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ClippingWarning)
                x, rep = self.device.steady_x(b, warn=False)
            self.clipped += rep["adc_clipped"] + rep["dac_clipped"]
            self.time += self.tb + self.tw
            return x
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ClippingWarning)
            self.spu.set_rhs(b)
            r0 = self.spu.run(self.tb, max_samples=1, adc=False)
            kw = {} if self.samples is None else {"max_samples": int(self.samples)}
            r1 = self.spu.run(self.tw, **kw)
        self.clipped += r1.adc_clipped
        self.time += r0.analog_time_s + r1.analog_time_s
        return r1.mean_x.mean(axis=0)


def _amplitude(device: Device, responses: np.ndarray, probe_mag: float = 1.0) -> float:
    """Largest probe scale keeping the nominal response inside 80 % of the DAC and ADC ranges."""
    mc, bld = device.nominal, device.build
    s = 1.0
    if bld.dac is not None:
        s = min(s, 0.8 * bld.dac.full_scale_v / (mc.r_in_ohm * mc.g_unit_siemens * mc.v_unit_v * probe_mag))
    if bld.adc is not None and np.max(np.abs(responses)) > 0:
        s = min(s, 0.8 * bld.adc.full_scale_v / (mc.v_unit_v * np.max(np.abs(responses))))
    return s


def _dac_actual(device: Device, b) -> np.ndarray:
    """The right-hand side the DACs actually produce for nominal b (known digitally: the
    controller chose the codes, dither included)."""
    b = np.asarray(b, float)
    dac = device.build.dac
    if dac is None:
        return b
    mc = device.nominal
    k = -mc.r_in_ohm * mc.g_unit_siemens * mc.v_unit_v
    return dac.nominal().quantize(k * b)[0] / k  # the codes' nominal values: the part's errors are unknown


def _bank_range(device: Device):
    imp = device.imperfection
    bank = imp if isinstance(imp, ResistorBank) else (imp.find(ResistorBank) if hasattr(imp, "find") else None)
    return tuple(bank.r_range) if bank is not None else None


# ------------------------------------------------------------------------------ calibrate
def calibrate(device: Device, n: int | None = None, *, method: str = "blocks", beta: float = 0.5,
              kappa_max: float = KAPPA_MAX_DEFAULT,
              evaluate: str = "twin", time_per_probe=None, burn_in=None, chains: int = 1,
              seed=None, noise: bool = True, samples: int | None = None, A=None, b=None) -> Calibration:
    """Estimate the per-position gains of ``device`` (see the module doc).

    n          : problem size (method 'blocks'; default the size the device is programmed with)
    method     : 'blocks' (once per device), 'matrix' (probe the target ``A``, ``b`` itself) or
                 'sysid' (identify the target's drift from its own noisy trajectories: :func:`identify`;
                 ``time_per_probe`` is then each of its two runs' time, ``kappa_max`` its class)
    evaluate   : 'twin' (default: simulated, finite-time runs with noise, as a device measures) or
                 'steady' (exact infinite-time read-outs: a reference, not a measurement)
    time_per_probe, burn_in : averaging window and settling time per probe (s or 'Ntau'); default
                 50 and 20 slowest relaxation times of the probed matrix
    The device is left programmed with the last probed matrix: program the target afterwards
    with ``device.program(A, b, calibration=cal)``.

    A factored-circuit device (programmed with ``program_circuit``) is calibrated by its input
    gains instead (method 'input_gains', the default for it): every array opened, one probe of all
    integrators at once (:func:`~spucircuit.imperfections.factored.measure_input_gains`), through the
    device's DAC and ADC; ``noise`` and ``seed`` as above. Returns an :class:`InputGainCalibration`.
    """
    if device.factored:
        if method not in ("blocks", "input_gains"):
            raise SPUError(f"a factored-circuit device is calibrated by method 'input_gains', got {method!r}")
        build = device.build
        dac = None if build.dac is None else (lambda v: convert(build.dac, v, None, "dac", "probe voltages"))
        adc = None if build.adc is None else (lambda v: convert(build.adc, v, None, "adc", "probe read-outs"))
        rho, t_s = measure_input_gains(build.circuit.components, device.nominal, temperature_k=build.temperature_k,
                                       noise=noise, seed=seed, dac=dac, adc=adc)
        return InputGainCalibration(gains=rho, probes=1, analog_time_s=t_s)
    if method == "blocks":
        n = n if n is not None else device.n
        return _calibrate_blocks(device, n, beta, evaluate, time_per_probe, burn_in, chains, seed, noise, samples)
    if method == "matrix":
        if A is None:
            raise SPUError("method='matrix' needs the target matrix A")
        return _calibrate_matrix(device, A, b, evaluate, time_per_probe, burn_in, chains, seed, noise, samples,
                                 kappa_max)
    if method == "sysid":
        if A is None:
            raise SPUError("method='sysid' needs the target matrix A")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ClippingWarning)
            device.program(A, b)
        ident = identify(device, time=time_per_probe, chains=chains, seed=seed, kappa_max=kappa_max)
        known = coupling_matrix(device.known.mapped)
        gp, gn = np.full(known.shape, np.nan), np.full(known.shape, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = ident.A_hat / known
        nz = known != 0
        gp[nz & (known > 0)] = ratio[nz & (known > 0)]
        gn[nz & (known < 0)] = ratio[nz & (known < 0)]
        return Calibration(gp, gn, 2, ident.analog_time_s, "sysid", _bank_range(device),
                           {"evaluate": "twin", "pairs": ident.pairs, "step_s": ident.step_s,
                            "max_z_A": float(np.nanmax(np.abs(ident.A_hat - known) / ident.se_A_hat))})
    raise SPUError(f"unknown calibration method {method!r}: use 'blocks', 'matrix' or 'sysid'")


def _calibrate_blocks(device, n, beta, evaluate, time_per_probe, burn_in, chains, seed, noise, samples):
    if not 0 < beta < 1:
        raise SPUError(f"beta must be in (0, 1), got {beta}")
    sums_pos, cnt_pos = np.zeros((n, n)), np.zeros((n, n))
    sums_neg, cnt_neg = np.zeros((n, n)), np.zeros((n, n))
    total_time, probes, clipped = 0.0, 0, 0
    rounds = round_robin(n) if n > 1 else [[]]
    ss = np.random.SeedSequence(seed if isinstance(seed, int) else None)
    for r, pairs in enumerate(rounds):
        for sign in (+1.0, -1.0):
            if n == 1 and sign < 0:
                continue
            A_cal = np.eye(n)
            for a, c in pairs:
                A_cal[a, c] = A_cal[c, a] = sign * beta
            first = np.zeros(n)
            second = np.zeros(n)
            paired = set()
            for a, c in pairs:
                first[a], second[c] = 1.0, 1.0
                paired |= {a, c}
            for i in range(n):
                if i not in paired:
                    first[i] = 1.0
            Ainv = np.linalg.inv(A_cal)  # the controller designed A_cal: its inverse is known
            with warnings.catch_warnings():  # b = 1 is not used: the probes are scaled to the DAC
                warnings.simplefilter("ignore", ClippingWarning)
                v_swing = device.mapping.get("v_swing", V_SWING_DEFAULT)
                device.program(A_cal, np.ones(n), scale=v_swing / np.max(np.abs(Ainv.sum(axis=1))))
            s = _amplitude(device, np.concatenate([Ainv @ first, Ainv @ second]))
            tb, tw = _probe_times(device, 1.0 - beta, time_per_probe, burn_in)
            child = int(ss.spawn(1)[0].generate_state(1)[0])
            probe = _Prober(device, evaluate, tb, tw, chains, child, noise, samples)
            b1, b2 = _dac_actual(device, s * first), _dac_actual(device, s * second)
            x0 = probe(np.zeros(n))
            d1 = probe(s * first) - x0  # block (a, c): column a of the block times b1[a]
            d2 = probe(s * second) - x0 if pairs else None
            total_time += probe.time
            probes += probe.count
            clipped += probe.clipped
            known = coupling_matrix(device.known.mapped)
            for a, c in pairs:
                Mb = np.array([[d1[a] / b1[a], d2[a] / b2[c]], [d1[c] / b1[a], d2[c] / b2[c]]])
                Ab = np.linalg.inv(Mb)
                for (i, j), val in zip([(a, a), (a, c), (c, a), (c, c)], Ab.ravel()):
                    g = val / known[i, j]
                    if i != j and sign < 0:
                        sums_neg[i, j] += g
                        cnt_neg[i, j] += 1
                    else:
                        sums_pos[i, j] += g
                        cnt_pos[i, j] += 1
            for i in range(n):
                if i not in paired:
                    sums_pos[i, i] += (b1[i] / d1[i]) / known[i, i]
                    cnt_pos[i, i] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        gp = np.where(cnt_pos > 0, sums_pos / np.maximum(cnt_pos, 1), np.nan)
        gn = np.where(cnt_neg > 0, sums_neg / np.maximum(cnt_neg, 1), np.nan)
    return Calibration(gp, gn, probes, total_time, "blocks", _bank_range(device),
                       {"beta": beta, "calibration_matrices": len(rounds) * 2, "clipped_probes": clipped,
                        "evaluate": evaluate})


def _calibrate_matrix(device, A, b, evaluate, time_per_probe, burn_in, chains, seed, noise, samples, kappa_max):
    A = np.asarray(A, float)
    n = A.shape[0]
    b_probe = np.ones(n) if b is None else b
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClippingWarning)
        device.program(A, b_probe)
    ranging = range_device(device, b_probe, evaluate=evaluate, kappa_max=kappa_max, chains=chains, seed=seed)
    lam_min = device.spectrum_bounds(kappa_max).lam_min_lower  # the target's: known only through its class
    tb, tw = _probe_times(device, lam_min, time_per_probe, burn_in)
    probe = _Prober(device, evaluate, tb, tw, chains, seed, noise, samples)
    probe.time += ranging["ranging_time_s"]
    s = _amplitude(device, np.zeros(1))
    x0 = probe(np.zeros(n))
    cols, retries = [], 0
    for j in range(n):
        e = np.zeros(n)
        e[j] = 1.0
        while True:
            before = probe.clipped
            xj = probe(s * e)
            if probe.clipped == before or s < 1e-6:
                break
            s *= 0.25  # the response clipped the ADC: shrink the probe and measure again
            retries += 1
        cols.append((xj - x0) / _dac_actual(device, s * e)[j])
    M = np.column_stack(cols)
    A_hat = np.linalg.inv(M)
    known = coupling_matrix(device.known.mapped)
    gp, gn = np.full((n, n), np.nan), np.full((n, n), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = A_hat / known
    nz = known != 0
    neg = nz & (known < 0)
    gp[nz & ~neg] = ratio[nz & ~neg]
    gn[neg] = ratio[neg]
    return Calibration(gp, gn, probe.count, probe.time, "matrix", _bank_range(device),
                       {"retries": retries, "clipped_probes": probe.clipped, "evaluate": evaluate,
                        "ranging_passes": ranging["passes"], "ranging_time_s": ranging["ranging_time_s"]})


def measure_offset(device: Device, *, evaluate: str = "twin", time_per_probe=None, burn_in=None,
                   chains: int = 1, seed=None, noise: bool = True, samples: int | None = None,
                   kappa_max: float = KAPPA_MAX_DEFAULT):
    """One b = 0 probe of the programmed device: returns (m0_hat, analog time s). Subtract m0_hat
    from later read-outs (digital offset correction)."""
    lam_min = device.spectrum_bounds(kappa_max).lam_min_lower  # the target's: known only through its class
    tb, tw = _probe_times(device, lam_min, time_per_probe, burn_in)
    probe = _Prober(device, evaluate, tb, tw, chains, seed, noise, samples)
    m0 = probe(np.zeros(device.n))
    return m0, probe.time


def calibrated_device(device: Device, cal: Calibration, A, b=None) -> Device:
    """Program ``device`` with target A (and b) pre-distorted by ``cal``."""
    return device.program(A, b, calibration=cal)


# ------------------------------------------------------------------------------ system identification
@dataclass
class Identification:
    """What :func:`identify` estimates of a programmed device (tau units, problem units of x).

    F (n, n) effective drift dx = (F x + c) dt + dW and its standard errors se_F, cov_F (row-major
    vec); Q (n, n) diffusion per tau and se_Q; c (2, n) intercepts of the b = 0 and probe runs;
    A_hat = diag(s / (c_1 - c_0)) (-F) = D^-1 A_dev (what the probes measure) with se_A_hat;
    b_probe the probe's right-hand side (the DAC codes' nominal values); step_s the sampling step;
    pairs the sample pairs fitted; analog_time_s both runs'."""

    F: np.ndarray
    se_F: np.ndarray
    cov_F: np.ndarray
    Q: np.ndarray
    se_Q: np.ndarray
    c: np.ndarray
    A_hat: np.ndarray
    se_A_hat: np.ndarray
    b_probe: np.ndarray
    step_s: float
    pairs: int
    analog_time_s: float


SYSID_STEP_RATE = 0.5  # sampling step h <= 0.5 / (the device's Gershgorin bound) tau
SYSID_SEGMENT = 20_000  # steps per segment of a run (memory)


def identify(device: Device, *, time=None, chains: int = 4, seed=None, kappa_max: float = KAPPA_MAX_DEFAULT,
             probe=None) -> Identification:
    """Maximum-likelihood estimate of the programmed ``device``'s effective drift and diffusion from
    its own noisy trajectories (module doc, method 'sysid'): two runs of ``time`` each (s or 'Ntau';
    default 200 slowest relaxation times of the target's class, ``kappa_max``), at b = 0 and at
    ``probe`` (default: ones at the DAC's safe amplitude), ``chains`` chains, noise on, every sample
    of the read-out kept (through the device's ADC, if any: its rounding then adds read-out noise,
    which biases a least-squares drift towards zero by about lsb^2 / (12 var x))."""
    device.require_programmed()
    if device.factored:
        raise SPUError("identify works on integrator-array devices (a factored circuit's state is not its read-out)")
    mc = device.nominal
    n, tau = mc.n, mc.tau_s
    bounds = device.spectrum_bounds(kappa_max)
    m_h = SYSID_STEP_RATE / bounds.lam_max_upper  # step, tau units
    T = 200.0 / bounds.lam_min_lower * tau if time is None else parse_time(time, tau)
    b1 = s_probe = None
    if probe is None:
        s_probe = _amplitude(device, np.zeros(1))
        b1 = s_probe * np.ones(n)
    else:
        b1 = np.asarray(probe, float).reshape(-1)
        if b1.shape != (n,) or not np.all(np.isfinite(b1)) or np.any(b1 == 0):
            raise SPUError(f"probe must be {n} finite non-zero values (each row's input gain is read from it)")
    spu = device.spu(noise=True, chains=chains, seed=seed, dt=m_h * tau)
    stats = Var1Stats(n, groups=2)
    total = 0.0
    steps = max(2, int(round(T / (m_h * tau))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClippingWarning)
        for g, b in enumerate((np.zeros(n), b1)):
            spu.set_rhs(b)
            done = 0
            while done < steps:
                k = min(SYSID_SEGMENT, steps - done)
                res = spu.run(k * m_h * tau, max_samples=k)
                stats.add(res.x, group=g, new=done == 0)
                done += k
                total += res.analog_time_s
    fit = stats.fit()
    b_act = _dac_actual(device, b1)

    def drift(B):
        B = B.reshape(n, n + 2)
        Phi = B[:, :n]
        F = drift_from_discrete(Phi, np.eye(n), m_h)[0]
        c = F @ np.linalg.solve(Phi - np.eye(n), B[:, n:])  # (n, 2)
        return F, c

    def a_hat(B):
        F, c = drift(B)
        return (b_act / (c[:, 1] - c[:, 0]))[:, None] * (-F)

    B = np.column_stack([fit.Phi, fit.d.T]).ravel()
    F, c = drift(B)
    cov_F = delta_cov(lambda t: drift(t)[0], B, fit.cov_B)
    A_hat = a_hat(B)
    se_A = np.sqrt(np.clip(np.diag(delta_cov(a_hat, B, fit.cov_B)), 0, None)).reshape(n, n)
    Q = drift_from_discrete(fit.Phi, fit.Sigma, m_h)[1]
    theta = np.concatenate([fit.Phi.ravel(), fit.Sigma.ravel()])
    cov_t = np.zeros((2 * n * n, 2 * n * n))
    cov_t[: n * n, : n * n], cov_t[n * n:, n * n:] = fit.cov_phi(), fit.cov_sigma()
    q_of = lambda t: drift_from_discrete(t[: n * n].reshape(n, n), t[n * n:].reshape(n, n), m_h)[1]
    se_Q = np.sqrt(np.clip(np.diag(delta_cov(q_of, theta, cov_t)), 0, None)).reshape(n, n)
    return Identification(F=F, se_F=np.sqrt(np.clip(np.diag(cov_F), 0, None)).reshape(n, n), cov_F=cov_F, Q=Q,
                          se_Q=se_Q, c=c.T, A_hat=A_hat, se_A_hat=se_A, b_probe=b_act, step_s=m_h * tau,
                          pairs=fit.pairs, analog_time_s=total)
