"""Netlist model: named nodes (ground is ``0``) and elements stored column-wise.

Elements are kept in one table per kind (names, node indices, values) so that a 1024 x 1024
resistor array is a few numpy arrays, not a million Python objects. Kinds and units:

====  ===========================================  ==================================
kind  element (terminals)                          value
====  ===========================================  ==================================
R     resistor (p, q)                              resistance, Ohm (> 0)
C     capacitor (p, q)                             capacitance, F (> 0); ``ic`` V
L     inductor (p, q)                              inductance, H (> 0); ``ic`` A
G     VCCS (p, q, cp, cq): I(p->q) = gm (V_cp - V_cq)  transconductance, S (finite, != 0)
U     op-amp (out, inp, inn)                       open-loop gain (> 0; ``inf`` = ideal)
V     DC voltage source (p, q): V_p - V_q = value  V (finite)
I     DC current source (p, q): flows p -> q inside  A (finite)
N     white noise current source (p, q)            one-sided PSD, A^2/Hz (>= 0)
E     VCVS (p, q, cp, cq): V_p - V_q = A (V_cp - V_cq)  voltage gain, V/V (finite, != 0)
F     CCCS (p, q) [Vc]: I(p->q) = A I(Vc)          current gain, A/A (finite, != 0)
H     CCVS (p, q) [Vc]: V_p - V_q = R I(Vc)        transresistance, Ohm (finite, != 0)
K     inductor coupling [L1, L2]: M = k sqrt(L1 L2)  coupling coefficient k (0 <= |k| <= 1; 0: none)
====  ===========================================  ==================================

F, H and K refer to other elements by name (``Netlist.refs``): the controlling voltage source Vc
(I(Vc) is its branch current, SPICE's sign: into its + terminal) or the two coupled inductors.

Current-source and VCCS directions follow SPICE: the current leaves node p, passes through the
source and enters node q. Names are case-insensitive (as in SPICE) and must be unique.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Sequence as _SequenceABC
from dataclasses import dataclass
from typing import Iterator, Sequence

import networkx as nx
import numba as nb
import numpy as np

from spucircuit.circuit.source_lines import locating
from spucircuit.errors import NetlistError

KINDS = {
    # kind: (number of terminals, description, unit)
    "R": (2, "resistor", "Ohm"),
    "C": (2, "capacitor", "F"),
    "L": (2, "inductor", "H"),
    "G": (4, "voltage-controlled current source", "S"),
    "U": (3, "op-amp", "V/V"),
    "V": (2, "DC voltage source", "V"),
    "I": (2, "DC current source", "A"),
    "N": (2, "white noise current source", "A^2/Hz"),
    "E": (4, "voltage-controlled voltage source", "V/V"),
    "F": (2, "current-controlled current source", "A/A"),
    "H": (2, "current-controlled voltage source", "Ohm"),
    "K": (0, "inductor coupling", "1"),
}
REF_KINDS = {"F": ("V",), "H": ("V",), "K": ("L", "L")}  # kinds of the elements F, H and K name
GROUND = "0"
_GROUND_ALIASES = {"0", "gnd"}


def _defines_lonely_node(kind: str, col: int, value: float) -> bool:
    """Whether one element terminal alone fixes a node's voltage (the node touches nothing else).

    No current can leave such a node, so a resistor carries none and the node sits at its other
    terminal's voltage; a voltage-defining output (V, H, the output pair of E, a finite-gain op-amp's
    output V_out = A0 (V+ - V-)) sets it outright. A capacitor, inductor, current source, current
    output or sensing input alone leaves it undefined (a singular MNA row), as does an ideal op-amp's
    output, whose equation V+ = V- does not involve V_out."""
    if kind in "RVH":
        return True
    if kind == "E":
        return col < 2
    if kind == "U":
        return col == 0 and np.isfinite(value)
    return False


def _terminal_role(kind: str, col: int) -> str:
    """'sensing input' for a control terminal (E and G columns 2-3, op-amp inputs), else '<kind> terminal'."""
    if (kind in "EG" and col >= 2) or (kind == "U" and col >= 1):
        return "sensing input"
    return f"{KINDS[kind][1]} terminal"


@dataclass(frozen=True)
class Element:
    """One element, as returned by :meth:`Netlist.elements` (a read-only view)."""

    kind: str
    name: str
    nodes: tuple[str, ...]
    value: float
    ic: float = 0.0


_WS = re.compile(r"\s")


class PatternNames(_SequenceABC):
    """Element names ``fmt.format(*row)`` over non-negative integer columns, built on demand.

    A 1024 x 1024 array has a million resistor names; making, lower-casing and hashing them costs
    ~0.7 s, more than compiling the circuit. A table keeps the pattern and its integer columns
    and builds a name only when one is asked for (export, ``find``, per-name random keys).
    ``fmt`` has one ``{}`` per column; fields must be separated by literals that neither start
    nor end with a digit, so every name parses back to exactly one row (``locate``).
    """

    def __init__(self, fmt: str, *cols):
        fmt = str(fmt)
        parts = fmt.split("{}")
        if len(parts) != len(cols) + 1 or not cols or any("{" in p_ or "}" in p_ for p_ in parts):
            raise NetlistError(f"name pattern {fmt!r} needs one '{{}}' per column ({len(cols)} given)")
        if not parts[0] or parts[0][-1].isdigit() or _WS.search(fmt) or "\x00" in fmt:
            raise NetlistError(f"name pattern {fmt!r} must start with a literal that does not end in "
                               "a digit, and hold no whitespace")
        for sep in parts[1:]:
            if sep and sep[0].isdigit():
                raise NetlistError(f"name pattern {fmt!r}: a literal after a field starts with a digit")
        for sep in parts[1:-1]:
            if not sep or sep[-1].isdigit():
                raise NetlistError(f"name pattern {fmt!r}: fields must be separated by non-digit literals")
        arrs = [np.asarray(c).reshape(-1) for c in cols]
        m = len(arrs[0])
        for a in arrs:
            if len(a) != m or (m and (a.dtype.kind not in "iu" or a.min() < 0)):
                raise NetlistError(f"name pattern {fmt!r}: columns must be non-negative integers of equal length")
        self.fmt, self.parts = fmt, parts
        self.cols = [np.asarray(a, dtype=np.int64) for a in arrs]
        self.prefix = parts[0].lower()
        body = "".join(re.escape(p_.lower()) + "(0|[1-9][0-9]*)" for p_ in parts[:-1])
        self._rx = re.compile(body + re.escape(parts[-1].lower()))

    def __len__(self) -> int:
        return len(self.cols[0])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.tolist()[i]
        return self.fmt.format(*(int(c[i]) for c in self.cols))

    def __iter__(self):
        return iter(self.tolist())

    def tolist(self) -> list[str]:
        f = self.fmt.format
        return [f(*row) for row in zip(*(c.tolist() for c in self.cols))]

    def keys(self) -> np.ndarray:
        """(m, k) integer columns."""
        return np.stack(self.cols, axis=1)

    def locate(self, low: str) -> int:
        """Row of the lower-case name ``low``, or -1."""
        mt = self._rx.fullmatch(low) if low.startswith(self.prefix) else None
        if mt is None:
            return -1
        hit = np.ones(len(self), dtype=bool)
        for c, g in zip(self.cols, mt.groups()):
            hit &= c == int(g)
        rows = np.flatnonzero(hit)
        return int(rows[0]) if len(rows) else -1

    def disjoint_from(self, other: "PatternNames") -> bool:
        """True when no name of this pattern can equal one of ``other`` (whatever the columns).
        Literal prefixes that differ before either ends, or where the shorter is followed by a
        non-digit in the longer, cannot produce the same string."""
        a, b = sorted((self.prefix, other.prefix), key=len)
        if not b.startswith(a):
            return True
        return len(b) > len(a) and not b[len(a)].isdigit()


def _strictly_increasing(cols) -> bool:
    """Rows of the integer columns ``cols`` in strictly increasing lexicographic order (so unique).
    Column by column from the last: no (m, k) copy of the keys (a million rows: 16 MB)."""
    less = cols[-1][:-1] < cols[-1][1:]
    for c in reversed(cols[:-1]):
        a, b = c[:-1], c[1:]
        less = (a < b) | ((a == b) & less)
    return bool(less.all())


def _joined(names: list):
    """The names joined by NUL when every one is a non-empty token without whitespace or NUL
    (checked at C speed on the joined string), else None."""
    joined = "\x00".join(names)
    if not all(names) or _WS.search(joined) or joined.count("\x00") != max(len(names) - 1, 0):
        return None
    return joined


class _NameList(_SequenceABC):
    """The names of one table: chunks of plain strings and of :class:`PatternNames`."""

    def __init__(self):
        self.chunks: list = []
        self._len = 0

    def extend(self, chunk) -> None:
        if len(chunk):
            self.chunks.append(chunk)
            self._len += len(chunk)

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.tolist()[i]
        i = int(i)
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError("element index out of range")
        for ch in self.chunks:
            if i < len(ch):
                return ch[i]
            i -= len(ch)
        raise IndexError("element index out of range")  # pragma: no cover

    def __iter__(self):
        for ch in self.chunks:
            yield from (ch.tolist() if isinstance(ch, PatternNames) else ch)

    def __eq__(self, other):
        return list(self) == list(other)

    def tolist(self) -> list[str]:
        return list(self)

    def locate(self, low: str) -> int:
        """Row of the lower-case name ``low``, or -1."""
        off = 0
        for ch in self.chunks:
            if isinstance(ch, PatternNames):
                r = ch.locate(low)
                if r >= 0:
                    return off + r
            else:
                for r, nm in enumerate(ch):
                    if nm.lower() == low:
                        return off + r
            off += len(ch)
        return -1


class _Table:
    """Column store of one element kind; chunks are concatenated lazily."""

    def __init__(self, kind: str):
        self.kind = kind
        self.nterm = KINDS[kind][0]
        self.names = _NameList()
        self._nodes: list[np.ndarray] = []
        self._values: list[np.ndarray] = []
        self._ic: list[np.ndarray] = []
        self._cache = None

    def __len__(self) -> int:
        return len(self.names)

    def add(self, names, nodes, values, ic):
        if isinstance(names, _NameList):
            for ch in names.chunks:
                self.names.extend(ch)
        else:
            self.names.extend(names)
        self._values.append(np.asarray(values, dtype=float).reshape(-1))
        self._nodes.append(np.asarray(nodes, dtype=np.int64).reshape(len(self._values[-1]), self.nterm))
        self._ic.append(np.asarray(ic, dtype=float).reshape(-1))
        self._cache = None

    def _arrays(self):
        if self._cache is None:
            if self.names:
                cat = lambda parts: parts[0] if len(parts) == 1 else np.concatenate(parts)  # noqa: E731
                self._cache = (cat(self._nodes), cat(self._values), cat(self._ic))
                self._nodes, self._values, self._ic = [self._cache[0]], [self._cache[1]], [self._cache[2]]
            else:
                self._cache = (np.zeros((0, self.nterm), np.int64), np.zeros(0), np.zeros(0))
        return self._cache

    @property
    def nodes(self) -> np.ndarray:
        return self._arrays()[0]

    @property
    def values(self) -> np.ndarray:
        return self._arrays()[1]

    @property
    def ic(self) -> np.ndarray:
        return self._arrays()[2]

    def set_values(self, idx, values):
        nodes, vals, ic = self._arrays()
        vals = vals.copy()
        vals[idx] = values
        self._cache = (nodes, vals, ic)
        self._nodes, self._values, self._ic = [nodes], [vals], [ic]


def check_values(kind: str, names: Sequence[str], values: np.ndarray) -> None:
    """Reject non-finite or out-of-domain component values, naming the first offender."""
    desc, unit = KINDS[kind][1], KINDS[kind][2]
    if kind == "U":
        bad = np.isnan(values) | (values <= 0) | (values == -np.inf)
        why = "open-loop gain must be > 0 (inf for an ideal op-amp)"
    else:
        bad = ~np.isfinite(values)
        why = "value must be finite"
        if kind in "RCL":
            bad |= values <= 0
            why = "value must be finite and > 0"
        elif kind == "N":
            bad |= values < 0
            why = "noise PSD must be finite and >= 0"
        elif kind in "GEFH":
            bad |= values == 0
            why = f"{'transconductance' if kind == 'G' else 'gain'} must be finite and non-zero"
        elif kind == "K":
            bad |= np.abs(values) > 1  # k = 0 is accepted (ngspice too): M = 0, no coupling
            why = "coupling coefficient must satisfy 0 <= |k| <= 1"
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        more = int(bad.sum()) - 1
        extra = f" (and {more} more)" if more else ""
        raise NetlistError(
            f"{desc} {names[i]!r} has unrealizable value {float(values[i])!r} {unit}: {why}{extra}"
        )


@nb.njit(cache=True)
def _components(n, a, b):
    """Connected-component label (the smallest node index in it) of each of n nodes joined by
    edges (a[k], b[k]): union-find, one pass over the edges (a million resistors in ~5 ms)."""
    parent = np.arange(n)
    for k in range(a.size):
        x = a[k]
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        y = b[k]
        while parent[y] != y:
            parent[y] = parent[parent[y]]
            y = parent[y]
        if x < y:
            parent[y] = x
        elif y < x:
            parent[x] = y
    for i in range(n):
        r = i
        while parent[r] != r:
            r = parent[r]
        parent[i] = r
    return parent



def _kind(kind) -> str:
    """An element kind letter (any case) among KINDS, else NetlistError."""
    k = str(kind).upper()
    if k not in KINDS:
        raise NetlistError(f"unknown element kind {kind!r}; expected one of {sorted(KINDS)}")
    return k

class Netlist:
    """A circuit: named nodes and column-stored elements. Ground is node ``0`` (alias ``gnd``)."""

    def __init__(self, title: str = "spucircuit netlist"):
        self.title = title
        self.node_names: list[str] = [GROUND]
        self._node_index: dict[str, int] = {GROUND: 0}
        self.tables: dict[str, _Table] = {k: _Table(k) for k in KINDS}
        self._element_keys: dict[str, str] = {}  # lower-case name -> kind (plain names)
        self._lazy: list[tuple[str, PatternNames]] = []  # (kind, pattern-named chunk)
        self.meta: dict = {}  # free-form annotations (mapping scale factors etc.)
        self.refs: dict[str, tuple] = {}  # lower-case F/H/K name -> names of the elements it refers to
        # V / I source name -> time-dependent value (spucircuit.circuit.waveforms); the table keeps its DC level
        self.waveforms: dict = {}

    # ----------------------------------------------------------------- nodes
    def node(self, name) -> int:
        """Index of node ``name``, created if new. Ground (``0``/``gnd``) is index 0."""
        if not isinstance(name, (str, int, np.integer)) or isinstance(name, bool):
            raise NetlistError(f"invalid node name {name!r}: give a string (or an integer)")
        key = str(name).strip()
        if not key or any(c.isspace() for c in key):
            raise NetlistError(f"invalid node name {name!r}: must be non-empty without whitespace")
        low = key.lower()
        if low in _GROUND_ALIASES:
            return 0
        idx = self._node_index.get(low)
        if idx is None:
            idx = len(self.node_names)
            self.node_names.append(key)
            self._node_index[low] = idx
        return idx

    def nodes(self, names) -> np.ndarray:
        """Indices of nodes ``names`` (created if new) as an int64 array: :meth:`node` in bulk."""
        names = list(map(str, names))
        joined = _joined(names)
        if joined is None:
            return np.array([self.node(nm) for nm in names], dtype=np.int64)  # names the bad one
        out = np.empty(len(names), dtype=np.int64)
        index, node_names = self._node_index, self.node_names
        for k, (nm, low) in enumerate(zip(names, joined.lower().split("\x00") if names else [])):
            idx = 0 if low in _GROUND_ALIASES else index.get(low)
            if idx is None:
                idx = len(node_names)
                node_names.append(nm)
                index[low] = idx
            out[k] = idx
        return out

    def has_node(self, name) -> bool:
        low = str(name).strip().lower()
        return low in _GROUND_ALIASES or low in self._node_index

    def node_index(self, name) -> int:
        low = str(name).strip().lower()
        if low in _GROUND_ALIASES:
            return 0
        try:
            return self._node_index[low]
        except KeyError:
            raise NetlistError(f"unknown node {name!r}") from None

    @property
    def n_nodes(self) -> int:
        """Number of nodes, ground excluded."""
        return len(self.node_names) - 1

    # -------------------------------------------------------------- elements
    def add_elements(self, kind: str, names, nodes, values, ic=None, refs=None) -> None:
        """Bulk-add elements of one kind.

        ``nodes`` is an (m, terminals) array of node indices (from :meth:`node`) or of node names.
        ``refs`` (F, H, K only): per element, the names of the elements it refers to (a controlling
        voltage source; two inductors), checked by :meth:`validate`.
        A rejected call leaves the netlist unchanged (no node is created).
        """
        n_before = len(self.node_names)
        kind_u = str(kind).upper()
        if (kind_u in REF_KINDS) != (refs is not None):
            raise NetlistError(f"kind {kind!r}: refs (the names of referred elements) are "
                               f"{'required' if kind_u in REF_KINDS else 'only for F, H and K'}")
        if refs is not None:
            refs = [tuple(str(r) for r in ([rf] if isinstance(rf, str) else rf)) for rf in refs]
            if len(refs) != len(names) or any(len(rf) != len(REF_KINDS[kind_u]) for rf in refs):
                raise NetlistError(f"{KINDS[kind_u][1]}: give {len(REF_KINDS[kind_u])} referred element name(s) "
                                   "per element")
        try:
            self._add_elements(kind, names, nodes, values, ic)
            if refs is not None:
                self.refs.update({str(nm).lower(): rf for nm, rf in zip(names, refs)})
        except Exception:
            for nm in self.node_names[n_before:]:  # roll back nodes created by this call
                del self._node_index[nm.lower()]
            del self.node_names[n_before:]
            raise

    def _add_elements(self, kind, names, nodes, values, ic) -> None:
        kind = str(kind).upper()
        if kind not in KINDS:
            raise NetlistError(f"unknown element kind {kind!r}; expected one of {sorted(KINDS)}")
        lazy = isinstance(names, PatternNames)
        if not lazy:
            names = list(map(str, names))
        m = len(names)
        nterm = KINDS[kind][0]
        arr = np.asarray(nodes, dtype=object) if not isinstance(nodes, np.ndarray) else nodes
        if arr.dtype.kind in "iu":
            if arr.size != m * nterm:
                raise NetlistError(f"{KINDS[kind][1]} needs {nterm} nodes per element: {m} elements, node index "
                                   f"array of shape {np.shape(arr)}")
            idx = np.array(arr, dtype=np.int64).reshape(m, nterm) if m else np.zeros((0, nterm), np.int64)
            if idx.size and (idx.min() < 0 or idx.max() >= len(self.node_names)):
                raise NetlistError(f"{KINDS[kind][1]} node index out of range")
        else:
            flat = np.asarray(arr, dtype=object).reshape(-1)
            if flat.size != m * nterm:
                raise NetlistError(
                    f"{KINDS[kind][1]} needs {nterm} nodes per element, got {flat.size} for {m}"
                )
            idx = np.array([self.node(x) for x in flat], dtype=np.int64).reshape(m, nterm)
        try:
            vals = np.asarray(values, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            raise NetlistError(f"{KINDS[kind][1]} values must be numbers, got {values!r}") from None
        if vals.size != m:
            raise NetlistError(f"{m} {KINDS[kind][1]} names but {vals.size} values")
        check_values(kind, names, vals)
        if ic is None:
            ics = np.zeros(m)
        else:
            ics = np.broadcast_to(np.asarray(ic, dtype=float), (m,)).copy()
            if not np.all(np.isfinite(ics)):
                raise NetlistError(f"non-finite initial condition among {KINDS[kind][1]}s")
        if lazy:
            self._check_new_pattern(names)
            self._lazy.append((kind, names))
        else:
            self._element_keys.update(dict.fromkeys(self._check_new_names(names), kind))
        self.tables[kind].add(names, idx, vals, ics)

    def _check_new_names(self, names: list) -> list:
        """Reject empty, whitespace-holding or duplicate names (C-speed set work: a 1e5-element
        table is checked in milliseconds, not seconds); returns the lower-case names."""
        joined = _joined(names)
        if joined is None:
            bad = next(nm for nm in names if not nm or _WS.search(nm) or "\x00" in nm)
            raise NetlistError(f"invalid element name {bad!r}")
        lows = joined.lower().split("\x00") if names else []
        taken = self._element_keys.keys() & set(lows)
        for _, pat in self._lazy:
            taken |= {low for low in lows if pat.locate(low) >= 0}
        if taken:
            raise NetlistError(f"duplicate element name {next(nm for nm, low in zip(names, lows) if low in taken)!r}")
        if len(set(lows)) != len(lows):
            seen = set()
            for nm, low in zip(names, lows):
                if low in seen:
                    raise NetlistError(f"duplicate element name {nm!r}")
                seen.add(low)
        return lows

    def _check_new_pattern(self, pat: PatternNames) -> None:
        """A pattern-named chunk: unique rows, no clash with existing plain or pattern names."""
        if len(pat) > 1 and not _strictly_increasing(pat.cols):  # sorted rows (np.nonzero) skip the sort
            keys = pat.keys()
            order = np.lexsort(keys.T[::-1])
            k = keys[order]
            same = np.all(k[1:] == k[:-1], axis=1)
            if np.any(same):
                raise NetlistError(f"duplicate element name {pat[int(order[int(np.flatnonzero(same)[0]) + 1])]!r}")
        for low in self._element_keys:
            r = pat.locate(low)
            if r >= 0:
                raise NetlistError(f"duplicate element name {pat[r]!r}")
        for _, other in self._lazy:
            if pat.disjoint_from(other):
                continue
            clash = [nm for nm in pat if other.locate(nm.lower()) >= 0]  # rare: similar patterns
            if clash:
                raise NetlistError(f"duplicate element name {clash[0]!r}")

    def _kind_of(self, low: str):
        kind = self._element_keys.get(low)
        if kind is None:
            for k, pat in self._lazy:
                if pat.locate(low) >= 0:
                    return k
        return kind

    def _add1(self, kind, name, nodes, value, ic=0.0):
        self.add_elements(kind, [name], [list(nodes)], [value], [ic])
        return self

    def add_resistor(self, name, p, q, resistance_ohm):
        return self._add1("R", name, (p, q), resistance_ohm)

    def add_capacitor(self, name, p, q, capacitance_f, ic_v=0.0):
        return self._add1("C", name, (p, q), capacitance_f, ic_v)

    def add_inductor(self, name, p, q, inductance_h, ic_a=0.0):
        return self._add1("L", name, (p, q), inductance_h, ic_a)

    def add_vccs(self, name, p, q, cp, cq, gm_siemens):
        return self._add1("G", name, (p, q, cp, cq), gm_siemens)

    def add_opamp(self, name, out, inp, inn, gain=np.inf):
        return self._add1("U", name, (out, inp, inn), gain)

    def add_vsource(self, name, p, q, volts):
        return self._add1("V", name, (p, q), volts)

    def add_isource(self, name, p, q, amps):
        return self._add1("I", name, (p, q), amps)

    def add_noise_source(self, name, p, q, psd_a2_per_hz):
        return self._add1("N", name, (p, q), psd_a2_per_hz)

    def add_vcvs(self, name, p, q, cp, cq, gain):
        return self._add1("E", name, (p, q, cp, cq), gain)

    def add_cccs(self, name, p, q, vcontrol, gain):
        self.add_elements("F", [name], [[p, q]], [gain], refs=[(vcontrol,)])
        return self

    def add_ccvs(self, name, p, q, vcontrol, transresistance_ohm):
        self.add_elements("H", [name], [[p, q]], [transresistance_ohm], refs=[(vcontrol,)])
        return self

    def add_coupling(self, name, l1, l2, k):
        self.add_elements("K", [name], np.zeros((1, 0), np.int64), [k], refs=[(l1, l2)])
        return self

    def ref_rows(self, kind: str) -> list:
        """Rows (in the referred tables) of the elements each F, H or K element refers to."""
        out = []
        for nm in self.tables[kind].names:
            rf = self.refs.get(nm.lower())
            if rf is None:
                raise NetlistError(f"{KINDS[kind][1]} {nm!r} refers to no element")
            rows = []
            for want, r in zip(REF_KINDS[kind], rf):
                try:
                    k, i = self.find(r)
                except NetlistError:
                    raise NetlistError(f"{KINDS[kind][1]} {nm!r} refers to {r!r}, which is not in the netlist") from None
                if k != want:
                    raise NetlistError(f"{KINDS[kind][1]} {nm!r} refers to {r!r}, a {KINDS[k][1]}: it must be a "
                                       f"{KINDS[want][1]}")
                rows.append(i)
            out.append(tuple(rows))
        return out

    def __len__(self) -> int:
        return sum(len(t) for t in self.tables.values())

    def count(self, kind: str) -> int:
        return len(self.tables[_kind(kind)])

    def component_counts(self) -> dict[str, int]:
        """Number of elements of each kind (``resistors``, ``capacitors``, ... , ``total``); the
        controlled sources and couplings (E F H K) only when the netlist has some."""
        out = {KINDS[k][1].replace(" ", "_") + "s": len(t) for k, t in self.tables.items()
               if len(t) or k not in REF_KINDS and k != "E"}
        out["total"] = len(self)
        return out

    def elements(self, kind: str | None = None) -> Iterator[Element]:
        """Iterate elements (all kinds, or one) as :class:`Element` views."""
        kinds = [_kind(kind)] if kind else list(KINDS)
        for k in kinds:
            t = self.tables[k]
            nodes, vals, ics = t.nodes, t.values, t.ic
            for i, nm in enumerate(t.names):
                yield Element(k, nm, tuple(self.node_names[j] for j in nodes[i]), float(vals[i]), float(ics[i]))

    def find(self, name: str) -> tuple[str, int]:
        """(kind, row) of element ``name``."""
        low = str(name).lower()
        kind = self._kind_of(low)
        if kind is None:
            raise NetlistError(f"no element named {name!r}")
        i = self.tables[kind].names.locate(low)
        if i >= 0:
            return kind, i
        raise NetlistError(f"no element named {name!r}")  # pragma: no cover

    def set_value(self, name: str, value: float) -> None:
        """Change one element's value in place (validated), e.g. a DC source level."""
        kind, i = self.find(name)
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise NetlistError(f"value of {name!r} must be a number, got {value!r}") from None
        check_values(kind, [name], np.array([value]))
        self.tables[kind].set_values(i, value)

    def select(self, keep: dict | None = None, replace: dict | None = None) -> "Netlist":
        """A netlist with this one's title, nodes (names and order) and meta (the same dict, not a copy)
        holding, per kind, the rows ``keep[kind]`` (a boolean mask or row indices; every row of a kind not
        named), with their F/H/K references. ``replace[kind] = (nodes, values, ic)``: arrays (one row per
        row of this netlist's table) to take that kind's rows from instead of the table. Waveforms are not
        carried (the circuit rewrites that use it keep the original's)."""
        keep, replace = keep or {}, replace or {}
        new = Netlist(self.title)
        new.node_names = list(self.node_names)
        new._node_index = dict(self._node_index)
        new.meta = self.meta
        for kind, tab in self.tables.items():
            if not len(tab):
                continue
            rows = keep.get(kind)
            idx = np.arange(len(tab)) if rows is None else np.asarray(rows)
            if idx.dtype == bool:
                idx = np.flatnonzero(idx)
            if not len(idx):
                continue
            nodes, vals, ics = replace.get(kind, (tab.nodes, tab.values, tab.ic))
            names = [tab.names[int(i)] for i in idx]
            new.add_elements(kind, names, nodes[idx], vals[idx], ics[idx],
                             refs=[self.refs[nm.lower()] for nm in names] if kind in REF_KINDS else None)
        return new

    def copy(self) -> "Netlist":
        new = Netlist(self.title)
        new.node_names = list(self.node_names)
        new._node_index = dict(self._node_index)
        new._element_keys = dict(self._element_keys)
        new._lazy = list(self._lazy)  # PatternNames are never modified in place
        new.meta = copy.deepcopy(self.meta)
        new.refs = dict(self.refs)
        new.waveforms = dict(self.waveforms)  # waveforms are frozen
        for k, t in self.tables.items():
            if len(t):
                new.tables[k].add(t.names, t.nodes.copy(), t.values.copy(), t.ic.copy())
        return new

    # ------------------------------------------------------------ validation
    def _title_hint(self, node: str) -> str:
        """A hint when the title reads like an element card on ``node``: SPICE's first line is always
        the title, so a file without one loses its first element."""
        tok = str(self.title).split()
        if len(tok) >= 3 and tok[0][:1].upper() in "RCLVIGEFHKUXBDMJQ" and node.lower() in (t.lower() for t in tok[1:3]):
            return (f" (the title line {' '.join(tok)[:60]!r} reads like an element: a SPICE netlist's first line "
                    "is always its title; add a title line above the elements)")
        return ""

    @locating
    def validate(self) -> None:
        """Structural checks; raises :class:`NetlistError` naming the first problem found.

        - every non-ground node touches at least two element terminals, unless its one terminal fixes
          its voltage (a resistor or inductor carrying no current, or a V, H, E or finite-gain op-amp
          output; see :meth:`open_inductors`);
        - every node has a DC path to ground through resistors, inductors, voltage sources or
          op-amp outputs (capacitors, current sources and VCCS outputs carry no DC path).
        """
        if len(self) == 0:
            raise NetlistError("netlist is empty")
        for k in REF_KINDS:
            rows = self.ref_rows(k)
            if k == "K":
                seen = {}
                for nm, (a, b) in zip(self.tables["K"].names, rows):
                    if a == b:
                        raise NetlistError(f"inductor coupling {nm!r} couples inductor "
                                           f"{self.tables['L'].names[a]!r} with itself")
                    key = (min(a, b), max(a, b))
                    if key in seen:
                        raise NetlistError(f"inductor couplings {seen[key]!r} and {nm!r} couple the same inductors")
                    seen[key] = nm
        n = len(self.node_names)
        degree = np.zeros(n, dtype=np.int64)
        for k, t in self.tables.items():
            if not len(t):
                continue
            nodes = t.nodes
            if k in "RCLVINEH":
                same = nodes[:, 0] == nodes[:, 1]
                if np.any(same):
                    i = int(np.flatnonzero(same)[0])
                    raise NetlistError(
                        f"{KINDS[k][1]} {t.names[i]!r} has both terminals on node "
                        f"{self.node_names[nodes[i, 0]]!r}"
                    )
            degree += np.bincount(nodes.reshape(-1), minlength=n)
        unused = np.flatnonzero(degree[1:] == 0) + 1
        if len(unused):  # an unconnected node would make the circuit equations singular
            raise NetlistError(f"node {self.node_names[unused[0]]!r} is not connected to any element")
        self._idle_walk(degree, strict=True)
        # DC connectivity through conducting elements (vectorised connected components).
        a_list, b_list = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for k in "RLVEH":
            if len(self.tables[k]):
                a_list.append(self.tables[k].nodes[:, 0])
                b_list.append(self.tables[k].nodes[:, 1])
        if len(self.tables["U"]):
            out = self.tables["U"].nodes[:, 0]
            a_list.append(out)
            b_list.append(np.zeros_like(out))
        a, b = np.concatenate(a_list), np.concatenate(b_list)
        labels = _components(n, a, b)
        floating = np.flatnonzero(labels != labels[0])
        if len(floating):
            more = f" (and {len(floating) - 1} more)" if len(floating) > 1 else ""
            raise NetlistError(
                f"node {self.node_names[floating[0]]!r} has no DC path to ground{more}: connect it "
                "through a resistor, inductor, voltage source or op-amp output"
            )

    def _terminal_degree(self) -> np.ndarray:
        """Element terminals on each node (control terminals included)."""
        n = len(self.node_names)
        degree = np.zeros(n, dtype=np.int64)
        for t in self.tables.values():
            if len(t):
                degree += np.bincount(t.nodes.reshape(-1), minlength=n)
        return degree

    def open_inductors(self) -> dict:
        """{inductor row: (open node, other node)} of the inductors that carry no current.

        A node touched by one element terminal passes no current. A resistor into such a node
        carries none and is set aside; so is an inductor, whose current is then zero for all time
        (it is no state: di/dt = 0, and its voltage is the mutual one, sum_j M_ij di_j/dt, which
        :mod:`~spucircuit.statespace.index_reduction` keeps). The node at the other end may be left
        with one terminal in turn (chains into nowhere are followed). Nodes whose one element leaves
        the voltage undefined are left to :meth:`validate`, which refuses them."""
        return self._idle_walk(self._terminal_degree(), strict=False)[1]

    def _idle_walk(self, degree: np.ndarray, strict: bool) -> tuple[list, dict]:
        """Set aside the resistors and inductors that carry no current (a terminal alone on a node);
        ``degree`` (terminals per node) is consumed. Returns (idle resistor names, open inductors as
        in :meth:`open_inductors`). ``strict``: raise naming a one-terminal node whose element leaves
        its voltage undefined (or when the title reads like a card on it)."""
        queue = [(int(j), None) for j in np.flatnonzero(degree[1:] < 2) + 1]
        idle: list = []  # resistors into a one-terminal node: they carry no current
        opened: dict = {}  # inductor row -> (open node, other node)
        skip: set = set()  # (kind, row) set aside
        while queue:  # set such elements aside; the node at their other end may be left with one terminal
            j, via = queue.pop(0)
            if degree[j] == 0:  # an island of idle elements: the DC-path check of validate names it
                continue
            kind, i, col = self._touching_terminal(j, skip=skip)
            hint = self._title_hint(self.node_names[j]) if strict else ""  # the lost first card may be its other
            if hint or not (kind in "RL" or _defines_lonely_node(kind, col, float(self.tables[kind].values[i]))):
                if not strict:
                    continue
                near = [self.tables[k].names[r] for k, r in skip if j in self.tables[k].nodes[r]]
                aside = (f" once the elements carrying no current ({', '.join(sorted(near)[:3])}) are set aside"
                         if via is not None and near else "")
                raise NetlistError(
                    f"dangling node {self.node_names[j]!r}: only element {self.tables[kind].names[i]!r} connects to it"
                    + (hint or f"{aside}, and its {_terminal_role(kind, col)} leaves the node voltage undefined")
                )
            if kind in "RL":
                skip.add((kind, i))
                other = int(self.tables[kind].nodes[i, 1 - col])
                if kind == "R":
                    idle.append(self.tables["R"].names[i])
                else:
                    opened[i] = (j, other)
                degree[j] -= 1
                degree[other] -= 1
                if other != 0 and degree[other] == 1:
                    queue.append((other, i))
        return idle, opened

    def _touching_terminal(self, j: int, skip=()) -> tuple[str, int, int]:
        """(kind, row, terminal column) of the first element terminal on node index j, the (kind, row)
        pairs in ``skip`` aside."""
        for k, t in self.tables.items():
            if len(t):
                hit = np.argwhere(t.nodes == j)
                if skip:
                    hit = np.array([h for h in hit if (k, int(h[0])) not in skip]).reshape(-1, 2)
                if len(hit):
                    return k, int(hit[0, 0]), int(hit[0, 1])
        raise NetlistError(f"node {self.node_names[j]!r} is not connected to any element")  # pragma: no cover

    def _touching(self, j: int) -> str:
        """Name of the first element with a terminal on node index j."""
        for t in self.tables.values():
            if len(t):
                hit = np.flatnonzero(np.any(t.nodes == j, axis=1))
                if len(hit):
                    return t.names[int(hit[0])]
        return "?"

    # -------------------------------------------------------------- networkx
    def to_networkx(self) -> nx.MultiGraph:
        """Topology as a networkx MultiGraph: circuit nodes are graph nodes, each element an edge.

        Two-terminal elements give one edge (attributes ``name``, ``kind``, ``value``). A VCCS gives
        an ``output`` edge (p, q) and a ``control`` edge (cp, cq); an op-amp an ``output`` edge
        (out, 0) and an ``input`` edge (inp, inn).
        """
        g = nx.MultiGraph(title=self.title)
        g.add_nodes_from(self.node_names)
        for u, v, key, role, el in self.edges():
            g.add_edge(u, v, key=key, role=role, name=el.name, kind=el.kind, value=el.value)
        return g

    def edges(self) -> Iterator[tuple]:
        """(node, node, key, role, Element) for each graph edge of each element (see to_networkx)."""
        for el in self.elements():
            if el.kind == "K":
                continue
            if el.kind in "GE":
                p, q, cp, cq = el.nodes
                yield p, q, el.name, "output", el
                yield cp, cq, el.name + ":control", "control", el
            elif el.kind == "U":
                out, inp, inn = el.nodes
                yield out, GROUND, el.name, "output", el
                yield inp, inn, el.name + ":input", "input", el
            else:
                yield el.nodes[0], el.nodes[1], el.name, "branch", el

    def summary(self) -> str:
        counts = {KINDS[k][1]: len(t) for k, t in self.tables.items() if len(t)}
        parts = ", ".join(f"{v} {k}{'s' if v != 1 else ''}" for k, v in counts.items())
        return f"{self.title}: {self.n_nodes} nodes, {parts}"

    def __repr__(self) -> str:
        return f"<Netlist {self.summary()}>"
