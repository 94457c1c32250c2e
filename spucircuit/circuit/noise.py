"""Noise sources of a circuit: the one Johnson-noise formula and the white current sources it gives;
the flicker (1/f) noise of resistors with a SPICE model's kf (``.noise`` only: it needs the DC current).

A resistor R at temperature T carries Johnson noise: a white current of one-sided power spectral
density S = 4 k_B T / R (A^2/Hz) in parallel with it. A white current source of one-sided PSD S
has increments of variance (S / 2) dt; the compilers turn these into the diffusion Q of the state
space (:mod:`spucircuit.statespace`).
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

from spucircuit.circuit.netlist import Netlist
from spucircuit.constants import K_B, T_ROOM
from spucircuit.errors import NetlistError, NoiseModelWarning, RealizabilityError

INJECTED_OVER_JOHNSON = 1e4  # default injected noise of `inv`: this x the largest Johnson PSD on a row


def as_kelvin(temperature_k) -> float:
    """A Johnson-noise temperature as a float (K); NetlistError naming it if it is not a number."""
    try:
        return float(temperature_k)
    except (TypeError, ValueError):
        raise NetlistError(f"temperature must be a number of kelvin, got {temperature_k!r}") from None


def johnson_psd(temperature_k: float, *, resistance_ohm=None, conductance_siemens=None):
    """One-sided Johnson current PSD 4 k_B T / R = 4 k_B T G (A^2/Hz) of a resistance (Ohm) or a
    conductance (S); arrays broadcast. Give exactly one of the two."""
    if (resistance_ohm is None) == (conductance_siemens is None):
        raise TypeError("give exactly one of resistance_ohm and conductance_siemens")
    c = 4.0 * K_B * temperature_k
    return c / resistance_ohm if resistance_ohm is not None else c * conductance_siemens


def noisy_resistors(netlist: Netlist) -> np.ndarray:
    """1.0 for each resistor with Johnson noise, 0.0 for those ``netlist.meta['noiseless']['resistors']``
    names (SPICE's ``noisy=0``); a named resistor no longer in the netlist (merged, dropped) is skipped."""
    t = netlist.tables["R"]
    out = np.ones(len(t))
    quiet = netlist.meta.get("noiseless", {}) if isinstance(netlist.meta.get("noiseless"), dict) else {}
    for name in quiet.get("resistors") or ():
        i = t.names.locate(str(name).lower()) if len(t) else -1
        if i >= 0:
            out[i] = 0.0
    return out


def johnson_resistance(netlist: Netlist) -> np.ndarray:
    """The resistance (Ohm) whose Johnson noise each resistor carries: its value, except where
    ``netlist.meta['noise_resistance']`` names another ({name: Ohm, None for none}): SPICE's .noise runs
    on the AC resistances (``ac=``) but its resistors' thermal noise is that of their DC conductance
    (ngspice's resnoise.c uses RESconduct); an element with no DC conductance has none."""
    t = netlist.tables["R"]
    r = np.array(t.values, dtype=float)
    over = netlist.meta.get("noise_resistance") if isinstance(netlist.meta.get("noise_resistance"), dict) else {}
    for name, ohm in over.items():
        i = t.names.locate(str(name).lower()) if len(t) else -1
        if i >= 0:
            r[i] = np.inf if ohm is None else float(ohm)
    return r


def johnson_temperature(netlist: Netlist, temperature_k: float):
    """The temperature (K) of each resistor's Johnson noise: ``temperature_k``, plus the SPICE ``dtemp=``
    of those ``netlist.meta['noise_dtemp']`` names (ngspice's nevalsrc.c: 4 k_B (T + dtemp) G); a scalar
    when none has one."""
    over = netlist.meta.get("noise_dtemp") if isinstance(netlist.meta.get("noise_dtemp"), dict) else {}
    if not over:
        return temperature_k
    t = netlist.tables["R"]
    temp = np.full(len(t), float(temperature_k))
    for name, dt in over.items():
        i = t.names.locate(str(name).lower()) if len(t) else -1
        if i >= 0:
            temp[i] += float(dt)
            if not temp[i] >= 0:
                raise NetlistError(f"resistor {name!r}: its noise temperature {temperature_k:g} K + dtemp {dt:g} K "
                                   "is below 0 K")
    return temp


def noise_sources(netlist: Netlist, temperature_k: float, noise: bool = True) -> list:
    """[(nodes (m, 2), one-sided current PSD (m,) A^2/Hz)] of every white noise current source:
    the Johnson noise 4 k_B T / R of each resistor and the explicit N sources (none if not noise)."""
    t = netlist.tables
    srcs = []
    if noise:
        if temperature_k > 0 and len(t["R"]):
            srcs.append((t["R"].nodes, johnson_psd(johnson_temperature(netlist, temperature_k),
                                                   resistance_ohm=johnson_resistance(netlist))
                         * noisy_resistors(netlist)))
        if len(t["N"]):
            srcs.append((t["N"].nodes, t["N"].values))
    return srcs


def flicker_resistors(netlist: Netlist) -> list:
    """[(name, row in the R table, {kf, af, ef, m, area})] of the resistors with flicker noise
    (``netlist.meta['flicker']['resistors']``, SPICE's model kf/af); those no longer in the netlist are skipped."""
    fl = netlist.meta.get("flicker") if isinstance(netlist.meta.get("flicker"), dict) else {}
    t = netlist.tables["R"]
    out = []
    for name, prm in (fl.get("resistors") or {}).items():
        i = t.names.locate(str(name).lower()) if len(t) else -1
        if i >= 0 and isinstance(prm, dict):
            out.append((str(name), i, prm))
    return out


def warn_flicker_dropped(netlist: Netlist) -> None:
    """Warn (once per netlist text: Python's default filter) that the time-domain noise leaves out the
    flicker noise of the resistors with a model kf: the SDE's noise is white (Johnson) only."""
    names = [name for name, _, _ in flicker_resistors(netlist)]
    if names:
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        warnings.warn(f"the transient's noise is white (Johnson) only: the flicker (1/f) noise of resistor"
                      f"{'s' if len(names) > 1 else ''} {shown} (model kf) is left out (.noise includes it)",
                      NoiseModelWarning, stacklevel=1)


def flicker_coefficient(current_a, kf, af, m, area):
    """a in the one-sided flicker current PSD S(f) = a / f^ef (A^2/Hz) of a resistor carrying the DC
    current ``current_a`` (all m parallel copies): a = m kf |I / m|^af / area (ngspice 39's resnoise.c:
    m kf |I/m|^af / (RESeffNoiseArea f^ef))."""
    return m * kf * np.abs(np.asarray(current_a, dtype=float) / m) ** af / area


def row_conductance(A, g_unit_siemens: float, r_in_ohm: float):
    """Conductance (S) landing on each summing node of an integrator array realising A:
    g_unit sum_j |A_ij| + 1 / r_in."""
    rows = np.asarray(abs(A).sum(axis=1)).ravel() if sp.issparse(A) else np.sum(np.abs(A), axis=1)
    return g_unit_siemens * rows + 1.0 / r_in_ohm


def default_injected_psd(A, r_min_ohm: float, r_max_ohm: float, temperature_k: float = T_ROOM) -> float:
    """The equal white current injected at every summing node by ``inv`` (A^2/Hz):
    INJECTED_OVER_JOHNSON x the largest Johnson PSD on a row of an array mapped with the largest
    |A_ij| at r_min and the input resistor at r_max (at least room temperature), so that the
    unequal, correlated Johnson noise biases A^-1 by about 1 / INJECTED_OVER_JOHNSON only."""
    if not (np.isfinite(temperature_k) and temperature_k >= 0):  # else its error would name noise_psd
        raise RealizabilityError(f"temperature must be finite and >= 0 K, got {temperature_k!r}")
    A = sp.csr_matrix(A, dtype=float) if sp.issparse(A) else np.asarray(A, dtype=float)
    g_unit = 1.0 / (r_min_ohm * float(abs(A).max()))
    g_row = float(np.max(row_conductance(A, g_unit, r_max_ohm)))
    return INJECTED_OVER_JOHNSON * johnson_psd(max(temperature_k, T_ROOM), conductance_siemens=g_row)


def johnson_psd_per_row(mc, temperature_k: float = T_ROOM) -> np.ndarray:
    """One-sided Johnson current PSD (A^2/Hz) of the resistors landing on each summing node of a
    mapped integrator array ``mc`` (its realised A, g_unit and input resistor)."""
    return johnson_psd(temperature_k, conductance_siemens=row_conductance(mc.A, mc.g_unit_siemens, mc.r_in_ohm))
