"""What one solve or TNGD iteration asks of the device (:class:`DeviceLoad`), counted from sizes
(:func:`integrator_load`, :func:`factored_load`) or from a circuit object (:func:`device_load`).

Objects only: a netlist file is read at the edge (``spu cost --netlist``) and passed in as a
:class:`~spucircuit.circuit.netlist.Netlist`. The cost of a load is in
:mod:`spucircuit.studies.cost.model`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from spucircuit._util.jsonable import to_jsonable
from spucircuit.circuit.factored_array import FactoredCircuit
from spucircuit.circuit.factored_components import FactoredComponents, components_from_netlist
from spucircuit.circuit.integrator_array import COUPLING_RE, MappedCircuit
from spucircuit.circuit.netlist import Netlist
from spucircuit.errors import CostError
from spucircuit.studies.cost.params import positive_int


@dataclass(frozen=True)
class DeviceLoad:
    """What one solve / TNGD iteration asks of the device, counted from sizes or a circuit.

    n_state: integrating nodes (values read per snapshot); n_dac: DAC conversions (right-hand
    side / gradient); words: resistor words sent per update (J^T shares J's, A_ij shares A_ji);
    writes: resistors rewritten per update; resistors, opamps, capacitors: all of them;
    tau_s: the circuit's time unit if it has one (None: use Hardware.tau_s).
    """

    architecture: str
    n_state: int
    n_dac: int
    words: int
    writes: int
    resistors: int
    opamps: int
    capacitors: int
    tau_s: float | None = None
    source: str = "sizes"
    N: int | None = None  # factored: parameters, batch, outputs
    b: int | None = None
    dz: int | None = None
    h_fixed: bool = True

    def to_dict(self) -> dict:
        """The fields as strict-JSON data (see :func:`to_jsonable`)."""
        return to_jsonable(asdict(self))


def integrator_load(n: int) -> DeviceLoad:
    """Dense signed n x n integrator array (worst case: every column has an inverting buffer).

    Args:
        n: matrix size.

    Returns:
        The load: n(n+1)/2 words (one per symmetric pair), n^2 + n writes (couplings and input
        resistors), n^2 + 3n resistors, 2n op-amps, n capacitors.
    """
    n = positive_int("n", n)
    return DeviceLoad("integrator_array", n_state=n, n_dac=n, words=n * (n + 1) // 2, writes=n * n + n,
                      resistors=n * n + n + 2 * n, opamps=2 * n, capacitors=n)


def factored_load(N: int, b: int, dz: int, upload: str = "factor") -> DeviceLoad:
    """Factored TNGD circuit (App. C) for N parameters, batch b, dz outputs (m = b dz).

    Args:
        N, b, dz: positive integers.
        upload: ``'factor'``: the arrays hold Ut = R^T J / sqrt(b) and a fixed identity H array (as
            ``tngd.train`` uploads): m N words; ``'jacobian'``: J and the b dz x dz Hessian blocks,
            rewritten every iteration: m N + b dz^2 words.

    Returns:
        The load (2 m N + N writes for the J, J^T arrays and the input resistors, plus the H
        array when it is rewritten).

    Raises:
        CostError: a size is not a positive integer or ``upload`` is unknown.
    """
    N, b, dz = positive_int("N", N), positive_int("b", b), positive_int("dz", dz)
    if upload not in ("factor", "jacobian"):
        raise CostError(f"upload must be 'factor' or 'jacobian', got {upload!r}")
    m = b * dz
    h = m if upload == "factor" else b * dz * dz
    h_fixed = upload == "factor"
    buffers = N + m if h_fixed else N + 2 * m  # x and w columns need buffers; y only for signed H
    return DeviceLoad(
        "factored", n_state=N, n_dac=N, words=m * N + (0 if h_fixed else h),
        writes=2 * m * N + N + (0 if h_fixed else h),
        resistors=2 * m * N + h + 2 * m + 2 * N + 2 * buffers, opamps=N + 2 * m + buffers, capacitors=N,
        N=N, b=b, dz=dz, h_fixed=h_fixed)


_FACTORED_NODES = ("x0", "a0", "y0", "c0", "w0")


def device_load(circuit, *, b: int | None = None, dz: int | None = None) -> DeviceLoad:
    """Count what a circuit needs per solve / iteration.

    Integrator arrays: the coupling resistors R<i>_<j> and the input resistors are rewritten per
    solve (buffers, capacitors fixed). Factored circuits: the J and J^T arrays, the H array
    unless it is a constant identity, and the input resistors (lambda, feedback and buffer
    resistors fixed). Any other netlist: every resistor and capacitor counts as programmable.
    Cost: one pass over the components (O(m N) for a factored circuit).

    Args:
        circuit: a :class:`~spucircuit.circuit.integrator_array.MappedCircuit`, a
            :class:`~spucircuit.circuit.factored_array.FactoredCircuit` or its
            ``FactoredComponents``, or a :class:`~spucircuit.circuit.netlist.Netlist` (e.g. from
            :func:`spucircuit.read_spice`; files are read by the caller).
        b, dz: factored circuits: the network's batch and outputs (default: the circuit's).

    Returns:
        The :class:`DeviceLoad`, with the circuit's tau when it records one.

    Raises:
        CostError: an unsupported object (a path included), or b dz that does not match the
            circuit's m.
    """
    if isinstance(circuit, FactoredCircuit):
        return replace(_from_components(circuit.components, b, dz), tau_s=float(circuit.tau_s),
                       source="FactoredCircuit")
    if isinstance(circuit, FactoredComponents):
        return _from_components(circuit, b, dz)
    if isinstance(circuit, MappedCircuit):
        return replace(_from_netlist_generic(circuit.netlist), tau_s=float(circuit.tau_s), source="MappedCircuit")
    if isinstance(circuit, Netlist):
        names = set(circuit.node_names)
        meta = circuit.meta
        if "factored" in meta or all(n in names for n in _FACTORED_NODES):
            fm = meta.get("factored", {}) if isinstance(meta.get("factored"), dict) else {}
            comp = components_from_netlist(circuit, b=fm.get("b"), dz=fm.get("dz"))
            tau = (fm.get("scales") or {}).get("tau_s")
            return replace(_from_components(comp, b, dz), tau_s=_tau_or_none(tau), source="Netlist")
        return _from_netlist_generic(circuit)
    raise CostError(f"cannot count the components of a {type(circuit).__name__}: give a MappedCircuit, "
                    "FactoredCircuit, FactoredComponents or Netlist (read a netlist file with "
                    "spucircuit.read_spice first)")


def _tau_or_none(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 else None


def _from_components(comp, b=None, dz=None) -> DeviceLoad:
    N, m = comp.n, comp.m
    nz1 = int(np.count_nonzero(comp.G1))
    nz3 = nz1 if comp.G3 is None else int(np.count_nonzero(comp.G3))
    G2 = comp.G2
    nz2 = int(np.count_nonzero(G2))
    diag = np.einsum("kii->ki", G2)
    off = G2.copy()
    idx = np.arange(G2.shape[1])
    off[:, idx, idx] = 0.0
    h_fixed = bool(not np.any(off) and np.all(diag == diag.flat[0]))
    cc = comp.component_counts()
    bb, dd = comp.b, comp.dz
    if b is not None or dz is not None:  # the network's batch / outputs (a factor circuit has dz = 1)
        bb = positive_int("b", b) if b is not None else m // positive_int("dz", dz)
        dd = positive_int("dz", dz) if dz is not None else m // bb
        if bb * dd != m:
            raise CostError(f"b dz = {bb} x {dd} does not match the circuit's m = {m}")
    return DeviceLoad(
        "factored", n_state=N, n_dac=N, words=nz1 + (0 if h_fixed else nz2),
        writes=nz1 + nz3 + (0 if h_fixed else nz2) + int(np.count_nonzero(comp.g_in)),
        resistors=int(cc["resistors"]), opamps=int(cc["op_amps"]), capacitors=N, N=N, b=bb, dz=dd,
        h_fixed=h_fixed, source="FactoredComponents")


def _from_netlist_generic(nl) -> DeviceLoad:
    t = nl.tables
    rnames = list(t["R"].names)
    pairs, coupling = set(), 0
    for nm in rnames:
        mt = COUPLING_RE.match(nm)
        if mt:
            coupling += 1
            pairs.add(frozenset((int(mt.group(1)), int(mt.group(2)))))
    n_in = sum(1 for nm in rnames if nm.upper().startswith("RIN"))
    meta = nl.meta
    mapped = meta.get("mapped") if isinstance(meta.get("mapped"), dict) else {}
    arch = str(mapped.get("architecture", "integrator_array" if coupling else "generic"))
    n_state = mapped.get("n")
    if not isinstance(n_state, int) or n_state < 1:
        n_state = len(t["C"]) or len(t["U"]) or 1
    tau = None
    if isinstance(meta.get("mapping"), dict):
        tau = _tau_or_none(meta["mapping"].get("tau_s"))
    if tau is None and isinstance(mapped.get("dynamics"), dict):
        tau = _tau_or_none(mapped["dynamics"].get("tau_slow_s"))
    if coupling:
        words, writes = len(pairs), coupling + n_in
    else:  # unknown layout: every R and C is programmable, one word each
        words = writes = len(t["R"]) + len(t["C"])
    return DeviceLoad(arch, n_state=int(n_state), n_dac=len(t["V"]), words=int(words), writes=int(writes),
                      resistors=len(t["R"]), opamps=len(t["U"]), capacitors=len(t["C"]), tau_s=tau,
                      source="Netlist")
