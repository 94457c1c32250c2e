"""Resistor model cards and the resistor element's geometry, as ngspice 39 computes them.

``.model mname R param=value ...`` (also ``R(...)``) is read by :func:`model_card` into
``st.models``; an element ``Rname n+ n- [value] [mname] [l=] [w=] [m=] [scale=] [ac=] [tc1=] [tc2=]
[tce=] [noisy=] [temp=] [dtemp=]`` gets its resistance from :func:`resistance`. The formulas are
ngspice 39's (``src/spicelib/devices/res/``: ``resupdate_conduct`` in restemp.c, the defaults of
ressetup.c, the parameter tables of res.c, resparam.c and resmpar.c, the flicker noise of
resnoise.c):

* the nominal resistance is the element's value (or ``r=``/``resistance=``); without one,
  (L - 2 short) / (W - 2 narrow) rsh when L W rsh > 0 (L, W: the element's ``l=``/``w=`` times
  ``.options scale`` (default 1), else the
  model's ``l``/``defw``, default 10 um), else the model's ``r`` (ngspice takes it when > 1 mOhm);
  ngspice's last resort, a 1 mOhm resistor with a warning, is refused here;
* dT = (``temp=`` else ``.temp``) + ``dtemp=`` (ignored when ``temp=`` is given) - ``tnom``
  (the model's, else 27 C); factor = 1.01^(tce dT) when a ``tce`` is given, else
  1 + tc1 dT + tc2 dT^2 (the element's tc1/tc2/tce override the model's);
* the conductance is m / (R factor scale): ``m`` parallel copies, ``scale`` a factor on R; the
  ``ac=`` resistance takes the same factor, m and scale;
* W - 2 narrow = 0 gives an infinite resistance, conductance 0 (ngspice divides by zero): the
  element is left out of the DC and transient circuit, and only its ``ac=`` value (if any) enters ``.ac``;
* flicker noise (model ``kf``, ``af``, ``ef``, ``lf``, ``wf``): a current PSD
  m kf |I / m|^af / (A f^ef) with I the DC current through the element and the noise area
  A = (L - 2 short)^lf (W - 2 narrow)^wf when the element gives ``l=`` or ``w=``, else 1;
  recorded in ``netlist.meta['flicker']['resistors']`` for the ``.noise`` analysis.

The netlist holds the resulting plain value (R factor scale / m), so the writer exports the
equivalent plain resistor and ``meta`` (ac, flicker, open resistors) round-trips exactly.
"""
from __future__ import annotations

import math

from spucircuit.io.spice._cards import Line, State, card_value, tokenize

__all__ = ["model_card", "find_model", "resistance", "RES_MODEL_PARAMS", "RES_INSTANCE_PARAMS"]

# model parameter (every spelling of res.c's RESmPTable) -> canonical name
RES_MODEL_PARAMS = {
    "rsh": "rsh", "narrow": "narrow", "dw": "narrow", "short": "short", "dlr": "short",
    "tc1": "tc1", "tc1r": "tc1", "tc2": "tc2", "tc2r": "tc2", "tce": "tce", "defw": "defw", "w": "defw",
    "l": "defl", "kf": "kf", "af": "af", "tnom": "tnom", "r": "r", "res": "r", "bv_max": "bv_max",
    "lf": "lf", "wf": "wf", "ef": "ef",
}
# ressetup.c's defaults (tnom: the circuit's nominal temperature, 27 C; .options tnom is not read)
_MODEL_DEFAULTS = {"rsh": 0.0, "narrow": 0.0, "short": 0.0, "tc1": 0.0, "tc2": 0.0, "tce": 0.0,
                   "defw": 10e-6, "defl": 10e-6, "kf": 0.0, "af": 1.0, "lf": 1.0, "wf": 1.0, "ef": 1.0}
# element parameters (res.c's RESpTable) -> canonical name; bv_max only feeds ngspice's safe-operating-area
# check, which does not change a linear circuit's solution
RES_INSTANCE_PARAMS = {
    "r": "r", "resistance": "r", "ac": "ac", "temp": "temp", "dtemp": "dtemp", "l": "l", "w": "w", "m": "m",
    "tc": "tc1", "tc1": "tc1", "tc2": "tc2", "tce": "tce", "scale": "scale", "noisy": "noisy", "noise": "noisy",
    "bv_max": "bv_max",
}
TNOM_C = 27.0
MODEL_R_MIN_OHM = 1e-3  # resmpar.c: a model r at or below 1 mOhm is ignored


def model_card(ln: Line, st: State, scope: dict, models: dict) -> None:
    """A ``.model`` card: a resistor model (type R) is read into ``models`` (lower-case name ->
    (params, line)); other types are kept by name only, so that an element naming one is refused."""
    text = ln.text.split(None, 1)[1] if len(ln.text.split(None, 1)) > 1 else ""
    head = text.replace("(", " ( ", 1).split(None, 2)
    if len(head) < 2:
        raise st.err(".model needs a name and a type", ln.lineno)
    name, mtype = head[0].lower(), head[1].lower()
    rest = head[2] if len(head) > 2 else ""
    if name in models and "r" in (mtype, models[name][2]):
        raise st.err(f".model {head[0]} defined twice (first on line {models[name][1]})", ln.lineno)
    if mtype != "r":
        models.setdefault(name, (None, ln.lineno, mtype))
        return
    body = rest.strip()
    if body.startswith("("):
        if not body.endswith(")"):
            raise st.err(f".model {head[0]}: unbalanced '(': missing ')'", ln.lineno)
        body = body[1:-1]
    params: dict = {}
    for t in tokenize(body, st, ln.lineno):
        k, sep, v = t.partition("=")
        key = RES_MODEL_PARAMS.get(k.lower())
        if not sep or not v:
            raise st.err(f".model {head[0]}: parameters are name=value, got {t!r}", ln.lineno)
        if key is None:
            raise st.err(f".model {head[0]}: resistor model parameter {k!r} is not supported", ln.lineno)
        val = card_value(v, scope, st, ln.lineno, f".model {head[0]} {k}")
        if not math.isfinite(val):
            raise st.err(f".model {head[0]}: {k} must be finite", ln.lineno)
        params[key] = val
    models[name] = (params, ln.lineno, "r")


def find_model(name: str, st: State):
    """The (params, line, type) of model ``name`` (subcircuit-local models first), else None."""
    low = name.lower()
    for scope in reversed(st.local_models):
        if low in scope:
            return scope[low]
    return st.models.get(low)


def resistance(name: str, value, model, kwd: dict, st: State, temp_c: float, L: int, ev):
    """(R_dc (Ohm, inf for an open element), R_ac (Ohm) or None, flicker dict or None) of one resistor.

    ``value``: the nominal value given on the card (None without one); ``model``: the model's
    params (None: ngspice's default model); ``kwd``: the element's canonical parameters as text;
    ``ev(key)``: a parameter's value. The returned resistances already include the temperature
    factor, ``scale`` and ``m`` (restemp.c: conductance = m / (R factor scale))."""
    mp = dict(_MODEL_DEFAULTS)
    mp.update(model or {})
    length = ev("l") * st.options_scale if "l" in kwd else mp["defl"]  # resparam.c: l, w times .options scale
    width = ev("w") * st.options_scale if "w" in kwd else mp["defw"]
    if value is None:
        if length * width * mp["rsh"] > 0:
            value = _ratio(length - 2 * mp["short"], width - 2 * mp["narrow"]) * mp["rsh"]
        elif mp.get("r", 0.0) > MODEL_R_MIN_OHM:
            value = mp["r"]
        else:
            raise st.err(f"{name}: missing value: give a value, or a model with rsh (and l, w) or r > 1 mOhm "
                         "(ngspice would put 1 mOhm)", L)
    temp_given = "temp" in kwd
    dtemp = 0.0 if temp_given else (ev("dtemp") if "dtemp" in kwd else 0.0)  # restemp.c: temp= overrides dtemp=
    temp = ev("temp") if temp_given else temp_c
    diff = temp + dtemp - mp.get("tnom", TNOM_C)
    tc1 = ev("tc1") if "tc1" in kwd else mp["tc1"]
    tc2 = ev("tc2") if "tc2" in kwd else mp["tc2"]
    if "tce" in kwd or "tce" in (model or {}):
        tce = ev("tce") if "tce" in kwd else mp["tce"]
        factor = _pow(1.01, tce * diff)  # restemp.c: pow(1.01, tce * difference)
    else:
        factor = (tc2 * diff + tc1) * diff + 1.0
    scale = ev("scale") if "scale" in kwd else 1.0
    mult = ev("m") if "m" in kwd else 1.0
    if not mult > 0:
        raise st.err(f"{name}: multiplicity m must be > 0", L)
    if not (math.isfinite(scale) and scale > 0):
        raise st.err(f"{name}: scale must be finite and > 0", L)
    if not math.isfinite(factor):
        raise st.err(f"{name}: the temperature-corrected value is not finite (factor {factor!r})", L)
    r_dc = value * factor * scale / mult
    if r_dc == 0:
        raise st.err(f"{name}: zero resistance (a short) is not supported; use a 0 V source", L)
    if math.isnan(r_dc) or (math.isinf(r_dc) and not math.isinf(value)):
        raise st.err(f"{name}: the resistance is {r_dc!r}, not finite (value, temperature factor or scale "
                     "too large, or an undefined geometry)", L)
    r_ac = None
    if "ac" in kwd:
        ac = ev("ac")
        if not (math.isfinite(ac) and ac != 0):
            raise st.err(f"{name}: ac resistance must be finite and non-zero", L)
        r_ac = ac * factor * scale / mult
        if not (math.isfinite(r_ac) and r_ac != 0):
            raise st.err(f"{name}: the ac resistance with its factors is {r_ac!r}; it must be finite and non-zero", L)
    flicker = None
    if mp["kf"] != 0.0:
        if "l" in kwd or "w" in kwd:  # ressetup.c: RESeffNoiseArea
            area = _pow(length - 2 * mp["short"], mp["lf"]) * _pow(width - 2 * mp["narrow"], mp["wf"])
        else:
            area = 1.0
        if not (math.isfinite(area) and area > 0):
            raise st.err(f"{name}: the flicker-noise area (L - 2 short)^lf (W - 2 narrow)^wf is {area!r}; "
                         "it must be finite and > 0", L)
        flicker = {"kf": mp["kf"], "af": mp["af"], "ef": mp["ef"], "m": mult, "area": area}
    return r_dc, r_ac, flicker


def _ratio(a: float, b: float) -> float:
    """a / b with C's IEEE result for b = 0 (ngspice's division by a zero effective width)."""
    if b == 0:
        return math.copysign(math.inf, a) if a != 0 else math.nan
    return a / b


def _pow(a: float, b: float) -> float:
    """C's pow(a, b) for real results: inf on overflow, nan where the result is not real."""
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf
    except ValueError:  # a negative base with a non-integer exponent
        return math.nan
