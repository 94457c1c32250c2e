"""The time-dependent part of a SPICE ``V`` / ``I`` card: ``PULSE(...)``, ``SIN(...)``, ``EXP(...)``,
``PWL(...)``, ``SFFM(...)`` and ``AM(...)``, with or without parentheses, read into the frozen waveforms of
:mod:`spucircuit.circuit.waveforms` and written back. Errors name the element and the line.
"""
from __future__ import annotations

from spucircuit.circuit.waveforms import WAVEFORMS, Pwl, Waveform
from spucircuit.errors import NetlistError
from spucircuit.io.spice._cards import card_value, tokenize

__all__ = ["read_waveform", "format_waveform", "is_time_function", "pwl_options"]

# SPICE argument counts (min, max) of the positional forms
_NARGS = {"pulse": (2, 8), "sin": (2, 6), "exp": (2, 6), "sffm": (2, 5), "am": (4, 5)}
_FORMS = {"pulse": "PULSE(V1 V2 [TD TR TF PW PER NP])", "sin": "SIN(VO VA [FREQ TD THETA PHASE])",
          "exp": "EXP(V1 V2 [TD1 TAU1 TD2 TAU2])", "pwl": "PWL(T1 V1 [T2 V2 ...]) [r=repeat] [td=delay]",
          "sffm": "SFFM(VO VA [FC MDI FS])", "am": "AM(VA VO MF FC [TD])"}
_OTHER = ("trnoise", "trrandom", "pat")
_SOURCE_KEYWORDS = ("dc", "ac", "distof1", "distof2")  # end a waveform written without parentheses


def _head(tok: str) -> str:
    return tok.split("(")[0].lower()


def is_time_function(tok: str) -> bool:
    """True when ``tok`` starts a transient specification (a supported or unsupported one)."""
    h = _head(tok)
    return h in WAVEFORMS or h in _OTHER


def read_waveform(rest: list, j: int, scope, st, lineno: int, name: str) -> tuple[Waveform, int]:
    """The waveform whose name is ``rest[j]`` (``pulse(0 1 ...)`` or ``pulse 0 1 ...``) and the
    index of the first field after it."""
    t = rest[j]
    head = _head(t)
    if head not in WAVEFORMS:
        raise st.err(f"{name}: time-dependent source {t.split('(')[0]!r} is not supported (PULSE, SIN, EXP, PWL, "
                     "SFFM and AM are; white noise is an N element or I ... trrandom(2 ...))", lineno)
    form = _FORMS[head]
    if "(" in t:
        if not (t.endswith(")") and t.index("(") == len(head)):
            raise st.err(f"{name}: bad {head.upper()} field {t!r}; expected {form}", lineno)
        args = tokenize(t[len(head) + 1:-1], st, lineno)
        j += 1
    elif t.lower() == head:
        args = []
        j += 1
        while j < len(rest) and rest[j].lower() not in _SOURCE_KEYWORDS and not is_time_function(rest[j]):
            args.append(rest[j])
            j += 1
    else:
        raise st.err(f"{name}: bad {head.upper()} field {t!r}; expected {form}", lineno)
    opts = {}
    if head == "pwl":
        pos = []
        for a in args:
            k, sep, v = a.partition("=")
            if not sep:
                pos.append(a)
            elif k.lower() in ("td", "r"):
                opts[k.lower()] = card_value(v, scope, st, lineno, f"{name} PWL {k.lower()}")
            else:
                raise st.err(f"{name}: unknown PWL parameter {k!r}; expected {form}", lineno)
        args = pos
    elif any("=" in a for a in args):
        raise st.err(f"{name}: {head.upper()} takes positional values only; expected {form}", lineno)
    vals = [card_value(a, scope, st, lineno, f"{name} {head.upper()} value") for a in args]
    if head == "pwl" and (not vals or len(vals) % 2):
        raise st.err(f"{name}: PWL needs time-value pairs, got {len(vals)} value(s); expected {form}", lineno)
    if head != "pwl" and not _NARGS[head][0] <= len(vals) <= _NARGS[head][1]:
        lo, hi = _NARGS[head]
        raise st.err(f"{name}: {head.upper()} takes {lo} to {hi} values, got {len(vals)}; expected {form}", lineno)
    try:
        wf = (Pwl(tuple(vals[0::2]), tuple(vals[1::2]), opts.get("td", 0.0), opts.get("r")) if head == "pwl"
              else WAVEFORMS[head](*vals))
    except NetlistError as exc:  # a value out of its range (negative time, decreasing PWL times)
        raise st.err(f"{name}: {exc}", lineno) from None
    return wf, j


def pwl_options(wf, kw: list, scope, st, lineno: int, name: str):
    """``wf`` with the card's ``r=`` / ``td=`` fields after a PWL's parentheses (ngspice's spelling);
    any other ``key=value`` field of a source card is refused."""
    for k, v in kw:
        if k not in ("td", "r") or not isinstance(wf, Pwl):
            raise st.err(f"{name}: parameter {k!r} is not supported" + (" (r= and td= belong to PWL)"
                                                                         if k in ("td", "r") else ""), lineno)
    if not kw:
        return wf
    opts = {k: card_value(v, scope, st, lineno, f"{name} PWL {k}") for k, v in kw}
    try:
        return Pwl(wf.times, wf.values, opts.get("td", wf.td), opts.get("r", wf.r))
    except NetlistError as exc:
        raise st.err(f"{name}: {exc}", lineno) from None


def format_waveform(wf: Waveform, fmt) -> str:
    """``PULSE(0 1 1e-06 ...)``: the card text of ``wf``, numbers written by ``fmt``."""
    body = f"{wf.kind}({' '.join(fmt(float(v)) for v in wf.spice_args())})"
    if isinstance(wf, Pwl) and wf.r is not None:
        body += f" r={fmt(float(wf.r))}"
    if isinstance(wf, Pwl) and wf.td:
        body += f" td={fmt(float(wf.td))}"
    return body
