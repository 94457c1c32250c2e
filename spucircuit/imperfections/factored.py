"""Imperfections of a factored circuit: resistor precision, fabrication mismatch, calibration probe.

:func:`imperfect_components` applies b-bit resistor rounding (:func:`~spucircuit.numerics.quantize.quantize_array`,
:func:`~spucircuit.numerics.quantize.quantize_h_blocks`) and a fixed per-device, per-position resistor
mismatch (:class:`FabricationMismatch`) to a nominal :class:`FactoredComponents`;
:func:`measure_input_gains` is the calibration probe (arrays open: per-integrator input gain).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from spucircuit.circuit.factored_array import FactoredCircuit
from spucircuit.circuit.factored_components import FactoredComponents, inv_gain
from spucircuit.constants import R_MAX_DEFAULT, R_MIN_DEFAULT, T_ROOM, V_SWING_DEFAULT
from spucircuit.device.factored_spu import FactoredSPU
from spucircuit.errors import RealizabilityError
from spucircuit.numerics.quantize import quantize_array, quantize_h_blocks

_FAB_NAMES = ("G1", "G2", "G3", "gf1", "gf2", "g_lambda", "g_in", "bx_g", "bx_f", "by_g", "by_f", "bw_g", "bw_f")


class FabricationMismatch:
    """Fixed resistor mismatch of one physical device: R_p = R_programmed,p (1 + d_p) for every
    resistor position p, d_p = max(sigma z_p, -0.9), z_p ~ N(0, 1) (the rule of
    :class:`spucircuit.imperfections.models.Tolerance`), drawn once from (seed, member).

    Positions: the J array (m, N), the J^T array indexed like J ((k, i) for its entry (i, k)), the
    H array (b, dz, dz) and the per-node resistors (gf1, gf2, by_*, bw_* per stage row; g_lambda,
    g_in, bx_* per integrator). Each array's draws are row-major in float32 from its own stream,
    so a position's draw does not depend on how many rows exist (a smaller batch uses the first
    rows; a larger one extends the draws) nor on what is programmed there: reprogramming the device
    keeps every resistor's error. Memory: two float32 m x N arrays."""

    def __init__(self, sigma: float, seed: int = 0, member: int = 0):
        sigma = float(sigma)
        if not (np.isfinite(sigma) and sigma >= 0):
            raise RealizabilityError(f"tolerance sigma must be finite and >= 0, got {sigma!r}")
        self.sigma = sigma
        self.seed = int(seed)
        self.member = int(member)
        self._cache: dict = {}

    def factors(self, name: str, shape) -> np.ndarray:
        """Conductance factors 1 / (1 + d) for the positions of ``shape`` (leading axis = rows)."""
        shape = tuple(int(s) for s in shape)
        hit = self._cache.get(name)
        if hit is not None and hit.shape[1:] == shape[1:] and hit.shape[0] >= shape[0]:
            return hit[:shape[0]]
        ss = np.random.SeedSequence([self.seed, 0xFAB, self.member, _FAB_NAMES.index(name)])
        z = np.random.Generator(np.random.PCG64(ss)).standard_normal(shape, dtype=np.float32)
        np.multiply(z, np.float32(self.sigma), out=z)
        np.maximum(z, np.float32(-0.9), out=z)
        z += np.float32(1.0)
        np.reciprocal(z, out=z)
        self._cache[name] = z
        return z

    def apply(self, comp: FactoredComponents, out3: np.ndarray | None = None) -> FactoredComponents:
        """In place on comp's arrays (G1, G2, vectors), except the J^T array, which is materialised
        (into ``out3``, (N, m), if given) from the shared J array *before* the J array is scaled."""
        m, N = comp.m, comp.n
        G3 = out3 if (out3 is not None and out3 is not comp.G3) else np.empty((N, m))
        f3 = self.factors("G3", (m, N)).T
        if comp.G3 is None:
            np.multiply(comp.G1.T, f3, out=G3)
            if comp.g3_ratio != 1.0:
                G3 *= comp.g3_ratio
        else:
            np.multiply(comp.G3, f3, out=G3)
        comp.G1 *= self.factors("G1", (m, N))
        comp.G2 = comp.G2 * self.factors("G2", comp.G2.shape)
        comp.G3, comp.g3_ratio = G3, 1.0
        for nm in _FAB_NAMES[3:]:
            v = getattr(comp, nm)
            setattr(comp, nm, v * self.factors(nm, v.shape))
        comp.scan_cache = None
        return comp


def imperfect_components(comp: FactoredComponents, *, bits: int | None = None, rounding: str = "stochastic",
                         r_range=(R_MIN_DEFAULT, R_MAX_DEFAULT), rng=None,
                         mismatch: FabricationMismatch | None = None, v_in=None,
                         out: np.ndarray | None = None, out3: np.ndarray | None = None):
    """The component values one device realises when programmed with the nominal ``comp``.

    1. resistor precision (``bits``): the J array by :func:`quantize_array`, the H array by
       :func:`quantize_h_blocks`; the J^T array gets the *same codes* as the J array (its targets are
       the same conductances: g3 = g1), so it stays the shared buffer and F' = J'^T H' J' / b keeps
       its symmetric, positive semidefinite form. Stage feedback, lambda, input and buffer resistors
       are fixed (nominal) components.
    2. fabrication mismatch (``mismatch``): :meth:`FabricationMismatch.apply` (every resistor).
    3. ``v_in``: the DAC voltages actually applied (quantised / calibrated by the caller).

    ``rng`` (a numpy Generator, or a seed for one) gives one stream key per array, in the order J, H
    (and a separately targeted J^T array). ``out`` (m, N) and
    ``out3`` (N, m) are optional buffers for the J and materialised J^T arrays. Returns
    (components, info)."""
    info = {"clipped": 0}
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    m, N = comp.m, comp.n
    G1 = out if out is not None else np.empty((m, N))
    G3 = comp.G3
    if bits is not None:
        _, c1 = quantize_array(comp.G1, bits, *r_range, rounding, rng, out=G1)
        G2, hinfo = quantize_h_blocks(comp.G2, bits, *r_range, rounding, rng)
        info.update(clipped=c1 + hinfo["clipped"], laplacian_blocks=hinfo["laplacian_blocks"])
        if G3 is not None or comp.g3_ratio != 1.0:  # own targets: own codes
            G3, c3 = quantize_array(comp.G3_array(), bits, *r_range, rounding, rng,
                                    out=out3 if (mismatch is None and out3 is not None) else None)
            info["clipped"] += c3
    else:
        np.copyto(G1, comp.G1)
        G2 = comp.G2.copy()
    new = replace(comp, G1=G1, G2=G2, G3=G3, g3_ratio=1.0 if G3 is not None else comp.g3_ratio,
                  v_in=comp.v_in.copy() if v_in is None else np.asarray(v_in, dtype=float).copy(), scan_cache=None,
                  **{nm: getattr(comp, nm).copy() for nm in _FAB_NAMES[3:]})
    if mismatch is not None:
        mismatch.apply(new, out3)
    new.validate()
    return new, info


def _open_integrators(comp: FactoredComponents, v_in) -> FactoredComponents:
    """comp's integrators with every array resistor open (one dummy, empty stage row): the
    calibration probe configuration."""
    N = comp.n
    zN, z1 = np.zeros(N), np.zeros(1)
    return FactoredComponents(
        G1=np.zeros((1, N)), G2=np.zeros((1, 1, 1)), G3=None, g3_ratio=1.0, gf1=comp.gf1[:1].copy(),
        gf2=comp.gf2[:1].copy(), g_lambda=comp.g_lambda.copy(), g_in=comp.g_in.copy(),
        v_in=np.asarray(v_in, dtype=float).copy(), c=comp.c.copy(), ic=zN.copy(), noise_psd=zN.copy(), bx_g=zN,
        bx_f=zN, by_g=z1, by_f=z1, bw_g=z1, bw_f=z1, gain_int=comp.gain_int.copy(), gain_bx=comp.gain_bx.copy(),
        gain_s1=comp.gain_s1[:1].copy(), gain_by=comp.gain_by[:1].copy(), gain_s2=comp.gain_s2[:1].copy(),
        gain_bw=comp.gain_bw[:1].copy())


def _open_response(comp: FactoredComponents):
    """Stationary integrator output V(x_i) per input volt with the arrays open, and the rate d/C (1/s)."""
    ia = inv_gain(comp.gain_int)
    beta = ia / (1.0 + ia)
    d = comp.g_lambda + beta * comp.g_in
    return -(1.0 - beta) * comp.g_in / d, d / comp.c


def measure_input_gains(device: FactoredComponents, nominal: FactoredCircuit, *, temperature_k: float = T_ROOM,
                        noise: bool = True, seed=None, v_target: float = 0.5 * V_SWING_DEFAULT,
                        settle: float = 30.0, window: float = 50.0, dac=None, adc=None):
    """Calibration probe of one device: the per-integrator input gain rho_i.

    Every array resistor is switched open (all codes 'open'), so each integrator is an RC stage
    C dv/dt = -(d_i v + G_in,i V_in,i) + noise with d_i = G_lambda,i (+ op-amp loading); with probe
    voltages V_in chosen for a nominal response of ``v_target`` volts, the capacitors are written
    with that nominal response, the device twin is run for ``settle`` + ``window`` relaxation times
    of the slowest integrator (Johnson noise at ``temperature_k`` when ``noise``; exponential
    scheme, steps of half a relaxation time) and the window's time average is read (what is left
    of the settling transient: at most |rho - 1| e^-settle / window). rho_i = measured / nominal response = the device's
    (G_in,i / d_i) over the nominal ratio: the mismatch of the input and lambda resistors, fixed
    per device. ``dac(v) -> v'`` and ``adc(V) -> V'`` model the converters (the controller knows the
    DAC codes it chose). Returns (rho (N,), analog time s)."""
    nom = nominal.components
    k_nom, rate = _open_response(nom)
    V = v_target / k_nom
    if dac is not None:
        V = dac(V)
    circ = FactoredCircuit(components=_open_integrators(device, V), scales=nominal.scales, damping=nominal.damping,
                           rhs=np.zeros(device.n), r_in_ohm=nominal.r_in_ohm, r_lambda_ohm=nominal.r_lambda_ohm,
                           prune={})
    t_rel = 1.0 / float(np.min(rate))
    spu = FactoredSPU(circ, temperature_k=temperature_k, noise=noise, scheme="exponential", seed=seed)
    spu.state[:] = k_nom * V / (1.0 - spu.chain.beta)  # start at the nominal response (a DAC write)
    h = 0.5 * t_rel
    spu.run(settle * t_rel, dt=h, max_samples=1)
    res = spu.run(window * t_rel, dt=h, max_samples=1)
    volts = res.mean_x[0] * circ.v_unit_v  # time average of V(x_i)
    if adc is not None:
        volts = adc(volts)
    return volts / (k_nom * V), float(spu.time_s)
