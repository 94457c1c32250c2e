"""What an imperfection spec can say about a device's DC error, without knowing the device's draw.

A device solves A_dev x_dev = b_dev instead of A x = b (A, b the programmed problem). From the
spec alone (tolerances, bits, gains, offsets: never the fabricated values) each imperfection bounds
its share of the *residual* the device's answer leaves in the nominal equations,

    r = A x_dev - b = (A - A_dev) x_dev + (b_dev - b),                                  (1)

evaluated at |x_dev| <= ``x_abs`` component-wise (the read-out plus its uncertainty), and its share
of the *read-out* error (the ADC). Then ||x_dev - x*||_2 <= ||r||_2 / lambda_min(A), and the device
can bound lambda_min from its entries and the problem class (:mod:`spucircuit.numerics.bounds`).

Errors a spec bounds with certainty (rounding to a grid, a uniform tolerance) add in ``worst``
(per row, |r_i| <= worst_i); independent Gaussian ones add their variance in ``var``;
||r||_2 <= ||worst||_2 + z sqrt(sum var) with z = 3 by default. Entries are in problem units
(the units of b and x). A model with no DC error model names itself in ``unbounded``: the bound is
then reported as unavailable, never silently left out.

The integrator array's DC equations (ideal parts: summing node at virtual ground; physics.md 2a):
row i sums G_ij V_j over its coupling resistors (V_j from x_j, or from the inverting buffer's
output -V_j when A_ij < 0) plus V_in,i / R_in, and with an op-amp input error v_s at the summing
node the row gains g_tot,i v_s, g_tot,i = sum_j |G_ij| + 1/R_in.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from spucircuit.circuit.integrator_array import COUPLING_RE, MappedCircuit

Z_SYSTEMATIC = 3.0  # k-sigma of the Gaussian part of the residual bound
_BUFFER_RE = re.compile(r"^R([GF])(\d+)$", re.IGNORECASE)
_INPUT_RE = re.compile(r"^RIN(\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class DCContext:
    """What the controller knows when it bounds the DC error of one programmed integrator array.

    circuit : the circuit as programmed (nominal values, or a calibration's pre-distorted ones)
    A_coupling : the signed matrix its coupling resistors encode (A_ij = +-G_ij / g_unit)
    x_abs : component-wise bound on |x_dev| (problem units)
    b : the right-hand side being solved; v_in : the DAC voltages written for it (V)
    """

    circuit: MappedCircuit
    A_coupling: np.ndarray
    x_abs: np.ndarray
    b: np.ndarray
    v_in: np.ndarray

    @property
    def n(self) -> int:
        return self.circuit.n

    @property
    def g_unit(self) -> float:
        return self.circuit.g_unit_siemens

    @property
    def input_units_v(self) -> float:
        """Volts of DAC output per unit of b: |V_in| = r_in g_unit v_unit |b|."""
        mc = self.circuit
        return mc.r_in_ohm * mc.g_unit_siemens * mc.v_unit_v

    @property
    def g_total(self) -> np.ndarray:
        """g_tot,i / g_unit: every conductance into summing node i (problem units)."""
        return np.abs(self.A_coupling).sum(axis=1) + 1.0 / (self.circuit.r_in_ohm * self.g_unit)

    @property
    def inverted(self) -> np.ndarray:
        """|A_ij| for the entries fed from an inverting buffer (A_ij < 0), else 0."""
        return np.where(self.A_coupling < 0, -self.A_coupling, 0.0)


@dataclass(frozen=True)
class DCError:
    """Per-row residual bounds (problem units): ``worst`` (certain), ``var`` (Gaussian variance),
    ``readout`` (per-component read-out error bound), the models without a DC bound, and each
    model's share ||worst||_2 + z sqrt(sum var) in ``terms``."""

    worst: np.ndarray
    var: np.ndarray
    readout: np.ndarray
    unbounded: tuple = ()
    terms: dict = field(default_factory=dict)

    @classmethod
    def zero(cls, n: int) -> DCError:
        return cls(np.zeros(n), np.zeros(n), np.zeros(n))

    @classmethod
    def of(cls, name: str, n: int, *, worst=None, var=None, readout=None, z: float = Z_SYSTEMATIC) -> DCError:
        w = np.zeros(n) if worst is None else np.asarray(worst, float)
        v = np.zeros(n) if var is None else np.asarray(var, float)
        r = np.zeros(n) if readout is None else np.asarray(readout, float)
        share = float(np.linalg.norm(w) + z * np.sqrt(v.sum()) + np.linalg.norm(r))
        return cls(w, v, r, (), {name: share} if share else {})

    @classmethod
    def missing(cls, name: str, n: int, why: str) -> DCError:
        return cls(np.zeros(n), np.zeros(n), np.zeros(n), (f"{name}: {why}",))

    def __add__(self, other: DCError) -> DCError:
        terms = dict(self.terms)
        for k, v in other.terms.items():
            terms[k] = terms.get(k, 0.0) + v
        return DCError(self.worst + other.worst, self.var + other.var, self.readout + other.readout,
                       self.unbounded + other.unbounded, terms)

    def residual_norm(self, z: float = Z_SYSTEMATIC) -> float:
        """Bound on ||r||_2 (eq. 1)."""
        return float(np.linalg.norm(self.worst) + z * np.sqrt(self.var.sum()))


# ================================================================  shared pieces of the models
def resistor_classes(ctx: DCContext, names) -> dict:
    """Split resistor names into coupling (i, j) pairs, buffer columns and input rows; the rest are
    'other' (no DC model here)."""
    out = {"coupling": [], "buffer": [], "input": [], "other": []}
    for nm in names:
        if m := COUPLING_RE.match(nm):
            out["coupling"].append((int(m.group(1)), int(m.group(2))))
        elif m := _BUFFER_RE.match(nm):
            out["buffer"].append(int(m.group(2)))
        elif m := _INPUT_RE.match(nm):
            out["input"].append(int(m.group(1)))
        else:
            out["other"].append(nm)
    return out


def relative_resistor_error(name: str, ctx: DCContext, names, *, worst: float = 0.0, sigma: float = 0.0) -> DCError:
    """Residual of independent relative errors d on the named resistors: |d| <= ``worst`` or
    d ~ N(0, sigma^2). A coupling resistor moves A_ij by A_ij d / (1 + d) (row i: |A_ij| x_j |d|
    to first order), an input resistor moves b_i by b_i d, a buffer's RG/RF move its gain -RF/RG and
    so every inverted entry of its column by up to |d_F| + |d_G|. ``worst`` is taken to its exact
    limit 1 / (1 - worst)."""
    cls = resistor_classes(ctx, names)
    n = ctx.n
    if cls["other"]:
        return DCError.missing(name, n, f"no DC model for resistor {cls['other'][0]!r}")
    x = ctx.x_abs
    lin = np.zeros(n)  # rows of sum |dA_ij| x_j / |d|
    quad = np.zeros(n)  # rows of sum (A_ij x_j)^2 (independent errors, variance / sigma^2)
    if cls["coupling"]:
        ij = np.array(cls["coupling"])
        t = np.abs(ctx.A_coupling[ij[:, 0], ij[:, 1]]) * x[ij[:, 1]]
        np.add.at(lin, ij[:, 0], t)
        np.add.at(quad, ij[:, 0], t * t)
    if cls["input"]:
        i = np.array(cls["input"])
        lin[i] += np.abs(ctx.b[i])
        quad[i] += ctx.b[i] ** 2
    if cls["buffer"]:
        cols = np.zeros(n)
        np.add.at(cols, np.array(cls["buffer"]), 1.0)  # RG and RF: two per column when both are named
        t = ctx.inverted * (x * cols)[None, :]
        lin += t.sum(axis=1)
        quad += ((ctx.inverted * x[None, :]) ** 2 * cols[None, :]).sum(axis=1)
    if worst:
        if worst >= 1:
            return DCError.missing(name, n, f"a relative error of {worst:g} or more can short or open a resistor")
        return DCError.of(name, n, worst=lin * worst / (1.0 - worst))
    s = sigma / max(1.0 - Z_SYSTEMATIC * sigma, 0.1)  # the 1/(1+d) lift at the bound's k-sigma
    return DCError.of(name, n, var=quad * s * s)


def opamp_gain_error(name: str, ctx: DCContext, a_min: float) -> DCError:
    """Finite open-loop gain >= a_min. An integrator's summing node sits at -V_i / a, which leaves
    g_tot,i x_i / a in row i; an inverting buffer's gain is -a / (a + 2), off by < 2/a on every
    inverted entry of its column."""
    x = ctx.x_abs
    return DCError.of(name, ctx.n, worst=(ctx.g_total * x + 2.0 * ctx.inverted @ x) / a_min)


def opamp_offset_error(name: str, ctx: DCContext, *, worst: float = 0.0, sigma: float = 0.0) -> DCError:
    """Input offsets |v_os| <= ``worst`` or ~ N(0, sigma^2). An integrator's offset holds its summing
    node at v_os: g_tot,i v_os / (g_unit v_unit) in row i (problem units); an inverting buffer's
    appears as 2 v_os at its output: 2 |A_ij| v_os / v_unit on its column's inverted entries."""
    vu = ctx.circuit.v_unit_v
    lin = (ctx.g_total + 2.0 * ctx.inverted.sum(axis=1)) / vu
    if worst:
        return DCError.of(name, ctx.n, worst=lin * worst)
    quad = (ctx.g_total**2 + 4.0 * (ctx.inverted**2).sum(axis=1)) / vu**2
    return DCError.of(name, ctx.n, var=quad * sigma**2)


def converter_step(conv, volts) -> tuple:
    """(largest rounding error, clipped excess per value) in V of converter ``conv`` for ``volts``:
    half an lsb with nearest rounding, a whole one with a dither; the excess beyond full scale."""
    c = conv.ranged(volts)
    frac = 0.5 if c.dither is None else 1.0
    excess = np.maximum(np.abs(volts) - c.full_scale_v, 0.0)
    return frac * c.lsb, excess
