"""The imperfection protocol: a device under construction (:class:`Build`), the pure
``apply(build, key) -> Build`` step every imperfection implements, and their composition by
:func:`chain` (in the spirit of optax).

A device instance is the nominal circuit plus one seeded draw of imperfections. Imperfections never
touch the ideal matrix: each one rewrites component values (or inserts elements) in a copy of the
netlist, and the compiler turns the perturbed netlist into the drift the twin simulates. Random
draws come from a counter-based :class:`~spucircuit._util.keys.DeviceKey`, so a component's error
depends only on the device seed and the component's name.
"""
from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from spucircuit._util.keys import DeviceKey
from spucircuit.circuit.factored_array import FactoredCircuit
from spucircuit.circuit.factored_components import FactoredComponents
from spucircuit.circuit.integrator_array import COUPLING_RE, MappedCircuit
from spucircuit.circuit.netlist import Netlist
from spucircuit.constants import T_ROOM
from spucircuit.device.converters import Converter
from spucircuit.errors import NetlistError, SPUError
from spucircuit.imperfections.dc_error import DCContext, DCError


# ====================================================================================  build
@dataclass(frozen=True)
class Build:
    """One state of a device under construction: circuit + non-netlist parts + a log.

    ``circuit`` is a mapped integrator array (component values in its netlist) or a factored circuit
    (component values in arrays); it keeps the *nominal* scales (g_unit, v_unit, r_in, tau): the
    controller reads and writes through them, only the component values differ from the nominal.
    """

    circuit: MappedCircuit | FactoredCircuit
    temperature_k: float = T_ROOM
    dac: "Converter | None" = None
    adc: "Converter | None" = None
    notes: tuple = ()
    rail_v: float = float("inf")  # op-amp output swing limit, +-V (inf: no rails)

    @property
    def mapped(self):
        """The circuit (former name of the field)."""
        return self.circuit

    @property
    def factored(self) -> bool:
        return isinstance(self.circuit, FactoredCircuit)

    @property
    def netlist(self) -> Netlist:
        if self.factored:
            raise NetlistError("a factored circuit's component values are arrays (FactoredComponents), "
                               "not a netlist: this imperfection applies to netlist-described circuits only")
        return self.circuit.netlist

    def with_netlist(self, nl: Netlist) -> "Build":
        return replace(self, circuit=replace(self.circuit, netlist=nl))

    def with_components(self, comp: FactoredComponents) -> "Build":
        """A factored build with new component values (the nominal scales are kept)."""
        return replace(self, circuit=replace(self.circuit, components=comp, netlist_cache=None))

    def note(self, name: str, **info) -> "Build":
        return replace(self, notes=self.notes + ((name, info),))

    def log(self) -> dict:
        """Notes merged by imperfection name (counts summed)."""
        out: dict = {}
        for name, info in self.notes:
            d = out.setdefault(name, {})
            for k, v in info.items():
                d[k] = d.get(k, 0) + v if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else v
        return out


def matching_rows(nl: Netlist, kind: str, select: str | None) -> np.ndarray:
    names = nl.tables[kind].names
    if select is None:
        return np.arange(len(names))
    rx = re.compile(select, re.IGNORECASE)
    return np.array([i for i, nm in enumerate(names) if rx.fullmatch(nm)], dtype=np.int64)


def canonical_names(names, symmetric: bool):
    """R{i}_{j} and R{j}_{i} share one random stream when ``symmetric``."""
    if not symmetric:
        return list(names)
    out = []
    for nm in names:
        m = COUPLING_RE.match(nm)
        if m:
            i, j = sorted((int(m.group(1)), int(m.group(2))))
            out.append(f"R{i}_{j}")
        else:
            out.append(nm)
    return out


def with_values(nl: Netlist, kind: str, rows: np.ndarray, values: np.ndarray) -> Netlist:
    values = np.asarray(values, dtype=float)
    if kind in "RCL" and not np.all(np.isfinite(values) & (values > 0)):
        i = int(np.flatnonzero(~(np.isfinite(values) & (values > 0)))[0])
        raise NetlistError(f"{nl.tables[kind].names[rows[i]]!r}: perturbed value {values[i]!r} is not realizable")
    new = nl.copy()
    if len(rows):
        new.tables[kind].set_values(rows, values)
    return new


def rebuild_netlist(nl: Netlist, rewire: dict | None = None, add: Sequence = ()) -> Netlist:
    """Copy of ``nl`` with some terminals moved and elements added.

    rewire: {kind: [(rows, terminal column, [new node names])]}; add: [(kind, names, node-name
    rows, values)]. Element names, values and order are preserved.
    """
    new = Netlist(nl.title)
    new.meta = copy.deepcopy(nl.meta)
    for nm in nl.node_names[1:]:
        new.node(nm)
    for kind, tab in nl.tables.items():
        if not len(tab):
            continue
        nodes = tab.nodes.copy()
        for rows, col, targets in (rewire or {}).get(kind, []):
            nodes[np.asarray(rows), col] = [new.node(t) for t in targets]
        new.add_elements(kind, list(tab.names), nodes, tab.values.copy(), tab.ic.copy(),
                         refs=[nl.refs[nm.lower()] for nm in tab.names] if kind in "FHK" else None)
    for kind, names, nodes, values in add:
        if len(names):
            new.add_elements(kind, list(names), [list(r) for r in nodes], np.asarray(values, float))
    return new


# =============================================================================  imperfections
class Imperfection:
    """Base class: ``apply(build, key) -> Build`` (pure). ``known``: the controller knows the
    result (it chose the bank/DAC codes), so calibration can separate it from fabrication."""

    known: bool = False

    def apply(self, build: Build, key: DeviceKey, known_only: bool = False) -> Build:
        if known_only and not self.known:
            return build
        return self._apply_factored(build, key) if build.factored else self._apply(build, key)

    def _apply(self, build: Build, key: DeviceKey) -> Build:  # pragma: no cover - interface
        raise NotImplementedError

    def _apply_factored(self, build: Build, key: DeviceKey) -> Build:
        """The same model on a factored circuit's component arrays (models that have one override)."""
        raise NetlistError(f"{type(self).__name__} is modelled on netlist elements; a factored circuit has "
                           "ResistorBank, Tolerance, DAC, ADC, Thermal (temperature) and InjectedNoise")

    def dc_error(self, ctx: DCContext) -> DCError:
        """This model's share of a programmed integrator array's DC error, from its spec alone
        (:mod:`~spucircuit.imperfections.dc_error`); models without one say so."""
        return DCError.missing(type(self).__name__, ctx.n, "no DC error model")

    def _tag(self, what: str) -> str:
        """Name of this imperfection's random stream for ``what``."""
        return f"{type(self).__name__}:{what}:{getattr(self, 'select', '')}"

    def describe(self) -> dict:
        d = {"model": type(self).__name__}
        if dataclasses.is_dataclass(self):
            d.update({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        return d


@dataclass(frozen=True)
class Chain(Imperfection):
    """Apply imperfections in order. Every item draws from its own named random stream (model
    name + selection), not from its position, so inserting another imperfection does not change
    a device's fabrication draw (common random numbers across a parameter sweep). Two items of
    the same model and selection would share draws: give them different ``select`` patterns."""

    items: tuple = ()

    def apply(self, build: Build, key: DeviceKey, known_only: bool = False) -> Build:
        for imp in self.items:
            build = imp.apply(build, key, known_only)
        return build

    def dc_error(self, ctx: DCContext) -> DCError:
        out = DCError.zero(ctx.n)
        for imp in self.items:
            out = out + imp.dc_error(ctx)
        return out

    def flat(self) -> tuple:
        """The items with nested chains expanded, in order."""
        return tuple(i for imp in self.items for i in (imp.flat() if isinstance(imp, Chain) else (imp,)))

    def describe(self) -> dict:
        return {"model": "Chain", "items": [imp.describe() for imp in self.items]}

    def find(self, cls):
        """First item of type ``cls`` (searching nested chains), or None."""
        for imp in self.items:
            if isinstance(imp, cls):
                return imp
            if isinstance(imp, Chain):
                hit = imp.find(cls)
                if hit is not None:
                    return hit
        return None


def chain(*imperfections) -> Chain:
    """Compose imperfections (None entries are skipped), applied left to right."""
    bad = [i for i in imperfections if i is not None and not isinstance(i, Imperfection)]
    if bad:
        raise SPUError(f"chain() takes imperfection models (ResistorBank(...), Tolerance(...), ...), got {bad[0]!r}")
    return Chain(tuple(i for i in imperfections if i is not None))
