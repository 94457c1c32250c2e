"""RF ports: a voltage source with ``portnum N [z0 R] [pwr P] [freq F] [phase DEG]`` (ngspice's RFSPICE).

Semantics (ngspice 39, src/spicelib/devices/vsrc/: vsrcpar.c, vsrctemp.c, vsrcset.c, vsrcload.c,
vsrcacld.c):

* a source with ``portnum`` N >= 1 and ``z0`` > 0 (default 50 Ohm) is port N. In every analysis
  (.op, .tran, .ac, .noise, .sp) it is the ideal source between an internal node ``<name>#res`` and
  n-, in series with z0 from n+ to ``<name>#res`` (vsrcset.c allocates the node, vsrcload.c and
  vsrcacld.c stamp Y0 = 1/z0 between n+ and it). The resistor is noiseless: the source has no noise
  model. The twin reads the port as exactly that: the V source ``<name>`` from ``<name>#res`` to n-
  and a noiseless resistor ``<name>#z0`` (``netlist.meta['noiseless']``);
* port numbers run 1..N without gaps or duplicates (vsrctemp.c: "incorrect port ordering",
  "duplicate port Index");
* ``pwr`` (W, default 1 mW) and ``freq`` (Hz, default 1 GHz) make the source's transient value
  dc + sqrt(4 pwr z0) cos(2 pi freq t) (vsrcload.c, case PORT; ngspice adds it to a value carried
  over from the previous source instance). The twin keeps them for the round trip and refuses a
  transient that would need them; .ac and .sp ignore them. ``phase`` (degrees) is kept likewise.

``netlist.meta['ports']``: {source name: {'portnum', 'z0_ohm', 'node' (n+), 'neg' (n-), 'res_node',
'resistor', and 'pwr_w' / 'freq_hz' / 'phase_deg' when given}}, which the writer turns back into the card.
"""
from __future__ import annotations

import math

from spucircuit.circuit.source_lines import where
from spucircuit.errors import NetlistError, SpiceError
from spucircuit.io.spice._cards import State, add_node, card_value

PORT_KEYS = ("portnum", "z0", "pwr", "freq", "phase")
_META_KEY = {"pwr": "pwr_w", "freq": "freq_hz", "phase": "phase_deg"}
Z0_DEFAULT_OHM = 50.0  # vsrctemp.c: z0 not given


def is_port_key(tok: str) -> bool:
    return tok.lower() in PORT_KEYS


def read_port_field(rest: list, j: int, fields: dict, scope, st: State, lineno: int, name: str) -> int:
    """Read ``KEY VALUE`` at ``rest[j]`` (KEY one of :data:`PORT_KEYS`) into ``fields``; the next index."""
    key = rest[j].lower()
    if j + 1 >= len(rest):
        raise st.err(f"{name}: '{key}' without a value", lineno)
    add_port_field(key, rest[j + 1], fields, scope, st, lineno, name)
    return j + 2


def add_port_field(key: str, tok: str, fields: dict, scope, st: State, lineno: int, name: str) -> None:
    """Check and store one port parameter (``key`` lower case)."""
    if key in fields:
        raise st.err(f"{name}: port parameter '{key}' given twice", lineno)
    v = card_value(tok, scope, st, lineno, f"{name} {key}")
    if not math.isfinite(v):
        raise st.err(f"{name}: {key} must be finite, got {tok!r}", lineno)
    if key == "portnum" and not (v == int(v) and v >= 1):
        raise st.err(f"{name}: portnum must be an integer >= 1, got {tok!r}", lineno)
    if key == "z0" and not v > 0:
        raise st.err(f"{name}: port impedance z0 must be > 0 Ohm, got {tok!r}", lineno)
    if key == "pwr" and not v >= 0:
        raise st.err(f"{name}: port power pwr must be >= 0 W, got {tok!r}", lineno)
    if key == "freq" and not v >= 0:
        raise st.err(f"{name}: port frequency freq must be >= 0 Hz, got {tok!r}", lineno)
    fields[key] = v


def port_nodes(fields: dict, kind: str, hname: str, nodes: list, st: State, lineno: int, name: str,
               dc_given: bool = True) -> list:
    """The nodes the source itself gets: ``[<name>#res, n-]`` for a port (the node made here), else
    ``nodes``. Records the port on ``st`` (its resistor is added by :func:`finish_ports`); ``dc_given``:
    the card gives a DC value (the operating point of an RF-driven port without one is refused)."""
    if not fields:
        return nodes
    if kind != "V":
        raise st.err(f"{name}: {', '.join(sorted(fields))} belong to an RF port, a voltage source", lineno)
    if "portnum" not in fields:
        raise st.err(f"{name}: {', '.join(sorted(fields))} belong to an RF port: give portnum N", lineno)
    res = add_node(st, hname + "#res", lineno)
    names = st.nl.node_names
    rec = {"portnum": int(fields["portnum"]), "z0_ohm": float(fields.get("z0", Z0_DEFAULT_OHM)),
           "node": names[nodes[0]], "neg": names[nodes[1]], "res_node": names[res], "resistor": hname + "#z0"}
    rec.update({_META_KEY[k]: float(v) for k, v in fields.items() if k in _META_KEY})
    st.ports[hname] = (lineno, nodes[0], res, rec)
    if "pwr" in fields or "freq" in fields:
        st.rf_drive[hname] = {"line": lineno, "dc_given": bool(dc_given)}
    return [res, nodes[1]]


def finish_ports(st: State, register) -> None:
    """After every element line: port numbers 1..N (no gap, no duplicate), each port's noiseless series
    resistor z0 (added after the other resistors, so that a written and re-read netlist keeps its
    element order) and ``netlist.meta['ports']``."""
    if not st.ports:
        return
    n = len(st.ports)
    seen: dict = {}
    for hname, (lineno, _, _, rec) in st.ports.items():
        k = rec["portnum"]
        if k in seen:
            raise st.err(f"{hname}: duplicate port number {k} (also {seen[k]})", lineno)
        if k > n:
            raise st.err(f"{hname}: portnum {k} but the circuit has {n} port(s): port numbers must run 1..{n} "
                         "without gaps", lineno)
        seen[k] = hname
    for hname, (lineno, pos, res, rec) in st.ports.items():
        uses = sum(nodes.count(res) for _, nodes, _, _ in st.kinds.values())
        if uses != 1:  # the source itself; any other element on it is a user's node of the same name
            raise st.err(f"{hname}: the port's internal node {rec['res_node']!r} is also a node of the netlist "
                         "(rename that node)", lineno)
        register(st, "R", rec["resistor"], [pos, res], rec["z0_ohm"], 0.0, lineno)
    port_meta(st)


def port_meta(st: State) -> None:
    """``netlist.meta['ports']`` and the ports' resistors in ``meta['noiseless']`` as the cards read say
    (called again after a ``*spu: meta`` annotation is restored: the cards win over its copy)."""
    meta = st.nl.meta
    if not st.ports:
        meta.pop("ports", None)
        return
    meta["ports"] = {hname: dict(rec) for hname, (_, _, _, rec) in st.ports.items()}
    if not isinstance(meta.get("noiseless"), dict):
        meta["noiseless"] = {}
    quiet = meta["noiseless"].get("resistors")
    if not isinstance(quiet, list):
        quiet = meta["noiseless"]["resistors"] = []
    for _, (_, _, _, rec) in st.ports.items():
        if rec["resistor"] not in quiet:
            quiet.append(rec["resistor"])


def port_card_fields(rec: dict, fmt) -> str:
    """`` portnum N z0 R [pwr P] [freq F] [phase DEG]``: the card text of a port record."""
    s = f" portnum {int(rec['portnum'])} z0 {fmt(float(rec['z0_ohm']))}"
    for key, mk in _META_KEY.items():
        if mk in rec:
            s += f" {key} {fmt(float(rec[mk]))}"
    return s


def check_rf_drive(netlist, analysis: str) -> None:
    """Refuse ``analysis`` ('transient' or 'operating point') of a netlist with an RF-driven port
    (``pwr``/``freq``): ngspice's transient value of such a port is sqrt(4 pwr z0) cos(2 pi freq t) added
    to a value left over from the previous source instance (vsrcload.c), which the twin does not copy;
    the operating point is the DC value when the card gives one, else that same expression at t = 0."""
    info = netlist.meta.get("spice_file", {}) if isinstance(netlist.meta, dict) else {}
    rf = info.get("rf_drive") or {}
    for name, d in rf.items():
        if analysis == "transient" or not d.get("dc_given", True):
            raise SpiceError(f"{name}: the RF drive of a port (pwr/freq) in a{'n' if analysis[0] in 'aeiou' else ''} "
                             f"{analysis} is not supported (.ac, .noise and .sp ignore it; "
                             + ("drop pwr/freq for a transient)" if analysis == "transient"
                                else "give the source a dc value)"), *where(info, d.get("line")))


def rf_ports(netlist) -> dict:
    """{lower-case V source name: port record} of ``netlist.meta['ports']``, each checked against the
    netlist (the source from the record's internal node, its resistor z0 from n+ to that node); a record
    that does not match raises :class:`SpiceError` (the netlist was edited after it was read)."""
    ports = netlist.meta.get("ports") if isinstance(netlist.meta, dict) else None
    if not ports:
        return {}
    out = {}
    names = netlist.node_names
    try:
        for nm, rec in ports.items():
            kv, iv = netlist.find(nm)
            kr, ir = netlist.find(str(rec["resistor"]))
            vn = [names[j].lower() for j in netlist.tables["V"].nodes[iv]]
            rn = [names[j].lower() for j in netlist.tables["R"].nodes[ir]]
            res, node = str(rec["res_node"]).lower(), str(rec["node"]).lower()
            if (kv, kr) != ("V", "R") or vn[0] != res or rn != [node, res] or \
                    float(netlist.tables["R"].values[ir]) != float(rec["z0_ohm"]):
                raise ValueError
            out[str(nm).lower()] = rec
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, NetlistError):
        raise SpiceError(f"the RF port record {nm!r} (netlist.meta['ports']) does not match the netlist: "
                         "its source, internal node or z0 resistor changed") from None
    return out
