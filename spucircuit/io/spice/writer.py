"""SPICE export: :func:`write_spice` writes a Netlist or MappedCircuit as an ngspice-compatible netlist.

The file runs unmodified with ``ngspice -b -r out.raw net.cir`` (no ``.control`` block) or
``ngspice -b net.cir`` (its ``.control`` block runs, linearizes onto the ``.tran`` step grid and
writes the rawfile). Layout::

    <title>
    * comments: how to run it, the op-amp model, the mapping volts -> x (node of x_i, v_unit, tau...)
    *spu: meta {...}           machine-readable copy of netlist.meta (JSON, may continue on
    *spu: meta+ ...            '*spu: meta+' lines); restores netlist.meta on import
    *spu: nodes a b c ...      node order (so that import -> export is byte-exact)
    .subckt spu_opamp_ideal / spu_opamp ... .ends   (only those used)
    R/C/L/G/V/I element lines; X<name> op-amp instances; '*spu: N' lines
    *spu: noise-begin ...      optional TRRANDOM noise block (generated; skipped on import)
    *spu: noise-end
    .save v(node) ...          node voltages kept in the rawfile
    .tran tstep tstop tstart tmax uic
    .control ... .endc         optional
    .end

Element mapping (netlist kind -> SPICE):

* R, C, L, G, V, I -> the SPICE element of the same letter (C and L always carry ``IC=``, and
  ``.tran ... uic`` starts from them). A name that does not start with its SPICE letter is written
  with the letter prepended (``foo`` -> ``Rfoo``); names that do round trip unchanged.
* U (op-amp): SPICE has no op-amp primitive. An **ideal** op-amp (gain inf) is the instance
  ``X<name> out inp inn spu_opamp_ideal`` of an exact *nullor*: a 0 V source ``Vnull`` between the
  inputs forces V(inp) = V(inn); a unity CCCS ``Fin`` returns its current so the inputs draw none,
  and ``Fout`` delivers that (free) current at the output. This is the ideal op-amp's MNA stamp
  exactly (no large-gain approximation). A **finite-gain** op-amp A0 is ``X<name> out inp inn
  spu_opamp gain=A0``, a VCVS ``E out 0 inp inn A0``, again the twin's model exactly. Import turns
  ``X<name>`` back into the op-amp ``<name>``.
* N (white noise current, one-sided PSD S): no SPICE primitive exists. It is listed as a comment
  ``*spu: N <name> <p> <q> <S>`` (ngspice ignores it) and realised, together with every resistor's
  Johnson noise, by the optional noise block.

Noise block (``noise=dict(seed=, nt=, temperature_k=300, method='elements')``): seeded
``TRRANDOM(2 NT 0 sigma 0)`` Gaussian current sources held for NT seconds, ``.options seed=``.
ngspice adds no thermal noise in ``.tran``, so the block injects the twin's node-current noise
covariance L_S = sum_k (S_k / 2) a_k a_k^T exactly (sigma = sqrt(S / (2 NT)) for a white current
of one-sided PSD S; S = 4 k_B T / R for a resistor):

* ``method='elements'``: one source across each resistor (S = 4 k_B T / R) and each N source.
  Every noisy element of a :class:`Netlist` is a positive resistor or an explicit source, so this
  *is* L_S term by term and fluctuation-dissipation holds element by element. (Signed couplings
  are VCCS or inverting buffers, never negative resistors: a per-resistor source with |g| on a
  negative resistor would be wrong, see ngspice.md.)
* ``method='factor'``: the general route for any covariance: L_S = W W^T (eigen-factor, null
  directions dropped), one unit source per column k on an auxiliary node ``nz_k`` (1 Ohm to
  ground, so v(nz_k) is a unit Gaussian) and VCCS gains ``W_ik`` into every node i.

Both give the same covariance; the variance bias of holding the noise for NT is second order,
tanh(x/2)/(x/2) with x = lambda NT (ngspice.md). Use ``nt`` well below the fastest time
constant and ``tmax`` <= ``nt`` / 2.
"""
from __future__ import annotations

import json
import math
import os

import numpy as np

from spucircuit._util.files import atomic_write_text
from spucircuit._util.quantities import format_value
from spucircuit.circuit.netlist import KINDS, Netlist
from spucircuit.circuit.noise import (
    johnson_psd,
    johnson_temperature,
    noise_sources,
    noisy_resistors,
)
from spucircuit.constants import T_ROOM
from spucircuit.errors import NetlistError, SpiceError
from spucircuit.io.spice._cards import (
    ANN,
    NAME_RE,
    OPAMP_DEFS,
    OPAMP_FINITE,
    OPAMP_IDEAL,
    OPAMP_RAIL,
    RAIL_GAIN,
)
from spucircuit.io.spice.ports import port_card_fields, rf_ports
from spucircuit.io.spice.waveform_cards import format_waveform

__all__ = ["write_spice"]

_SPICE_LETTER = {"R": "R", "C": "C", "L": "L", "G": "G", "V": "V", "I": "I", "E": "E", "F": "F", "H": "H", "K": "K"}  # prepended to other names
_META_CHUNK = 100  # JSON characters per '*spu: meta' / 'meta+' line
_PER_LINE = 8  # items per wrapped line ('.save v(a) v(b) ...')


def _check_name(name: str, what: str) -> None:
    if not NAME_RE.match(name):
        raise SpiceError(f"{what} {name!r} cannot be written to SPICE: names must match "
                         f"[A-Za-z0-9_][A-Za-z0-9_.:#[]<>!/|+-]* (no spaces, '=', '(', ',', ';', '$', braces or quotes)")


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    raise TypeError(type(o).__name__)


def _export_meta(netlist: Netlist, mapping, fields: tuple) -> dict:
    """The netlist's meta as the JSON annotation carries it; ``fields``: :func:`_small_signal_fields`."""
    meta = {}
    for k, v in netlist.meta.items():
        if k in ("spice_file", "distof"):  # the file's own cards; DISTOF1/2 are written on the source cards
            continue
        if k in ("ac", "noiseless"):  # AC specs, ac= and noisy=0 are written on the element cards; what names no
            v = _unwritten_small_signal(fields, k, v)  # element here (an open resistor's ac=) stays in meta
            if not v:
                continue
        try:
            json.dumps(v, default=_json_default)
        except (TypeError, ValueError):
            continue  # not representable: left out of the file
        meta[str(k)] = v
    if mapping is not None:
        d = mapping.to_dict() if hasattr(mapping, "to_dict") else dict(mapping)
        d = {k: v for k, v in d.items() if k not in ("components", "component_counts")}
        try:
            meta["mapped"] = json.loads(json.dumps(d, default=_json_default))
        except (TypeError, ValueError) as exc:
            raise SpiceError(f"mapping description is not JSON-serialisable: {exc}") from None
        if "mapping" not in meta and isinstance(d.get("scales"), dict):
            meta["mapping"] = d["scales"]
    return json.loads(json.dumps(meta, default=_json_default))


def _wrap(prefix: str, items, per_line: int = _PER_LINE, cont: str = "+ ") -> list[str]:
    items = list(items)
    if not items:
        return []
    lines = []
    for i in range(0, len(items), per_line):
        head = prefix if i == 0 else cont
        lines.append(head + " ".join(items[i:i + per_line]))
    return lines


def _chunks(js: str) -> list[str]:
    """Split JSON text into pieces of about _META_CHUNK characters that neither start nor end with
    whitespace (a reader or editor stripping lines must not change the JSON)."""
    out, i = [], 0
    while i < len(js):
        j = min(len(js), i + _META_CHUNK)
        while j < len(js) and (js[j - 1].isspace() or js[j].isspace()):
            j += 1
        out.append(js[i:j])
        i = j
    return out


def _printable(text) -> str:
    """Text safe on one comment line: printable ASCII as is, anything else JSON-escaped."""
    text = str(text)
    return text if (text.isascii() and text.isprintable()) else json.dumps(text)[1:-1]


def _comment_kv(key: str, val, indent: str = "*   ") -> list[str]:
    """'key = value' comment lines; long values wrap onto '*     ' lines."""
    txt = _printable(val) if isinstance(val, str) else json.dumps(val, separators=(", ", ": "), allow_nan=True)
    words = txt.split(" ")
    lines, cur = [], f"{indent}{_printable(key)} = "
    for w in words:
        if len(cur) + len(w) > 100 and cur.strip() not in ("*", ""):
            lines.append(cur.rstrip())
            cur = indent + "  "
        cur += w + " "
    lines.append(cur.rstrip())
    return lines


def _mapping_comments(meta: dict) -> list[str]:
    """Human-readable statement of the mapping volts <-> problem units (comments only)."""
    out = []
    mapped = meta.get("mapped") if isinstance(meta.get("mapped"), dict) else {}
    scales = meta.get("mapping") if isinstance(meta.get("mapping"), dict) else {}
    if not mapped and not scales:
        return out
    arch = _printable(mapped.get("architecture", "mapped circuit"))
    out.append(f"* mapping ({arch}): problem units <-> volts")
    ro = mapped.get("readout") if isinstance(mapped.get("readout"), dict) else {}
    if ro.get("formula"):
        out.append(f"*   readout (affine map volts -> x): {_printable(ro['formula'])}")
    elif scales.get("v_unit_V") is not None:
        out.append("*   readout (affine map volts -> x): x = V / v_unit_V")
    for k in sorted(ro):
        if k != "formula":
            out += _comment_kv(f"readout.{k}", ro[k])
    tau = scales.get("tau_s")
    if tau is not None:
        out.append(f"*   tau_s = {format_value(tau)} s: the circuit obeys dx/dt = -(A x - b) with t in units of tau")
    for k in sorted(scales):
        if k != "tau_s":
            out += _comment_kv(k, scales[k])
    inp = mapped.get("inputs") if isinstance(mapped.get("inputs"), dict) else {}
    if inp.get("formula"):
        out.append(f"*   inputs: {_printable(inp['formula'])}" + (f" on sources {_printable(' '.join(map(str, inp['sources'])))}"
                                                       if isinstance(inp.get("sources"), list) and len(inp["sources"]) <= 16 else ""))
    dyn = mapped.get("dynamics") if isinstance(mapped.get("dynamics"), dict) else {}
    for k in sorted(dyn):
        out += _comment_kv(f"dynamics.{k}", dyn[k])
    return out


def _noise_lines(netlist: Netlist, nt: float, temperature_k: float, method: str, taken: set) -> list[str]:
    t = netlist.tables
    names = netlist.node_names
    lines = []
    if method == "elements":
        srcs = []
        if temperature_k > 0 and len(t["R"]):
            srcs += zip(t["R"].names, t["R"].nodes,
                        johnson_psd(johnson_temperature(netlist, temperature_k), resistance_ohm=t["R"].values)
                        * noisy_resistors(netlist))
        srcs += zip(t["N"].names, t["N"].nodes, t["N"].values)
        for nm, (p, q), S in srcs:
            if S <= 0:
                continue
            sname = f"INZ_{nm}"
            if sname.lower() in taken:
                raise SpiceError(f"noise source name {sname!r} clashes with an element name")
            taken.add(sname.lower())
            sigma = math.sqrt(S / (2.0 * nt))
            lines.append(f"{sname} {names[p]} {names[q]} dc 0 trrandom(2 {format_value(nt)} 0 "
                         f"{format_value(sigma)} 0)")
        return lines
    if method != "factor":
        raise SpiceError(f"unknown noise method {method!r}: use 'elements' or 'factor'")
    N = netlist.n_nodes
    LS = np.zeros((N + 1, N + 1))
    for nodes, S in noise_sources(netlist, temperature_k):
        p, q = nodes[:, 0], nodes[:, 1]
        h = 0.5 * S
        np.add.at(LS, (p, p), h)
        np.add.at(LS, (q, q), h)
        np.add.at(LS, (p, q), -h)
        np.add.at(LS, (q, p), -h)
    LS = LS[1:, 1:] / nt  # covariance of the node currents held for NT
    active = np.flatnonzero(np.diag(LS) > 0)
    if not len(active):
        return lines
    sub = LS[np.ix_(active, active)]
    w, U = np.linalg.eigh(0.5 * (sub + sub.T))
    keep = w > 1e-13 * w[-1]
    W = U[:, keep] * np.sqrt(w[keep])
    node_low = {nm.lower() for nm in names}
    for k in range(W.shape[1]):
        aux = f"nz_{k}"
        if aux.lower() in node_low:
            raise SpiceError(f"auxiliary noise node {aux!r} clashes with a circuit node")
        for el in (f"INZ_{k}", f"RNZ_{k}"):
            if el.lower() in taken:
                raise SpiceError(f"noise element name {el!r} clashes with an element name")
            taken.add(el.lower())
        lines.append(f"INZ_{k} 0 {aux} dc 0 trrandom(2 {format_value(nt)} 0 1.0 0)")
        lines.append(f"RNZ_{k} {aux} 0 1.0")
        col = W[:, k]
        cut = 1e-14 * float(np.max(np.abs(col)))
        for a, wik in zip(active, col):
            if abs(wik) > cut:
                g = f"GNZ_{k}_{a + 1}"
                if g.lower() in taken:
                    raise SpiceError(f"noise element name {g!r} clashes with an element name")
                taken.add(g.lower())
                lines.append(f"{g} 0 {names[a + 1]} {aux} 0 {format_value(wik)}")
    return lines


def write_spice(netlist, path=None, *, tran=None, noise=None, control=True, mapping=None,
                save=None, rawfile=None, rail_v=None) -> str:
    """Write ``netlist`` (a :class:`Netlist` or MappedCircuit) as an ngspice-compatible netlist.

    Parameters (SI units)
    ---------------------
    path     : file to write atomically, or None (only return the text).
    tran     : (tstep, tstop[, tmax[, tstart]]) in s for a ``.tran tstep tstop tstart tmax uic``
               card; tmax defaults to tstep (ngspice 39's default too, written explicitly so other
               simulators agree). None: no analysis card.
    noise    : None, or dict(seed=int, nt=s (default 10 x tmax), temperature_k=300,
               method='elements'|'factor'): seeded TRRANDOM sources realising the twin's noise
               (Johnson noise of every resistor at temperature_k and every N source). Needs tran.
    control  : add a ``.control`` block (run, linearize onto the tstep grid, write the rawfile,
               ``quit 0``) when tran is given. Without it, ``ngspice -b -r out.raw file`` works.
    mapping  : a MappedCircuit (or any object with ``to_dict()``) whose scales and readout are
               stated in comments; default: the one given as ``netlist`` or netlist.meta['mapping'].
    save     : node names whose voltages go to the rawfile (default every node), or 'all'.
    rawfile  : file the control block writes (default ``<stem>.raw`` next to ``path``'s name,
               or ``out.raw``).
    rail_v   : op-amp output rails (+-V): every op-amp becomes ``spu_opamp_rail`` (a clipped
               behavioural source; an ideal one at gain 1e7). Default: ``netlist.meta['rail_v']``
               if set, else no rails.

    Returns the text. Numbers are written with ``repr`` (exact); read back with :func:`read_spice`.
    """
    if hasattr(netlist, "netlist") and not isinstance(netlist, Netlist):
        if mapping is None:
            mapping = netlist
        netlist = netlist.netlist
    if not isinstance(netlist, Netlist):
        raise SpiceError(f"cannot export a {type(netlist).__name__}: give a Netlist or MappedCircuit")
    t = netlist.tables
    names = netlist.node_names
    for nm in names[1:]:
        _check_name(nm, "node")
    fields = _small_signal_fields(netlist)
    meta = _export_meta(netlist, mapping, fields)

    title = " ".join(str(netlist.title).split()) or "spucircuit netlist"
    L = [title]
    L.append("* Written by spucircuit.io.spice.write_spice: SPICE3 / ngspice syntax, SI units (V, A, Ohm, F, H, s).")
    if tran is not None and control:
        L.append("* Run: ngspice -b <this file>   (the .control block writes the rawfile)")
    elif tran is not None:
        L.append("* Run: ngspice -b -r out.raw <this file>   (binary rawfile of the saved node voltages)")
    L.append("* Node 0 is ground. Op-amps are instances X<name> of spu_opamp_ideal (exact nullor) or")
    L.append("* spu_opamp (VCVS, finite gain). White noise sources N have no SPICE primitive: they are")
    L.append("* '*spu: N name p q PSD[A^2/Hz]' comments, realised with resistor Johnson noise by the")
    L.append("* TRRANDOM noise block when exported with noise. '*spu:' lines are read by spucircuit.")
    L += _mapping_comments(meta)
    if meta:
        js = json.dumps(meta, sort_keys=True, separators=(",", ":"), allow_nan=True)
        chunks = _chunks(js)
        L.append(f"{ANN} meta {chunks[0]}")
        L += [f"{ANN} meta+ {c}" for c in chunks[1:]]
    L += _wrap(f"{ANN} nodes ", names[1:], 16, f"{ANN} nodes ")

    if rail_v is None:
        rail_v = netlist.meta.get("rail_v")
    if rail_v is not None and not (math.isfinite(float(rail_v)) and float(rail_v) > 0):
        raise SpiceError(f"rail_v must be finite and > 0 V, got {rail_v!r}")
    used = []
    if len(t["U"]) and rail_v is not None:
        used.append(OPAMP_RAIL)
    elif len(t["U"]):
        gains = t["U"].values
        if np.any(np.isinf(gains)):
            used.append(OPAMP_IDEAL)
        if np.any(np.isfinite(gains)):
            used.append(OPAMP_FINITE)
    for u in used:
        L += OPAMP_DEFS[u].rstrip("\n").split("\n")

    taken: set = set()

    def spice_name(kind, nm):
        letter = _SPICE_LETTER.get(kind)
        if kind == "U":
            s = "X" + nm
        elif kind == "N":
            s = nm
        else:
            s = nm if nm[:1].upper() == letter else letter + nm
        _check_name(s, f"{KINDS[kind][1]} name")
        if kind == "N":  # a comment line: not in SPICE's name space (the netlist keeps names unique)
            return s
        low = s.lower()
        if low in taken:
            raise SpiceError(f"{KINDS[kind][1]} {nm!r} would be written as {s!r}, which another element already uses")
        taken.add(low)
        return s

    fv = format_value
    def ref_name(nm):  # the written name of the element an F, H or K card refers to
        kind, _ = netlist.find(nm)
        return nm if nm[:1].upper() == _SPICE_LETTER[kind] else _SPICE_LETTER[kind] + nm

    waves = {str(k).lower(): w for k, w in getattr(netlist, "waveforms", {}).items()}
    ac_src, ac_res, quiet = fields
    distof = _distof_fields(netlist)
    ports = rf_ports(netlist)  # V source -> its port record; each port's z0 resistor is written in its card
    port_res = {str(rec["resistor"]).lower() for rec in ports.values()}
    for kind in ("R", "C", "L", "G", "E", "F", "H", "K", "U", "V", "I", "N"):
        tab = t[kind]
        if not len(tab) or (kind == "R" and len(tab) == len(port_res)):
            continue
        L.append(f"* {KINDS[kind][1]}s ({KINDS[kind][2]})")
        nodes, vals, ics = tab.nodes, tab.values, tab.ic
        for i, nm in enumerate(tab.names):
            if kind == "R" and port_res and nm.lower() in port_res:
                continue
            s = spice_name(kind, nm)
            nd = [names[j] for j in nodes[i]]
            v = vals[i]
            if kind == "E" and nodes[i][1] == 0:  # 'E p 0 cp cq A' reads back as an op-amp: keep it an E
                L.append(f"{s} {nd[0]} {nd[1]} POLY(1) {nd[2]} {nd[3]} 0 {fv(v)}")
            elif kind == "R":
                L.append(f"{s} {' '.join(nd)} {fv(v)}" + (f" ac={fv(ac_res[nm.lower()])}" if nm.lower() in ac_res else "")
                         + (" noisy=0" if nm.lower() in quiet else ""))
            elif kind in ("G", "E"):
                L.append(f"{s} {' '.join(nd)} {fv(v)}")
            elif kind in ("F", "H", "K"):
                refs = " ".join(ref_name(r) for r in netlist.refs[nm.lower()])
                L.append(f"{s} {' '.join(nd + [refs])} {fv(v)}")
            elif kind in ("C", "L"):
                L.append(f"{s} {nd[0]} {nd[1]} {fv(v)} IC={fv(ics[i])}")
            elif kind in ("V", "I"):
                wf = waves.get(nm.lower()) if waves else None
                rec = ports.get(nm.lower()) if kind == "V" and ports else None
                if rec is not None:  # an RF port: the card names n+, the internal node and z0 are its own
                    nd[0] = str(rec["node"])
                acs = ac_src.get(nm.lower())
                L.append(f"{s} {nd[0]} {nd[1]} dc {fv(v)}" + (f" AC {fv(acs[0])} {fv(acs[1])}" if acs else "")
                         + "".join(f" {k.upper()} {fv(m)} {fv(p)}" for k, (m, p) in distof.get(nm.lower(), {}).items())
                         + (f" {format_waveform(wf, fv)}" if wf is not None else "")
                         + (port_card_fields(rec, fv) if rec is not None else ""))
            elif kind == "U" and rail_v is not None:
                gain = RAIL_GAIN if math.isinf(v) else v
                L.append(f"{s} {nd[0]} {nd[1]} {nd[2]} {OPAMP_RAIL} gain={fv(gain)} rail={fv(float(rail_v))}")
            elif kind == "U":
                if math.isinf(v):
                    L.append(f"{s} {nd[0]} {nd[1]} {nd[2]} {OPAMP_IDEAL}")
                else:
                    L.append(f"{s} {nd[0]} {nd[1]} {nd[2]} {OPAMP_FINITE} gain={fv(v)}")
            else:  # N
                L.append(f"{ANN} N {s} {nd[0]} {nd[1]} {fv(v)}")

    tr = None
    if tran is not None:
        tr = _tran_tuple(tran)
    if noise is not None:
        if tr is None:
            raise SpiceError("noise needs a .tran card: give tran=(tstep, tstop)")
        if not isinstance(noise, dict):
            raise SpiceError(f"noise must be None or a dict(seed=..., nt=...), got {noise!r}")
        unknown = set(noise) - {"seed", "nt", "temperature_k", "method"}
        if unknown:
            raise SpiceError(f"unknown noise option(s) {sorted(unknown)}: use seed, nt, temperature_k, method")
        seed = noise.get("seed", 1)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise SpiceError(f"noise seed must be a non-negative integer, got {seed!r}")
        nt = float(noise.get("nt", 10.0 * tr[2]))
        temp = float(noise.get("temperature_k", T_ROOM))
        method = str(noise.get("method", "elements"))
        if not (math.isfinite(nt) and nt > 0):
            raise SpiceError(f"noise hold time nt must be finite and > 0 s, got {nt!r}")
        if not (math.isfinite(temp) and temp >= 0):
            raise SpiceError(f"noise temperature must be finite and >= 0 K, got {temp!r}")
        L.append(f"{ANN} noise-begin method={method} seed={int(seed)} nt={fv(nt)} temperature_k={fv(temp)}")
        L.append(f"* noise: Gaussian TRRANDOM currents held for nt = {fv(nt)} s; sigma = sqrt(S / (2 nt)) "
                 f"for one-sided PSD S (S = 4 k_B T / R, T = {fv(temp)} K)")
        L.append(f".options seed={int(seed)}")
        L += _noise_lines(netlist, nt, temp, method, set(taken))
        L.append(f"{ANN} noise-end")

    if tr is not None:
        if isinstance(save, str) and save.lower() == "all":
            pass
        else:
            nodes_saved = names[1:] if save is None else [str(s) for s in save]
            for s in nodes_saved:
                if not netlist.has_node(s) or netlist.node_index(s) == 0:
                    raise SpiceError(f"cannot save node {s!r}: not a (non-ground) node of the netlist")
            L += _wrap(".save ", [f"v({s})" for s in nodes_saved])
        tstep, tstop, tmax, tstart = tr
        L.append(f".tran {fv(tstep)} {fv(tstop)} {fv(tstart)} {fv(tmax)} uic")
        if control:
            raw = rawfile
            if raw is None:
                raw = (os.path.splitext(os.path.basename(os.fspath(path)))[0] + ".raw") if path is not None else "out.raw"
            raw = str(raw)
            if not raw or any(c.isspace() for c in raw) or any(c in raw for c in ";$\"'"):
                raise SpiceError(f"rawfile name {raw!r} must be non-empty without spaces or quotes")
            L += [".control", "set filetype=binary", "run", "linearize", f"write {raw}", "quit 0", ".endc"]
    L.append(".end")
    text = "\n".join(L) + "\n"
    if path is not None:
        try:
            atomic_write_text(path, text)
        except OSError as exc:
            raise SpiceError(f"cannot write {path}: {exc.strerror or exc}") from None
    return text


def _small_signal_fields(netlist: Netlist) -> tuple:
    """({source: (AC magnitude, phase deg)}, {resistor: ac resistance}, {noiseless resistors}), lower-case
    names, from ``meta['ac']`` and ``meta['noiseless']`` as the reader records them (``AC mag phase``,
    ``ac=``, ``noisy=0``): written on the element cards so that ngspice sees them too. Entries naming an
    element no longer in the netlist are left out."""
    def table(key):
        d = netlist.meta.get(key)
        return d if isinstance(d, dict) else {}

    def present(kinds, nm):
        try:
            return netlist.find(str(nm))[0] in kinds
        except NetlistError:
            return False

    ac = table("ac")
    src = {str(k).lower(): (float(v[0]), float(v[1])) for k, v in (ac.get("sources") or {}).items()
           if present("VI", k)}
    res = {str(k).lower(): float(v) for k, v in (ac.get("resistors") or {}).items() if present("R", k)}
    quiet = {str(k).lower() for k in (table("noiseless").get("resistors") or ()) if present("R", k)}
    return src, res, quiet


def _unwritten_small_signal(fields: tuple, key: str, table) -> dict:
    """The part of ``meta['ac']`` / ``meta['noiseless']`` that :func:`_small_signal_fields` (``fields``)
    does not put on an element card (entries naming no element of that kind)."""
    if not isinstance(table, dict):
        return {}
    src, res, quiet = fields
    written = {"sources": set(src), "resistors": set(res) if key == "ac" else quiet}
    out = {}
    for sub, entries in table.items():
        done = written.get(sub, set())
        if isinstance(entries, dict):
            rest = {n: e for n, e in entries.items() if str(n).lower() not in done}
        elif isinstance(entries, list):
            rest = [n for n in entries if str(n).lower() not in done]
        else:
            rest = entries
        if rest:
            out[sub] = rest
    return out


def _distof_fields(netlist: Netlist) -> dict:
    """{source: {'distof1': (magnitude, phase deg), 'distof2': ...}}, lower-case names, from
    ``meta['distof']`` as the reader records it: written on the source cards (only .disto reads them).
    Entries not of that form, or naming an element no longer in the netlist, are left out."""
    d = netlist.meta.get("distof")
    out: dict = {}
    for nm, spec in (d.items() if isinstance(d, dict) else ()):
        try:
            if netlist.find(str(nm))[0] not in "VI":
                continue
        except NetlistError:
            continue
        if not isinstance(spec, dict):
            continue
        for k in ("distof1", "distof2"):
            v = spec.get(k)
            if (isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v)
                    and all(math.isfinite(x) for x in v)):
                out.setdefault(str(nm).lower(), {})[k] = (float(v[0]), float(v[1]))
    return out


def _tran_tuple(tran):
    try:
        vals = [float(x) for x in tran]
    except (TypeError, ValueError):
        raise SpiceError(f"tran must be (tstep, tstop[, tmax[, tstart]]) in seconds, got {tran!r}") from None
    if not 2 <= len(vals) <= 4:
        raise SpiceError(f"tran must be (tstep, tstop[, tmax[, tstart]]) in seconds, got {tran!r}")
    tstep, tstop = vals[0], vals[1]
    tmax = vals[2] if len(vals) > 2 else tstep
    tstart = vals[3] if len(vals) > 3 else 0.0
    if not all(math.isfinite(v) for v in (tstep, tstop, tmax, tstart)):
        raise SpiceError(f"tran times must be finite, got {tran!r}")
    if tstep <= 0 or tmax <= 0 or tstart < 0 or tstop <= tstart:
        raise SpiceError(f"tran needs tstep > 0, tmax > 0 and 0 <= tstart < tstop, got {tran!r}")
    return tstep, tstop, tmax, tstart
