"""One imperfect device instance (:class:`Device`): an imperfection chain + a device key,
programmable many times, and its runnable twin (:class:`ImperfectSPU`) whose inputs pass its DAC and
whose read-outs pass its ADC."""
from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from spucircuit._util.keys import DeviceKey
from spucircuit.circuit.factored_array import FactoredCircuit
from spucircuit.circuit.integrator_array import MappedCircuit, integrator_array, remap
from spucircuit.constants import T_ROOM
from spucircuit.device.converters import convert
from spucircuit.device.factored_spu import FactoredSPU
from spucircuit.device.saturation import RailedCircuit
from spucircuit.device.spu import SPU, RunResult
from spucircuit.errors import ClippingWarning, SPUError
from spucircuit.imperfections.base import Build, Chain, Imperfection
from spucircuit.imperfections.effective import EffectiveSystem, effective_system
from spucircuit.imperfections.models import InjectedNoise, OpAmpNoise, Thermal
from spucircuit.numerics.bounds import KAPPA_MAX_DEFAULT, SpectrumBounds
from spucircuit.numerics.matrices import as_vector
from spucircuit.statespace.chain import ChainDrift
from spucircuit.statespace.mna import compile_netlist

# ===============================================================================  run-time
DeviceRunResult = RunResult  # former name: every device returns the one RunResult (ADC counts included)


class ImperfectSPU(SPU):
    """The :class:`~spucircuit.device.spu.SPU` of one device build: its inputs pass the build's DAC
    (``set_rhs``), its read-outs the build's ADC (``run``, ``read``); clipping is counted in
    ``dac_clipped`` / ``adc_clipped`` and warned (:class:`~spucircuit.errors.ClippingWarning`)."""

    def __init__(self, build: Build, **kw):
        self.build = build
        kw.setdefault("temperature_k", build.temperature_k)
        super().__init__(build.mapped, dac=build.dac, adc=build.adc, **kw)
        self.rails = None
        if np.isfinite(build.rail_v):
            if self.scheme != "exponential":
                raise SPUError("op-amp rails are simulated with the exponential scheme (exact within each "
                               "saturation mode); euler is not supported with rails")
            self.rails = RailedCircuit(self.ss, build.rail_v, self.mapped.output_nodes, self.noise)
        self._rail_run = None

    def _advance(self, X, n_steps, dt, save_every, seeds, meter):
        if self.rails is None:
            return super()._advance(X, n_steps, dt, save_every, seeds, meter)
        X, samples, xsum, osum, sat = self.rails.advance(X, n_steps, dt, save_every, seeds, meter)
        self._rail_run = (osum / n_steps, sat)
        return X, samples, xsum

    def _readout_fn(self):
        if self.rails is None:
            return super()._readout_fn()
        return lambda states: self.mapped.x_from_volts(self.rails.outputs(states))

    def _annotate(self, res) -> None:
        if self.rails is not None and self._rail_run is not None:
            mean_v, sat = self._rail_run
            res.mean_readout = self.mapped.x_from_volts(mean_v)
            res.saturated_steps = {nm: int(k) for nm, k in zip(self.rails.opamps, sat)}
            self._rail_run = None


# ================================================================================  device
class Device:
    """One device instance: an imperfection chain + a device key, programmable many times, of any
    architecture.

    ``program(A, b)`` maps A onto the nominal integrator array (``mapping`` keyword arguments,
    e.g. r_min, r_max, noise_psd, opamp_gain); ``program_circuit(circuit)`` takes any mapped
    circuit (an integrator array or a factored circuit). Either optionally pre-distorts it with a
    calibration (``calibration.predistort``) and applies the imperfections. ``build`` is the physical
    device; ``known`` the device as the controller knows it (only the ``known`` imperfections: chosen
    bank and DAC codes); ``spu()`` its runnable twin, whose inputs and read-outs pass its converters.
    """

    def __init__(self, imperfection: Imperfection | None = None, seed=None, *, member: int = 0,
                 members: int = 1, stratify: bool = False, fab_member: int | None = None, **mapping):
        if imperfection is not None and not isinstance(imperfection, Imperfection):
            raise SPUError(f"Device takes an imperfection model (or chain(...) of them, or None), got {imperfection!r}")
        self.imperfection = imperfection if imperfection is not None else Chain(())
        self.key = DeviceKey.make(seed, member=member, members=members, stratify=stratify, fab_member=fab_member)
        self.mapping = dict(mapping)
        self.nominal: MappedCircuit | None = None
        self.programmed: MappedCircuit | None = None
        self.build: Build | None = None
        self.calibration = None
        self._known: Build | None = None
        self._eff = None

    def program(self, A, b=None, *, calibration=None, scale=None) -> "Device":
        """Map SPD A (and b) onto the nominal integrator array and program it; ``scale`` (see
        :func:`~spucircuit.circuit.integrator_array.integrator_array`) overrides the mapping's."""
        mapping = dict(self.mapping) if scale is None else dict(self.mapping, scale=scale)
        return self.program_circuit(integrator_array(A, b, **mapping), calibration=calibration)

    def program_circuit(self, circuit, *, calibration=None) -> "Device":
        """Program a mapped circuit (MappedCircuit or FactoredCircuit): the nominal values, then the
        calibration's pre-distortion, then this device's imperfections."""
        if not isinstance(circuit, (MappedCircuit, FactoredCircuit)):
            raise SPUError(f"cannot program a {type(circuit).__name__}: give a MappedCircuit or a FactoredCircuit")
        self.nominal = circuit
        self.calibration = calibration
        self.programmed = calibration.predistort(circuit) if calibration is not None else circuit
        self.build = self.imperfection.apply(Build(self.programmed), self.key)
        self._known = None
        self._eff = None
        return self

    program_mapped = program_circuit  # former name

    @property
    def factored(self) -> bool:
        return isinstance(self.nominal, FactoredCircuit)

    def spectrum_bounds(self, kappa_max: float = KAPPA_MAX_DEFAULT) -> SpectrumBounds:
        """What this device can know of its nominal A's spectrum: bounds from the entries it holds
        and the problem class. A factored circuit's A = J^T H J / b + lambda I has lambda_min >=
        lambda (H blocks PSD) and lambda_max <= its drift's Gershgorin bound, matrix-free."""
        self.require_programmed()
        if not self.factored:
            return SpectrumBounds.from_matrix(self.nominal.A, kappa_max)
        fc = self.nominal
        lam = float(fc.damping)
        radius = ChainDrift(fc.components, noise=False).gershgorin_radius() * fc.tau_s
        return SpectrumBounds(lam_max_upper=max(radius, lam), lam_max_lower=lam, kappa_max=1.0, lam_min_floor=lam)

    def rescale(self, v_unit: float) -> "Device":
        """Re-map the nominal integrator array at ``v_unit`` (V per unit of x; the input resistor and
        DAC levels change with it) and program it again: same fabrication, same calibration."""
        self.require_programmed()
        if self.factored:
            raise SPUError("re-ranging a factored-circuit device is not supported: map it with the scale wanted")
        return self.program_circuit(remap(self.nominal, float(v_unit)), calibration=self.calibration)

    def nominal_eigenvalues(self) -> np.ndarray:
        """Ascending eigenvalues of the nominal A (1/tau): what the run times are chosen from.
        Factored circuits: from the dense nominal drift (small N only)."""
        self.require_programmed()
        if not self.factored:
            return np.linalg.eigvalsh(self.nominal.A)
        F = ChainDrift(self.nominal.components, noise=False).to_dense()
        return np.linalg.eigvalsh(-0.5 * (F + F.T) * self.nominal.tau_s)

    @property
    def known(self) -> Build | None:
        """The device as the controller knows it: only the ``known`` imperfections applied."""
        if self._known is None and self.programmed is not None:
            with warnings.catch_warnings():  # already reported when the device was programmed
                warnings.simplefilter("ignore", ClippingWarning)
                self._known = self.imperfection.apply(Build(self.programmed), self.key, known_only=True)
        return self._known

    def require_programmed(self) -> None:
        """Raise SPUError unless the device has been programmed."""
        if self.build is None:
            raise SPUError("program the device first (Device.program(A, b))")

    @property
    def n(self) -> int:
        self.require_programmed()
        return self.nominal.n

    def effective(self) -> EffectiveSystem:
        """The compiled device (with its noise, so the diffusion is available too)."""
        self.require_programmed()
        if self._eff is None:
            self._eff = effective_system(self.build, noise=True)
        return self._eff

    def design_x_diffusion(self) -> np.ndarray:
        """The read-out diffusion per tau (x units) the *design* predicts: the nominal circuit with
        the chain's noise models (injected noise, op-amp input noise, temperature) and nothing
        drawn per device. What a controller may assume of its noise without measuring it."""
        self.require_programmed()
        items = self.imperfection.flat() if isinstance(self.imperfection, Chain) else (self.imperfection,)
        spec = [replace(i, tcr_ppm_per_k=0.0, tcr_spread_ppm_per_k=0.0) if isinstance(i, Thermal) else i
                for i in items if isinstance(i, (InjectedNoise, OpAmpNoise, Thermal))]
        build = Chain(tuple(spec)).apply(Build(self.nominal), self.key)
        return nominal_x_diffusion(replace(self.nominal, netlist=build.netlist), build.temperature_k)

    def spu(self, **kw):
        """A runnable twin of this device: an :class:`ImperfectSPU` (integrator arrays) or a
        :class:`~spucircuit.device.factored_spu.FactoredSPU` with the build's converters (keyword
        arguments as those classes)."""
        self.require_programmed()
        if self.factored:
            kw.setdefault("temperature_k", self.build.temperature_k)
            return FactoredSPU(self.build.circuit, dac=self.build.dac, adc=self.build.adc, rail_v=self.build.rail_v, **kw)
        return ImperfectSPU(self.build, **kw)

    def steady_x(self, b=None, *, warn: bool = True):
        """The exact noise-free, infinite-time read-out for right-hand side b (through the DAC
        and the ADC). Returns (x, report) with the clipping counts."""
        self.require_programmed()
        mc = self.nominal
        b = mc.b if b is None else as_vector(b, mc.n)
        rep = {"dac_clipped": 0, "adc_clipped": 0}
        v = self.programmed.input_volts(b)  # the controller's input map (a calibration may correct it)
        if self.build.dac is not None:
            v, (lo, hi) = convert(self.build.dac, v, None, "dac", "input voltages", counts=True, warn=False)
            rep["dac_clipped"] = lo + hi
        if self.factored and np.isfinite(self.build.rail_v):  # piecewise linear: the circuit's own netlist
            fc = self.build.circuit
            comp = replace(fc.components, v_in=np.asarray(v, dtype=float))
            ss = compile_netlist(replace(fc, components=comp, netlist_cache=None).netlist, self.build.temperature_k,
                                 noise=False)
            rails = RailedCircuit(ss, self.build.rail_v, [f"x{i}" for i in range(mc.n)], noise=False)
            states, mode = rails.steady()
            x = rails.outputs(states) / mc.v_unit_v
            rep["saturated"] = [nm for nm, s in zip(rails.opamps, mode) if s]
        elif self.factored:
            x = self._steady_factored(v)
        elif np.isfinite(self.build.rail_v):  # the piecewise-linear stationary state
            ss = compile_netlist(self.build.netlist, self.build.temperature_k, noise=False)
            for nm, val in zip(mc.input_sources, v):
                ss.set_input(nm, float(val))
            rails = RailedCircuit(ss, self.build.rail_v, mc.output_nodes, noise=False)
            states, mode = rails.steady()
            x = mc.x_from_volts(rails.outputs(states))
            rep["saturated"] = [nm for nm, s in zip(rails.opamps, mode) if s]
        else:
            x = self.effective().x_star(v)
        if self.build.adc is not None:
            q, (lo, hi) = convert(self.build.adc, x * mc.v_unit_v, None, "adc", "read-out values", counts=True,
                                  warn=False, mean=True)  # the exact average over the transition noise
            x = q / mc.v_unit_v
            rep["adc_clipped"] = lo + hi
        if warn and (rep["dac_clipped"] or rep["adc_clipped"]):
            warnings.warn(f"converter clipping: {rep}", ClippingWarning, stacklevel=2)
        return x, rep

    def _steady_factored(self, v_in) -> np.ndarray:
        """x* of the factored build for DAC voltages v_in: F v* + offset = 0 (dense, small N)."""
        comp = replace(self.build.circuit.components, v_in=np.asarray(v_in, dtype=float))
        chain = ChainDrift(comp, noise=False)
        v = np.linalg.solve(chain.to_dense(), -chain.offset)
        return v * chain.om / self.nominal.v_unit_v

    def stationary_inverse(self, q_nominal: float | None = None) -> np.ndarray:
        """A^-1 as the exact stationary covariance 2 cov(x) / q (continuous Lyapunov equation of
        the compiled device with its noise), q the *nominal* diffusion (what the controller
        believes), as :func:`~spucircuit.linalg.solve.inv` uses."""
        import scipy.linalg as sla

        mc = self.nominal
        eff = self.effective()
        F, Q = eff.ss.drift.to_dense(), eff.ss.diffusion
        S = sla.solve_continuous_lyapunov(F, -Q)
        cov = eff.Y @ (0.5 * (S + S.T)) @ eff.Y.T / mc.v_unit_v**2
        if q_nominal is None:
            q_nominal = nominal_diffusion(mc, self.build.temperature_k)
        out = 2.0 * cov / q_nominal
        return 0.5 * (out + out.T)


def x_diffusion(ss, Y, mc: MappedCircuit) -> np.ndarray:
    """The diffusion of the read-out x per tau, Y Q Y^T tau / v_unit^2, for a state space ``ss``
    read by V = Y x (+ Z u) through a mapping with time unit tau and v_unit."""
    return (Y @ ss.diffusion @ Y.T) * mc.tau_s / mc.v_unit_v**2


def nominal_x_diffusion(mc: MappedCircuit, temperature_k: float = T_ROOM) -> np.ndarray:
    """The x-unit diffusion per tau of the *nominal* circuit (what the design says of its noise)."""
    ss = compile_netlist(mc.netlist, temperature_k, noise=True)
    Y, _ = ss.node_voltage_map(mc.output_nodes)
    return x_diffusion(ss, Y, mc)


def nominal_diffusion(mc: MappedCircuit, temperature_k: float = T_ROOM) -> float:
    """q = mean diagonal of the x-unit diffusion per tau of the *nominal* circuit."""
    return float(np.mean(np.diag(nominal_x_diffusion(mc, temperature_k))))
