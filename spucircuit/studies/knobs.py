"""The knobs of a study: every device, problem and run setting a study can fix or sweep, with its
type, default and validation, and the spelling of swept values ('a,b,c', 'start:stop:step',
'log:start:stop:count')."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from spucircuit._util.quantities import parse_time
from spucircuit.constants import T_ROOM
from spucircuit.errors import StudyError
from spucircuit.imperfections.profiles import CONVERTER_PROFILE_NAMES, PROFILE_NAMES


@dataclass(frozen=True)
class Knob:
    name: str
    type: str  # 'int', 'float', 'str', 'bool', 'time'
    default: Any
    help: str
    log: bool = False  # plot on a log axis when swept
    choices: tuple | None = None
    sweep: bool = True


KNOBS = [
    # problem
    Knob("n", "int", 16, "matrix size of the random SPD problems", log=True),
    Knob("cond", "float", 100.0, "condition number of the random SPD problems", log=True),
    Knob("matrices", "int", 2, "number of random problems per point (ignored with --matrix files)", sweep=False),
    Knob("rhs", "str", "random", "right-hand side: 'random' (standard normal) or 'ones'", choices=("random", "ones")),
    Knob("task", "str", "solve", "what to compute: solve, inv or both", choices=("solve", "inv", "both"), sweep=False),
    # resistor bank
    Knob("bits", "int", 0, "resolution of the programmable coupling resistors, bits (0 = continuous, ideal)"),
    Knob("grid", "str", "conductance", "resistor bank levels: uniform in conductance, in resistance, or log-spaced",
         choices=("conductance", "resistance", "log")),
    Knob("rounding", "str", "nearest", "bank rounding of a single device (ensembles, K > 1, always round "
         "stochastically, unbiased in conductance)", choices=("nearest", "stochastic")),
    Knob("r_min", "float", 1e3, "smallest bank resistance, Ohm"),
    Knob("r_max", "float", 1e6, "largest bank resistance, Ohm"),
    Knob("headroom", "float", 0.05, "the mapping puts the largest entry at r_min (1 + headroom), leaving "
         "room for calibration to raise conductances"),
    # fabrication
    Knob("tolerance", "float", 0.0, "fabrication tolerance of every resistor and capacitor, percent "
         "(one sigma for gaussian)", log=True),
    Knob("tol_dist", "str", "gaussian", "tolerance distribution", choices=("gaussian", "uniform")),
    # converters
    Knob("converters", "str", "precision", "converter profile: typical gain and offset error, INL, DNL and ADC "
         "transition noise of a part class, in LSB of the bits given (spucircuit.imperfections.profiles)",
         choices=CONVERTER_PROFILE_NAMES),
    Knob("dac_bits", "int", 16, "input DAC resolution, bits (0 = ideal)"),
    Knob("dac_fs", "float", 2.0, "input DAC full scale, +- V"),
    Knob("adc_bits", "int", 16, "read-out ADC resolution, bits (0 = ideal)"),
    Knob("adc_fs", "float", 2.0, "read-out ADC full scale, +- V (clipping is counted and reported)"),
    # thermal / noise
    Knob("temperature", "float", T_ROOM, "temperature (Johnson noise of every resistor), K", log=True),
    Knob("noise_psd", "float", 0.0, "extra white noise current injected at every summing node, A^2/Hz", log=True),
    # op-amps
    Knob("profile", "str", "precision-bipolar", "op-amp profile: datasheet-typical gain, offset and drift, bias "
         "currents and input noise of a part class (spucircuit.imperfections.profiles)", choices=PROFILE_NAMES),
    Knob("rails", "float", math.inf, "op-amp output rails, +-V (inf = none): saturated op-amps are counted "
         "(column 'saturated') and void the error bound", log=True),
    Knob("opamp_gain", "float", math.inf, "op-amp open-loop gain (inf = the profile's)", log=True),
    Knob("opamp_offset", "float", 0.0, "op-amp input offset voltage, V, one sigma (0 = the profile's)", log=True),
    Knob("gbw", "float", 0.0, "op-amp gain-bandwidth product, Hz (0 = no bandwidth model; adds a state "
         "per op-amp)", log=True),
    Knob("r_out", "float", 50.0, "op-amp output resistance with the bandwidth model, Ohm"),
    Knob("c_parasitic", "float", 0.0, "parasitic capacitance summing node -> ground, F (needs --gbw)", log=True),
    # ranging and run times (what the device knows)
    Knob("scale", "str", "autorange", "how each device ranges volts per unit of x: autorange (a pass at the "
         "bound it can compute, then the measured range; counted in the analog time), bound, or oracle (from "
         "the exact x* and spectrum: a labelled upper bound)", choices=("autorange", "bound", "oracle")),
    Knob("kappa_max", "float", 1e3, "the problem class: largest condition number (bounds and run times)", log=True),
    # evaluation
    Knob("eval", "str", "steady", "'steady': exact noise-free infinite-time read-out (through DAC and ADC; "
         "Lyapunov covariance for inv); 'twin': simulate the noisy circuit for --time", choices=("steady", "twin")),
    Knob("time", "time", None, "analog time per solve/inv run: seconds or e.g. '500tau' (default: 220 "
         "(solve) or 2000 (inv) / lambda_min tau, lambda_min >= max A_ii / kappa_max; the true one with "
         "scale=oracle)", log=True),
    Knob("burn_in", "time", None, "discarded initial time per run (default: as spu solve)", sweep=False),
    Knob("samples", "int", 0, "ADC samples per run and chain (0 = up to 20000)", log=True),
    Knob("chains", "int", 1, "independent chains per run (twin)"),
    # mitigation
    Knob("K", "int", 1, "averaging mitigation: ensemble of K devices with stratified unbiased roundings "
         "(1 = off)", log=True),
    Knob("ensemble", "str", "stratified", "ensemble roundings: stratified (mean within a step/K) or independent",
         choices=("stratified", "independent")),
    Knob("devices", "str", "separate", "ensemble members: K separate boards (independent fabrication errors) "
         "or one board reprogrammed K times", choices=("separate", "reprogram")),
    # calibration
    Knob("calibrate", "bool", False, "calibrate every device from its own probe measurements and "
         "pre-distort the programmed values"),
    Knob("cal_method", "str", "blocks", "'blocks' (once per device, 6(n-1) fast probes), 'matrix' "
         "(probe the target, n+1 probes) or 'sysid' (identify the target's drift from two noisy runs of "
         "cal_time each, default 200 slowest relaxation times of the kappa_max class, with 'chains' chains; it "
         "reads fluctuations: give noise above the ADC's lsb, e.g. noise_psd)",
         choices=("blocks", "matrix", "sysid")),
    Knob("cal_eval", "str", "twin", "probe read-outs: simulated, finite-time and noisy as a device measures "
         "('twin', default) or exact infinite-time values ('steady', a reference)",
         choices=("steady", "twin")),
    Knob("cal_time", "time", None, "averaging window per probe (default 50 / lambda_min tau)", sweep=False),
    Knob("offset_correction", "bool", True, "with --calibrate: subtract the b = 0 read-out (one more probe)"),
    # statistics
    Knob("draws", "int", 8, "device instances per matrix and point", sweep=False),
    Knob("seed", "int", 0, "base seed (matrices, devices and noise derive from it)", sweep=False),
]
KNOB = {k.name: k for k in KNOBS}


def default_config() -> dict:
    return {k.name: k.default for k in KNOBS}


# (lowest, highest) of the numeric knobs beyond their type's rule, and whether the lowest is
# excluded: outside them no device can be built (a 1e308 % tolerance, a 0-Ohm bank, a 1e308 V
# offset), and a task used to fail only after the output folder was made
RANGES = {
    "n": (1, 4096, False), "cond": (1.0, 1e15, False), "matrices": (1, 10_000, False), "bits": (0, 30, False),
    "r_min": (0.0, 1e12, True), "r_max": (0.0, 1e12, True), "headroom": (0.0, 10.0, False),
    "tolerance": (0.0, 50.0, False), "dac_bits": (0, 32, False), "adc_bits": (0, 32, False),
    "dac_fs": (0.0, 1e3, True), "adc_fs": (0.0, 1e3, True), "temperature": (0.0, 1e6, False), "noise_psd": (0.0, 1.0, False),
    "rails": (0.0, math.inf, True), "opamp_gain": (0.0, math.inf, True), "opamp_offset": (0.0, 1.0, False),
    "gbw": (0.0, 1e12, False), "r_out": (0.0, 1e9, False), "c_parasitic": (0.0, 1.0, False),
    "kappa_max": (1.0, 1e15, False), "samples": (0, 10**9, False), "chains": (1, 10**6, False),
    "K": (1, 4096, False), "draws": (1, 10**6, False),
}


def _in_range(name: str, v, value):
    lo, hi, open_lo = RANGES.get(name, (-math.inf, math.inf, False))
    if v > hi or v < lo or (open_lo and v == lo):
        raise StudyError(f"{name}: must be {'>' if open_lo else '>='} {lo:g} and <= {hi:g}, got {value!r}")
    return v


_TRUE = {"1", "true", "on", "yes", "y"}
_FALSE = {"0", "false", "off", "no", "n"}


def convert(name: str, value):
    """One knob value from text (or a Python value), validated."""
    knob = KNOB.get(name)
    if knob is None:
        raise StudyError(f"unknown study knob {name!r}; knobs are: {', '.join(KNOB)}")
    if value is None:
        return None
    if knob.type == "bool":
        if isinstance(value, bool):
            return value
        s = str(value).strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
        raise StudyError(f"{name}: expected on/off, got {value!r}")
    if knob.type == "int":
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise StudyError(f"{name}: expected an integer, got {value!r}") from None
        if not (np.isfinite(v) and v == int(v)):
            raise StudyError(f"{name}: expected an integer, got {value!r}")
        v = int(v)
        if v < 0 or (name in ("n", "matrices", "draws", "K", "chains") and v < 1):
            raise StudyError(f"{name}: must be >= {1 if name in ('n', 'matrices', 'draws', 'K', 'chains') else 0}, got {v}")
        return _in_range(name, v, value)
    if knob.type == "float":
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise StudyError(f"{name}: expected a number, got {value!r}") from None
        if math.isnan(v) or (v < 0) or (math.isinf(v) and name not in ("opamp_gain", "rails")):
            raise StudyError(f"{name}: expected a finite number >= 0, got {value!r}")
        return _in_range(name, v, value)
    if knob.type == "time":
        if isinstance(value, str) and value.strip().lower().endswith("tau"):
            parse_time(value, 1.0)  # validate
            return value.strip().lower().replace(" ", "")
        return parse_time(value)
    s = str(value).strip()
    if knob.choices and s not in knob.choices:
        raise StudyError(f"{name}: expected one of {', '.join(knob.choices)}, got {value!r}")
    return s


def parse_values(name: str, text: str) -> list:
    """Values of a swept knob: 'a,b,c', 'start:stop:step' (inclusive, numeric) or
    'log:start:stop:count' (geometric)."""
    knob = KNOB.get(name)
    if knob is None:
        raise StudyError(f"unknown study knob {name!r}; knobs are: {', '.join(KNOB)}")
    if not knob.sweep:
        raise StudyError(f"knob {name!r} cannot be swept (set it with --{name.replace('_', '-')})")
    text = str(text).strip()
    try:
        if text.startswith("log:"):
            a, b, c = text[4:].split(":")
            if not 1 <= int(c) <= 10_000:
                raise ValueError
            vals = list(np.geomspace(float(a), float(b), int(c)))
        elif ":" in text and knob.type in ("int", "float"):
            parts = [float(x) for x in text.split(":")]
            if len(parts) != 3 or parts[2] == 0:
                raise ValueError
            a, b, st = parts
            cnt = int(math.floor((b - a) / st + 1e-9)) + 1
            if cnt < 1 or cnt > 10_000:
                raise ValueError
            vals = [a + i * st for i in range(cnt)]
        else:
            vals = [v for v in text.split(",") if v.strip()]
    except ValueError:
        raise StudyError(f"cannot parse values {text!r} for {name}: use 'a,b,c', 'start:stop:step' or "
                         "'log:start:stop:count' (at most 10,000 values)") from None
    if not vals:
        raise StudyError(f"no values given for {name}")
    return [convert(name, v) for v in vals]


def parse_sweep(items) -> dict:
    """['bits=4:16:2', 'calibrate=off,on'] -> {'bits': [...], 'calibrate': [...]} (order kept)."""
    out: dict = {}
    for item in items or []:
        if "=" not in item:
            raise StudyError(f"--sweep needs NAME=VALUES, got {item!r}")
        name, vals = item.split("=", 1)
        name = name.strip().replace("-", "_")
        if name in out:
            raise StudyError(f"knob {name!r} swept twice")
        out[name] = parse_values(name, vals)
    return out


