"""The factored circuit twin as a TNGD device (TNGD App. C): J, H and J^T resistor arrays, O(N m)
per step, with optional device imperfections (:class:`FactoredTwinSolver`, :class:`FactoredSystem`).

The device engineering is spucircuit's: the mapping (:func:`~spucircuit.circuit.factored_array.factored_circuit`),
the device (:class:`~spucircuit.device.factored_spu.FactoredSPU`), the resistor precision and mismatch
(:mod:`spucircuit.imperfections.factored`), the converters and their one conversion step
(:mod:`spucircuit.device.converters`) and the calibration probe. What stays here is the TNGD side:
uploading a system per step into two reprogrammable array buffers, its streams of random draws,
the K-device ensemble read-out and the warm start of Algorithm 1.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import NamedTuple

import numpy as np

from spucircuit.circuit.factored_array import FactoredCircuit, factored_circuit
from spucircuit.device.converters import Converter, convert
from spucircuit.device.factored_spu import FactoredSPU
from spucircuit.errors import RealizabilityError
from spucircuit.imperfections.factored import FabricationMismatch, imperfect_components, measure_input_gains
from tngd.devices.ou import begin_run
from tngd.errors import ConfigError


class FactoredSystem(NamedTuple):
    """An uploaded system together with the factored circuit programmed for it."""

    factor: object  # what was uploaded: Ut (m, N), (J, H_blocks[, b_norm]) or a Batch
    damping: np.ndarray
    rhs: np.ndarray
    eigvals: np.ndarray  # unused (0,)
    eigvecs: np.ndarray  # unused (0, 0)
    circuit: object  # spucircuit.circuit.factored_array.FactoredCircuit (device 0 of an ensemble)
    slot: tuple = ()  # (buffer index, owner token): which reprogrammable array holds it
    members: tuple = ()  # imperfect devices: the circuit each of the K devices realises
    nominal: object = None  # imperfect devices: the nominal circuit (valid until the next prepare)


def _int_option(name, v, lo, allow_none=True):
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or int(v) < lo:
        what = f"None or an integer >= {lo}" if allow_none else f"an integer >= {lo}"
        raise ConfigError(f"{name} must be {what}, got {v!r}")
    return int(v)


class FactoredTwinSolver:
    """The factored circuit twin (``spucircuit.circuit.factored_array``): F = J^T H J / b is never formed, the
    circuit has m (m + 2N)-scale resistors and each step costs O(N m), so it runs at training size.

    ``prepare(factor, damping, rhs)`` maps the system onto the three resistor arrays; ``factor`` may
    be the GGN factor Ut (m, N) the TNGD optimizer uploads (F = Ut^T Ut: the J array holds Ut, the H
    array unit 1 x 1 blocks, b_norm = 1), a tuple ``(J, H_blocks[, b_norm])`` or a ``tngd.Batch``
    (its Jacobian and loss-Hessian blocks: the paper's three arrays). ``propagate`` runs the
    device for t tau from x0 and reads one sample.

    Scales: the first system fixes v_unit and the conductance scales (largest entry at
    ``headroom * r_min``, so later, larger entries still fit); later systems reuse them (tau fixed).
    When an entry outgrows the range, or lambda's resistor would leave it, the scales are
    re-designed with v_unit kept (the capacitor voltages still mean the same x; only tau changes,
    counted in ``redesigns``). Entries needing more than ``r_max`` are pruned when ``prune`` (the
    bound is in ``last_circuit.prune``).

    Warm start: one device (:class:`spucircuit.device.factored_spu.FactoredSPU`) persists; reprogramming keeps
    its capacitor voltages. If x0 equals what the device holds (Algorithm 1: the previous read-out)
    nothing is written; otherwise x0 is written through the DACs (counted in ``writes``).

    Noise: Johnson noise of every resistor at ``temperature_k`` (when ``noise``), plus kappa0 > 0
    realised as an injected white current at every integrator summing node of one-sided PSD
    4 kappa0 C^2 v_unit^2 / tau, i.e. dx = ... + sqrt(2 kappa0) dW in tau units.

    scheme 'exponential' (default): exact in distribution for any step with nominal components (one
    step per propagate); with ``tolerance`` > 0 the diagonal is non-uniform and steps of at most
    ``max_step_tau`` are taken (ETD1, stationary mean exact). 'euler': steps of ``dt_tau`` tau or the
    automatic 0.1 x stability limit. ``opamp_gain``: open-loop gain of every op-amp (inf: ideal).

    Memory: the J / J^T array values live in two reprogrammable (m, N) buffers used alternately
    (the current system and the previous one, which TNGD's delay td still runs), so a training
    step allocates no new array memory. A system older than the previous one has been overwritten:
    propagating it raises ConfigError. With imperfect devices: one scratch (m, N) buffer for the
    nominal values plus two per device (and two (N, m) J^T buffers per device with ``tolerance``).

    **Device imperfections** (all off by default; off, the solver is the nominal twin above, bit
    for bit). Every random draw comes from ``seed`` (fabrication, roundings, dither, calibration
    probe) or from the ``rng`` given to ``propagate`` (the run's noise), so the same seeds give
    the same bits (``tolerance_seed`` is the former name of ``seed``). Statistics:
    ``bank_clipped``, ``dac_clipped``, ``adc_clipped``, ``writes`` (per device),
    ``calibration_gains``; ``prepare`` returns the K device circuits in ``members`` (``circuit`` is
    device 0) and the nominal circuit in ``nominal`` (valid until the next ``prepare``).

    * ``bits``: resistor precision of the three arrays. At every upload each programmed array
      conductance is rounded on the b-bit grid of the programmable range, levels 1/r_max + k dG,
      k = 0..2^b - 1, dG = (1/r_min - 1/r_max) / (2^b - 1) (``spucircuit.imperfections.models.ResistorBank``'s
      default grid), ``rounding`` 'stochastic' (default: unbiased in conductance, a fresh draw per
      upload and device) or 'nearest'; open entries stay open. The J^T array gets the codes of the
      J array (same targets), so F' = J'^T H' J' / b stays symmetric PSD; H blocks of Laplacian
      form (softmax cross-entropy, unit 1 x 1 blocks) are rounded edge by edge so H' stays PSD
      (``spucircuit.numerics.quantize.quantize_h_blocks``). With ``headroom`` = 4 the largest J entry sits
      at a quarter of the range: about 2 of the b bits are headroom. The simulation runs from the
      quantised values. Feedback, lambda, input and buffer resistors are fixed (nominal).
    * ``tolerance``: relative sigma of a fixed resistor mismatch, R = R_programmed (1 + sigma z),
      one draw per resistor position and device (``spucircuit.imperfections.factored.FabricationMismatch``, from
      (seed, device)): the same across uploads. Every resistor (arrays, stages, lambda, input,
      buffers); the J^T array becomes its own buffer.
    * ``dac_bits``: the uploaded input voltages V_in (and any state written into the capacitors)
      pass a b-bit DAC (``spucircuit.device.converters.Converter``) whose full scale is set per upload to the
      largest |V| written (the controller knows what it writes), at most ``converter_max_v``; beyond
      it values clip (counted in ``dac_clipped``, ``ClippingWarning``). Dither as ``rounding``.
    * ``adc_bits``: each device's read-out V(x_i) passes a b-bit ADC whose full scale is chosen per
      read-out from the data by a coarse conversion, v_swing 2^e with the smallest integer e
      covering the largest |V(x_i)| (a common binary range: at most one bit lost), at most
      ``converter_max_v``; larger outputs clip (counted in ``adc_clipped``, ``ClippingWarning``).
    * ``mitigation`` = K: K independent devices (own roundings, dither and mismatch; the
      "Thermies" ensemble), each run from the same start for the same analog time; their read-outs
      are averaged (K x the cost). With independent unbiased roundings the first-order error
      term averages out: error O(eps^2) + O(eps / sqrt K). Warm start: all K devices start from the
      averaged previous read-out g~_{k-1} (Algorithm 1), which is written into each device (through
      its DAC); a single device (K = 1) keeps its own state when x0 is its previous read-out.
      Each device draws its own run seed from ``rng`` (device 0 the same as the nominal twin).
    * ``rail_v``: op-amp output rails, +-V (default inf: none). Every op-amp output clips there and
      saturated integrators wind up and recover (:mod:`spucircuit.integrate.chain_rails`); the
      devices then run Euler-Maruyama (steps of ``dt_tau`` or the automatic one). Runs in which an
      op-amp saturated are counted in ``saturated_runs`` (names in ``saturated_opamps``).
    * ``calibration``: per device, once (fabrication is fixed), the input gain of every integrator
      is measured: all array codes open, probe voltages on the DACs, the twin run for 30 + 50
      relaxation times (``spucircuit.imperfections.factored.measure_input_gains``); the measured gain rho_i (the
      mismatch of G_in,i / G_lambda,i) is then divided out of every later DAC value, digitally.
      This removes the mismatch error of the input and lambda resistors exactly (noise-free) in
      the N - m dimensional lambda-only part of the solution, the dominant part for N >> m. Left
      out: per-position gains of the arrays and stage resistors (they act only in the m-dimensional
      range of the J arrays and average over many resistors), finite-gain loading (O(1 / A0)),
      transient (rate) errors. Probe time is counted in ``calibration_time_s`` and
      ``analog_time_s``.
    """

    name = "factored"

    def __init__(self, *, temperature_k: float = 300.0, noise: bool = True, scheme: str = "exponential",
                 dt_tau: float | None = None, max_step_tau: float = 5.0, r_min: float = 1e3, r_max: float = 1e9,
                 c: float = 1e-9, headroom: float = 4.0, prune: bool = True, tolerance: float = 0.0,
                 tolerance_seed: int | None = None, opamp_gain: float = float("inf"),
                 spectral_method: str = "arnoldi", bits: int | None = None, rounding: str = "stochastic",
                 dac_bits: int | None = None, adc_bits: int | None = None, mitigation: int = 1,
                 calibration: bool = False, seed: int = 0, converter_max_v: float = 10.0,
                 rail_v: float = float("inf")):
        if scheme not in ("exponential", "euler"):
            raise ConfigError(f"unknown factored-twin scheme {scheme!r}: use 'exponential' or 'euler'")
        for nm, v in (("max_step_tau", max_step_tau), ("r_min", r_min), ("r_max", r_max), ("c", c),
                      ("headroom", headroom), ("converter_max_v", converter_max_v)):
            if not (np.isfinite(v) and v > 0):
                raise ConfigError(f"{nm} must be finite and > 0, got {v!r}")
        if dt_tau is not None and not (np.isfinite(dt_tau) and dt_tau > 0):
            raise ConfigError(f"dt_tau must be finite and > 0, got {dt_tau!r}")
        if not (np.isfinite(tolerance) and tolerance >= 0):
            raise ConfigError(f"tolerance must be finite and >= 0, got {tolerance!r}")
        self.bits = _int_option("bits (resistor precision)", bits, 1)
        if self.bits is not None and self.bits > 48:
            raise ConfigError(f"bits (resistor precision) must be at most 48, got {bits!r}")
        if rounding not in ("stochastic", "nearest"):
            raise ConfigError(f"rounding must be 'stochastic' or 'nearest', got {rounding!r}")
        self.dac_bits = _int_option("dac_bits", dac_bits, 2)
        self.adc_bits = _int_option("adc_bits", adc_bits, 2)
        self.mitigation = _int_option("mitigation (number of devices K)", mitigation, 1, allow_none=False)
        if not isinstance(calibration, (bool, np.bool_)):
            raise ConfigError(f"calibration must be True or False, got {calibration!r}")
        self.seed = _int_option("seed", seed, 0, allow_none=False)
        if tolerance_seed is not None:  # the former name of the device seed
            tolerance_seed = _int_option("tolerance_seed", tolerance_seed, 0, allow_none=False)
            if seed not in (0, tolerance_seed):
                raise ConfigError(f"seed ({seed}) and tolerance_seed ({tolerance_seed}) disagree: give one")
            self.seed = tolerance_seed
        self.tolerance_seed = self.seed
        if not (rail_v > 0):
            raise ConfigError(f"rail_v must be > 0 V (inf: no rails), got {rail_v!r}")
        self.rail_v = float(rail_v)
        self.saturated_runs = 0  # analog runs in which some op-amp sat on a rail (rails only)
        self.saturated_opamps: set = set()
        self.rounding = rounding
        self.calibration = bool(calibration)
        self.converter_max_v = float(converter_max_v)
        self.temperature_k = float(temperature_k)
        self.noise = bool(noise)
        self.scheme = scheme
        self.dt_tau = dt_tau
        self.max_step_tau = float(max_step_tau)
        self.circuit_kwargs = dict(r_min=float(r_min), r_max=float(r_max), c=float(c), prune=bool(prune),
                                   opamp_gain=float(opamp_gain))
        self.headroom = float(headroom)
        self.tolerance = float(tolerance)
        self.spectral_method = spectral_method
        self.scales = None
        self.device = None
        self.last_circuit = None
        self.programmings = 0
        self.redesigns = 0
        self.writes = 0
        self.analog_time_s = 0.0  # total simulated analog time, s
        self._noisy: dict = {}
        self._buffers = [None, None]
        self._owners = [None, None]
        # imperfect devices
        self.imperfect = bool(self.bits is not None or self.tolerance > 0 or self.dac_bits is not None
                              or self.adc_bits is not None or self.mitigation > 1 or self.calibration)
        self.devices: list = []
        self.dac_clipped = 0
        self.adc_clipped = 0
        self.bank_clipped = 0
        self.calibration_time_s = 0.0
        self.calibration_gains: list = []  # per device: measured rho (N,)
        self._mbuf = [[None] * self.mitigation, [None] * self.mitigation]  # per slot and device: J array
        self._m3buf = [[None] * self.mitigation, [None] * self.mitigation]  # materialised J^T arrays
        self._scratch = None
        self._mismatch = None
        self._last_out = None
        self._draws = 0

    @staticmethod
    def _unpack(factor):
        if hasattr(factor, "jacobian") and hasattr(factor, "hessian_blocks"):
            return factor.jacobian(), factor.hessian_blocks(), float(factor.b)
        if isinstance(factor, (tuple, list)):
            if len(factor) not in (2, 3):
                raise ConfigError("factor tuple must be (J, H_blocks) or (J, H_blocks, b_norm)")
            J, H = factor[0], factor[1]
            b_norm = float(factor[2]) if len(factor) == 3 else float(np.shape(H)[0])
            return np.asarray(J, dtype=float), np.asarray(H, dtype=float), b_norm
        U = np.asarray(factor, dtype=float)
        if U.ndim != 2:
            raise ConfigError(f"factor must be Ut (m, N), (J, H_blocks) or a Batch, got shape {U.shape}")
        return U, None, 1.0

    def prepare(self, factor, damping, rhs) -> FactoredSystem:
        """Map the system onto the three resistor arrays (see the class docstring); O(m N)."""
        lam = float(damping)
        if not (np.isfinite(lam) and lam > 0):
            raise ConfigError(f"damping lambda must be finite and > 0, got {damping!r}")
        J, H, b_norm = self._unpack(factor)
        g = np.asarray(rhs, dtype=float)
        if g.shape != (J.shape[1],):
            raise ConfigError(f"factor (m, N) and rhs (N,) do not match: {J.shape}, {g.shape}")
        slot = self.programmings % 2
        if self.imperfect:  # the nominal values are only an intermediate: one scratch buffer
            buf = self._scratch
            if buf is None or buf.shape != J.shape:
                buf = self._scratch = np.empty(J.shape)
        else:
            buf = self._buffers[slot]
            if buf is None or buf.shape != J.shape:
                buf = self._buffers[slot] = np.empty(J.shape)
        token = object()
        self._owners[slot] = token
        kw = dict(self.circuit_kwargs, b_norm=b_norm, netlist=False, out=buf)
        circuit = None
        if self.scales is not None:
            try:
                circuit = factored_circuit(J, H, lam, g, scales=self.scales, **kw)
            except RealizabilityError:
                circuit = None  # outgrown: re-design below, keeping v_unit
        if circuit is None:
            if self.imperfect:
                x_ref = self._last_out
            else:
                x_ref = self.device.read()[0] if self.device is not None else None
            v_unit = self.scales.v_unit_v if self.scales is not None else None
            circuit = factored_circuit(J, H, lam, g, headroom=self.headroom, x_ref=x_ref, v_unit=v_unit, **kw)
            if self.scales is not None:
                self.redesigns += 1
            self.scales = circuit.scales
        assert isinstance(circuit, FactoredCircuit)
        members, nominal = (), None
        if self.imperfect:
            nominal = circuit
            if self.calibration and (len(self.calibration_gains) != self.mitigation
                                     or self.calibration_gains[0].shape != g.shape):
                self._calibrate(nominal)
            members = tuple(self._realise(nominal, k, slot) for k in range(self.mitigation))
            circuit = members[0]
        self.programmings += 1
        self.last_circuit = circuit
        self._noisy = {}
        return FactoredSystem(factor, np.asarray(lam), g, np.zeros(0), np.zeros((0, 0)), circuit, (slot, token),
                              members, nominal)

    # ------------------------------------------------------------------ imperfect devices
    def _stream(self, *tags) -> np.random.Generator:
        """A generator for one controller draw, from (seed, tags)."""
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, *tags])))

    def _fab(self, k):
        if self.tolerance <= 0:
            return None
        if self._mismatch is None:
            self._mismatch = [FabricationMismatch(self.tolerance, self.seed, member=d) for d in range(self.mitigation)]
        return self._mismatch[k]

    def _dac(self, v, rng, what="input voltages"):
        """v (V) through the DAC (spucircuit's one conversion step): full scale = max |v| (at most
        converter_max_v), dither as rounding; clipping counted in ``dac_clipped`` and warned."""
        if self.dac_bits is None:
            return np.asarray(v, dtype=float)
        v = np.asarray(v, dtype=float)
        if not np.any(v):
            return v.copy()
        dither = rng.random(v.shape) if self.rounding == "stochastic" else None
        conv = Converter(self.dac_bits, self.converter_max_v, ranging="peak", max_v=self.converter_max_v)
        return convert(conv, v, self, "dac", what, dither=dither, stacklevel=4)

    def _adc(self, volts):
        """V(x) (V) through the ADC: common binary range v_swing 2^e covering max |V| (at most
        converter_max_v); larger values clip (counted in ``adc_clipped``, warned)."""
        if self.adc_bits is None:
            return volts
        conv = Converter(self.adc_bits, self.converter_max_v, ranging="binary", max_v=self.converter_max_v)
        return convert(conv, volts, self, "adc", "read-out values", stacklevel=4)

    def _realise(self, nominal, k, slot):
        """Device k's circuit for this programming: quantised codes, its mismatch, its DAC values."""
        comp = nominal.components
        m, N = comp.m, comp.n
        buf = self._mbuf[slot][k]
        if buf is None or buf.shape != (m, N):
            buf = self._mbuf[slot][k] = np.empty((m, N))
        buf3 = None
        if self.tolerance > 0:
            buf3 = self._m3buf[slot][k]
            if buf3 is None or buf3.shape != (N, m):
                buf3 = self._m3buf[slot][k] = np.empty((N, m))
        rng = self._stream(1, self.programmings, k)
        v_in = comp.v_in
        if self.calibration:
            v_in = v_in / self.calibration_gains[k]
        v_in = self._dac(v_in, rng)
        r_range = (self.circuit_kwargs["r_min"], self.circuit_kwargs["r_max"])
        fab, info = imperfect_components(comp, bits=self.bits, rounding=self.rounding, r_range=r_range, rng=rng,
                                         mismatch=self._fab(k), v_in=v_in, out=buf, out3=buf3)
        self.bank_clipped += info["clipped"]
        return replace(nominal, components=fab, netlist_cache=None)

    def _calibrate(self, nominal):
        """Measure every device's per-integrator input gain (once per device: see the class doc)."""
        comp = nominal.components
        gains = []
        for k in range(self.mitigation):
            # the device's own resistors (no array codes are needed: the probe opens the arrays)
            fab = comp
            mm = self._fab(k)
            if mm is not None:
                fab = comp.copy()
                for nm in ("g_lambda", "g_in", "gf1", "gf2"):
                    setattr(fab, nm, getattr(fab, nm) * mm.factors(nm, getattr(fab, nm).shape))
            rng = self._stream(2, k)
            rho, t_s = measure_input_gains(fab, nominal, temperature_k=self.temperature_k, noise=self.noise,
                                           seed=int(rng.integers(2**63)), adc=self._adc,
                                           dac=lambda v: self._dac(v, rng, "probe voltages"))
            gains.append(rho)
            self.calibration_time_s += t_s
            self.analog_time_s += t_s
        self.calibration_gains = gains

    def _write(self, dev, x0, k):
        """Write x0 into device k's capacitors (through its DAC)."""
        dev.reset(x0)
        if self.dac_bits is not None:
            self._draws += 1
            dev.state[0] = self._dac(dev.state[0], self._stream(3, self._draws, k), "capacitor voltages")
        self.writes += 1

    def propagate(self, sys, x0, t, kappa0, rng) -> np.ndarray:
        """Run the programmed device(s) for t tau from x0 and read one sample (see the class docstring)."""
        t, kappa0, x0 = begin_run(t, kappa0, x0, "factored twin")
        if t == 0:
            return x0.copy()
        circuit = getattr(sys, "circuit", None)
        if circuit is None:
            raise ConfigError("propagate needs a system from FactoredTwinSolver.prepare")
        slot, token = sys.slot
        if self._owners[slot] is not token:
            raise ConfigError("this system's resistor arrays have been reprogrammed since (only the current "
                              "and the previous system stay programmed)")
        if self.imperfect:
            return self._propagate_devices(sys, x0, t, kappa0, rng)
        if kappa0 > 0:  # one noisy copy per (system, kappa0), so its set-up is cached
            circuit = self._with_kappa0(circuit, kappa0)
        temp = self.temperature_k if self.noise else 0.0
        noisy = self.noise or kappa0 > 0
        if self.device is None:
            self.device = FactoredSPU(circuit, temperature_k=temp, noise=noisy, scheme=self.scheme, chains=1,
                                      spectral_method=self.spectral_method, rail_v=self.rail_v)
            self.device.reset(x0)
            self.writes += 1
        else:
            self.device.program(circuit, temperature_k=temp, noise=noisy)
            if not np.array_equal(self.device.read()[0], x0):
                self.device.reset(x0)
                self.writes += 1
        res = self.device.run(t * circuit.tau_s, dt=self._dt(self.device, t, circuit.tau_s), max_samples=1,
                              seed=int(rng.integers(2**63)))
        self.analog_time_s += res.analog_time_s
        self._count_saturation(res)
        return self.device.read()[0]

    def _count_saturation(self, res):
        if res.saturated:
            self.saturated_runs += 1
            self.saturated_opamps.update(res.saturated)

    def _with_kappa0(self, circuit, kappa0):
        key = (id(circuit), kappa0)
        hit = self._noisy.get(key)
        if hit is None or hit[0] is not circuit:
            hit = (circuit, circuit.with_injected_noise(circuit.kappa0_psd(kappa0)))
            self._noisy[key] = hit
        return hit[1]

    def _dt(self, device, t, tau):
        if device.scheme == "euler":  # also a device with rails (no exponential step when clipped)
            return None if self.dt_tau is None else self.dt_tau * tau
        if not self._uniform(device.chain):
            return t * tau / max(1, math.ceil(t / self.max_step_tau))
        return None

    def _propagate_devices(self, sys, x0, t, kappa0, rng):
        members = sys.members
        K = len(members)
        seeds = [int(rng.integers(2**63)) for _ in range(K)]
        temp = self.temperature_k if self.noise else 0.0
        noisy = self.noise or kappa0 > 0
        keep = K == 1 and self._last_out is not None and np.array_equal(x0, self._last_out)
        if len(self.devices) != K:
            self.devices = [None] * K
        total = np.zeros(x0.shape)
        for k, circuit in enumerate(members):
            if kappa0 > 0:
                circuit = self._with_kappa0(circuit, kappa0)
            dev = self.devices[k]
            if dev is None:
                dev = self.devices[k] = FactoredSPU(circuit, temperature_k=temp, noise=noisy, scheme=self.scheme,
                                                    chains=1, spectral_method=self.spectral_method,
                                                    rail_v=self.rail_v)
                self._write(dev, x0, k)
            else:
                dev.program(circuit, temperature_k=temp, noise=noisy)
                if not keep:
                    self._write(dev, x0, k)
            res = dev.run(t * circuit.tau_s, dt=self._dt(dev, t, circuit.tau_s), max_samples=1, seed=seeds[k])
            self.analog_time_s += res.analog_time_s
            self._count_saturation(res)
            volts = np.clip(dev.state[0] * dev.chain.om, -self.rail_v, self.rail_v)
            total += self._adc(volts) / circuit.v_unit_v
        self.device = self.devices[0]
        x = total / K
        if not np.all(np.isfinite(x)):
            raise ConfigError("the device read-out is not finite: the programmed (imperfect) circuit is unstable "
                              "(e.g. an H array made indefinite by the resistor mismatch); lower the tolerance")
        self._last_out = x.copy()
        return x

    @staticmethod
    def _uniform(chain) -> bool:
        D = chain.diag
        return bool(np.max(np.abs(D - D.mean())) <= 1e-13 * abs(D.mean()))
