"""Where the elements of a netlist read from a SPICE file were, and errors that say so.

The reader keeps one :class:`SourceLines` (file name, element name -> line) in
``netlist.meta['spice_file']['lines']``. A :class:`~spucircuit.errors.NetlistError` raised after parsing
(validation, index reduction, the MNA compile, the operating point) by a function wrapped in
:func:`locating` gets the file and line of the elements its message names put in front of it,
``file:line: message`` (and ``(also X on line k)`` for further elements on other lines, ``(in
subcircuit instance X1 on line k)`` for an element of a subcircuit); its class is
unchanged, and it gains the attributes ``filename``, ``lineno`` and ``reason`` of a
:class:`~spucircuit.errors.SpiceError`. A node the message names (and no element) is blamed on the first
element touching it. Netlists not read from a file, and errors that already carry a location, are left
as they are.
"""
from __future__ import annotations

import functools
import re

import numpy as np

from spucircuit.errors import NetlistError, SpiceError

__all__ = ["SourceLines", "locate_error", "locating", "where"]

_QUOTED = re.compile(r"'([^'\s]+)'")
_WORD = re.compile(r"[A-Za-z][\w.:#\[\]<>+-]*\d[\w.:#\[\]<>+-]*")  # an unquoted name with a digit (R12, K.X1.K2)
_NODE_LIST = re.compile(r"\bnodes ((?:[^\s,;()]+(?:, )?)+)")  # 'voltages of nodes a, b' (operating_point)
_MAX_ALSO = 4


class SourceLines:
    """A SPICE file's name and the line of each element it read, per kind a line array (int32) aligned
    with the rows the reader added (4 bytes an element, no name copies). Shared by copies of the
    netlist, whose tables share the reader's name lists; a netlist rebuilt otherwise (other name lists)
    gets no location rather than a wrong one."""

    __slots__ = ("filename", "_kinds", "_instances", "origin")

    def __init__(self, filename: str, netlist, lines: dict, instances: dict | None = None):
        self.filename = str(filename)
        self.origin = None  # io.spice.includes.Origin when the text came with .include files
        self._instances = dict(instances or {})  # lower-case subcircuit instance path -> line
        self._kinds = {}
        for kind, ln in lines.items():
            chunks = netlist.tables[kind].names.chunks if len(ln) else []
            if len(chunks) == 1 and len(chunks[0]) == len(ln):
                self._kinds[kind] = (chunks[0], np.asarray(ln, dtype=np.int32))

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self

    def __len__(self) -> int:
        return sum(len(v[1]) for v in self._kinds.values())

    def line_of(self, netlist, name: str) -> int | None:
        """The line of element ``name`` of ``netlist``, or None (no such element, or not the one read)."""
        try:
            kind, row = netlist.find(str(name))
        except NetlistError:
            return None
        ent = self._kinds.get(kind)
        chunks = netlist.tables[kind].names.chunks
        if ent is None or not chunks or chunks[0] is not ent[0] or row >= len(ent[0]):
            return None
        return int(ent[1][row])

    def instance_of(self, name: str) -> tuple[str, int] | None:
        """(instance path, line) of the innermost subcircuit instance a hierarchical element or node
        name ('L.X1.L1', 'X1.x') lies in, or None."""
        parts = str(name).split(".")
        for end in range(len(parts) - 1, 0, -1):
            for start in (0, 1):
                key = ".".join(parts[start:end])
                if key and key.lower() in self._instances:
                    return key, self._instances[key.lower()]
        return None

    def __repr__(self) -> str:
        return f"<SourceLines {self.filename}: {len(self)} elements>"


def _source(obj):
    netlist = getattr(obj, "netlist", obj)  # a StateSpace carries the netlist it was compiled from
    meta = getattr(netlist, "meta", None)
    info = meta.get("spice_file") if isinstance(meta, dict) else None
    src = info.get("lines") if isinstance(info, dict) else None
    return (netlist, src) if isinstance(src, SourceLines) else (None, None)


def _touching_all(netlist, j: int) -> list:
    """Names of the elements with a terminal on node index j."""
    out = []
    for t in netlist.tables.values():
        if len(t):
            out += [t.names[int(i)] for i in (t.nodes == j).any(axis=1).nonzero()[0]]
    return out


def locate_error(obj, exc: NetlistError) -> None:
    """Put the file and line of the elements ``exc`` names in front of its message, in place (``obj``:
    the netlist, or a state space compiled from it)."""
    if isinstance(exc, SpiceError) or getattr(exc, "lineno", None) is not None or len(exc.args) != 1:
        return
    netlist, src = _source(obj)
    if src is None:
        return
    msg = str(exc.args[0])
    hits: list = []  # (name, line) in the order the message names them
    quoted = _QUOTED.findall(msg)
    for nm in quoted + _WORD.findall(msg):
        line = src.line_of(netlist, nm)
        if line is not None and nm.lower() not in {h[0].lower() for h in hits}:
            hits.append((nm, line))
    if not hits:  # a node: the first element on it
        listed = [nm for m in _NODE_LIST.finditer(msg) for nm in m.group(1).split(", ")]
        for nm in quoted + listed:
            try:
                j = netlist.node_index(nm)
            except NetlistError:
                continue
            on = [(src.line_of(netlist, el), el) for el in _touching_all(netlist, j)] if j else []
            on = [h for h in on if h[0] is not None]
            if on:
                line, el = min(on)  # the first card that names the node
                hits.append((el, line))
                break
    if not hits:
        return
    first = hits[0][1]
    fname, line = where(src, first)

    def on(k):  # 'line k', or 'file:k' for a line of another (included) file
        f, n = where(src, k)
        return f"line {n}" if f == fname else f"{f}:{n}"

    also = [f"{nm} on {on(k)}" for nm, k in hits[1:] if k != first][:_MAX_ALSO]
    inst = src.instance_of(hits[0][0])
    reason = (msg + (f" (also {', '.join(also)})" if also else "")
              + (f" (in subcircuit instance {inst[0]} on {on(inst[1])})" if inst else ""))
    exc.args = (f"{fname}:{line}: {reason}",)
    exc.filename, exc.lineno, exc.reason = fname, line, reason


def where(src, lineno) -> tuple:
    """(file, line) of a line number of a SPICE text: its own file's, or an included file's (``src.origin``,
    io.spice.includes.Origin); ``src`` a SourceLines or the reader's ``meta['spice_file']`` dict."""
    origin = src.get("origin") if isinstance(src, dict) else getattr(src, "origin", None)
    filename = src.get("filename") if isinstance(src, dict) else src.filename
    if origin is None or lineno is None:
        return filename, lineno
    f, n = origin.where(lineno)
    return (f or filename), n


def locating(fn):
    """Wrap ``fn(netlist_or_state_space, ...)`` so that the NetlistError it raises names file and line
    (:func:`locate_error`)."""
    @functools.wraps(fn)
    def wrapper(obj, *args, **kwargs):
        try:
            return fn(obj, *args, **kwargs)
        except NetlistError as exc:
            locate_error(obj, exc)
            raise
    return wrapper
