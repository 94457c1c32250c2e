"""Hardware runtime and energy model: one SPU solve / inversion, one TNGD iteration, and the
digital references (dense NGD, NGD-CG, NGD-Woodbury, Adam, SGD) it is compared with.

Everything is a plain dataclass plus pure functions; SI units in every name (s, J, W, bit/s,
samples/s, FLOP/s). The defaults are the TNGD paper's timing model where it gives a value
(tau = R0 C0 = 1 us, 16-bit DACs / ADCs / programmable resistors, a 50 Gb/s link) and labelled
*assumptions* elsewhere: :data:`SOURCES` says which is which, ``spu cost params`` prints it.

**TNGD iteration** (physics.md 5, App. C factored circuit, m = b dz). Phases, in order; the
reported ``total_s`` is their sum (one iteration after the other, as ``tngd.train`` counts it):

1. ``host_pre``  forward pass, gradient (6 b N FLOP for a dense network) and the GGN factor
   Ut = R^T J / sqrt(b) by reverse mode with dz cotangents per example (4 b dz N), at the host's
   sustained FLOP rate, plus memory traffic (Ut written and read: 2 m N values) at its sustained
   bandwidth, plus a fixed latency per sequential model call;
2. ``upload``    link transfer of Ut (m N resistor words; the J^T array is written from the same
   words) and of g (N DAC words), resistor writes (2 m N + N input resistors, ``write_lanes`` in
   parallel) and the N DAC conversions. These three *overlap* (the data are streamed into the
   arrays as they arrive): upload = max(transfer, writes, DAC);
3. ``analog``    t tau (the state is not reset between iterations);
4. ``readout``   N ADC conversions and their transfer, overlapping: max(ADC, transfer out);
5. ``host_post`` the parameter update (2 N FLOP + one call).

``detail['pipelined_total_s']`` is the steady-state time when the host prepares batch k + 1
while the device uploads, runs and reads batch k (the paper's asynchronous mode, td > 0):
max(host_pre + host_post, upload + analog + readout). ``upload='jacobian'`` sends J and the
b dz x dz loss-Hessian blocks instead of Ut (the H array is then rewritten every iteration).

**Solve / inversion** on an integrator array (physics.md 2a): upload of A (one word per
symmetric pair, a resistor write per nonzero entry) and b (n DAC words, n input resistors);
analog burn-in, then ``samples`` snapshots ``sample_interval`` apart (times in tau / lambda_min,
the slowest relaxation time; defaults 20 and 100 x 2 match :func:`spucircuit.solvers.solve`'s
20 / lambda_min tau burn-in and 220 / lambda_min tau total). Every snapshot of the n outputs is
held (sample-and-hold), converted and streamed to the host while the next one is taken: a
snapshot interval shorter than its conversion or transfer time stretches the sampling window.
The host averages the samples (n FLOP each) or, for ``task='inv'``, accumulates cov(x) (n^2
FLOP each; no right-hand side is uploaded).

**Energy** (additive): host FLOPs x energy per FLOP (latency counted at zero energy: a lower
bound), link bits x energy per bit, resistor writes, DAC and ADC conversions, and the analog
array while it is powered (analog + readout phases; power-gated otherwise): op-amps x their
power plus resistors x their mean dissipation.

**Digital references** (per iteration, multiply-add = 2 FLOP, symmetric products by syrk):
gradient 6 b N; dense NGD + m N^2 (F = Ut^T Ut) + N^3/3 (Cholesky) + 2 N^2; NGD-CG c x (JVP
4 b N + VJP 4 b N + 10 N), 2 sequential model calls per CG iteration; NGD-Woodbury J (4 b dz N)
+ m^2 N (J J^T) + m^3/3 + 4 m N; Adam 10 N update. Measured per-iteration times (e.g. rows of
:mod:`tngd.bench`) can stand in for the estimates (``measured_s`` / ``host_time_s``), and
:func:`calibrate_host` fits the host's FLOP rate, memory bandwidth and call latency to them.
Host time of every phase = FLOPs / rate + bytes / bandwidth (not overlapped: pessimistic).
"""
from __future__ import annotations

import io
import json
import math
import re
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np

from spucircuit.errors import SPUError


class CostError(SPUError, ValueError):
    """A cost-model parameter or size is unusable (non-positive rate, bits out of range, ...)."""


# ===================================================================================== parameters
@dataclass(frozen=True)
class Hardware:
    """The SPU side: time constant, converters, link, resistor programming, analog power."""

    tau_s: float = 1e-6
    dac_bits: int = 16
    dac_rate_sps: float = 100e6
    n_dacs: int = 64
    dac_energy_j: float = 1e-9
    adc_bits: int = 16
    adc_rate_sps: float = 100e6
    n_adcs: int = 64
    adc_energy_j: float = 1e-9
    resistor_bits: int = 16
    link_bps: float = 50e9
    link_energy_j_per_bit: float = 5e-12
    write_time_s: float = 10e-9
    write_lanes: int = 1024
    write_energy_j: float = 1e-12
    opamp_power_w: float = 1e-3
    resistor_power_w: float = 1e-7

    def __post_init__(self):
        _validate(self)


@dataclass(frozen=True)
class Host:
    """The digital host (GPU-class by default) running the network and the digital optimizers."""

    flop_rate_fps: float = 4.9e12
    memory_bw_bps: float = 1.5e12
    call_latency_s: float = 50e-6
    energy_per_flop_j: float = 8e-11
    memory_bytes: float = 80e9
    bytes_per_value: int = 4

    def __post_init__(self):
        _validate(self)


_BITS = {"dac_bits", "adc_bits", "resistor_bits"}
_COUNTS = {"n_dacs", "n_adcs", "write_lanes", "bytes_per_value"}
_NONNEG = {"dac_energy_j", "adc_energy_j", "link_energy_j_per_bit", "write_energy_j", "opamp_power_w",
           "resistor_power_w", "call_latency_s", "energy_per_flop_j"}

#: (unit, source) of every parameter. "paper" = the TNGD paper's timing model; the rest are
#: assumptions, stated with the reasoning behind the number.
SOURCES = {
    "tau_s": ("s", "paper: tau = R0 C0 = 1 kOhm x 1 nF = 1 us"),
    "dac_bits": ("bit", "paper: 16-bit DACs"),
    "dac_rate_sps": ("sample/s per DAC", "assumption: 16-bit DAC at 100 MS/s"),
    "n_dacs": ("", "assumption: 64 DAC channels multiplexed over the N inputs"),
    "dac_energy_j": ("J/conversion", "assumption: ~100 mW per 16-bit 100 MS/s channel -> 1 nJ"),
    "adc_bits": ("bit", "paper: 16-bit ADCs"),
    "adc_rate_sps": ("sample/s per ADC", "assumption: 16-bit ADC at 100 MS/s"),
    "n_adcs": ("", "assumption: 64 ADC channels behind per-node sample-and-hold"),
    "adc_energy_j": ("J/conversion", "assumption: ~100 mW per 16-bit 100 MS/s channel -> 1 nJ"),
    "resistor_bits": ("bit", "paper: 16-bit programmable resistors (one link word each)"),
    "link_bps": ("bit/s", "paper: 50 Gb/s host <-> device link"),
    "link_energy_j_per_bit": ("J/bit", "assumption: serial link ~5 pJ/bit"),
    "write_time_s": ("s per resistor per lane", "assumption: a resistor word latched like an SRAM write"),
    "write_lanes": ("", "assumption: 1024 resistor words written in parallel"),
    "write_energy_j": ("J/write", "assumption: latching one 16-bit word ~1 pJ"),
    "opamp_power_w": ("W", "assumption: integrated op-amp with GBW ~100/tau, 1 mW"),
    "resistor_power_w": ("W", "assumption: mean V^2/R ~ (0.1 V)^2 / 100 kOhm"),
    "flop_rate_fps": ("FLOP/s", "assumption: 25 % of an A100's 19.5 TFLOP/s FP32 peak (paper's GPU)"),
    "memory_bw_bps": ("byte/s", "assumption: 75 % of an A100 80 GB's ~2 TB/s HBM bandwidth"),
    "call_latency_s": ("s per sequential model call", "assumption: kernel launch + framework overhead"),
    "energy_per_flop_j": ("J/FLOP", "assumption: 400 W A100 board power / 4.9 TFLOP/s sustained"),
    "memory_bytes": ("byte", "A100 80 GB"),
    "bytes_per_value": ("byte", "FP32 on the host"),
}


def _validate(obj) -> None:
    for f in fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise CostError(f"{f.name} must be a number, got {v!r}")
        if not math.isfinite(v):
            raise CostError(f"{f.name} must be finite, got {v!r}")
        if f.name in _BITS:
            if v != int(v) or not 1 <= v <= 32:
                raise CostError(f"{f.name} must be an integer number of bits in 1..32, got {v!r}")
        elif f.name in _COUNTS:
            if v != int(v) or v < 1:
                raise CostError(f"{f.name} must be an integer >= 1, got {v!r}")
        elif f.name in _NONNEG:
            if v < 0:
                raise CostError(f"{f.name} must be >= 0, got {v!r}")
        elif v <= 0:
            raise CostError(f"{f.name} must be > 0, got {v!r}")


def params_table(hw: Hardware | None = None, host: Host | None = None) -> list:
    """[(name, value, unit, source)] for every parameter (defaults unless given)."""
    hw, host = hw or Hardware(), host or Host()
    rows = []
    for obj in (hw, host):
        for f in fields(obj):
            unit, src = SOURCES[f.name]
            default = f.default
            v = getattr(obj, f.name)
            rows.append((f.name, v, unit, src if v == default else f"set (default {default:g}: {src})"))
    return rows


def with_overrides(hw: Hardware | None = None, host: Host | None = None, **values):
    """(Hardware, Host) with the named fields replaced; values may be strings ('100e9', '1us' for
    times). Unknown names raise :class:`CostError` listing the valid ones."""
    hw, host = hw or Hardware(), host or Host()
    hk, ok = {}, {}
    hnames = {f.name: f for f in fields(Hardware)}
    onames = {f.name: f for f in fields(Host)}
    for k, v in values.items():
        if k in hnames:
            hk[k] = _coerce(k, v, hnames[k])
        elif k in onames:
            ok[k] = _coerce(k, v, onames[k])
        else:
            raise CostError(f"unknown cost parameter {k!r}; known: {', '.join(list(hnames) + list(onames))}")
    return replace(hw, **hk), replace(host, **ok)


def _coerce(name, v, f):
    if isinstance(v, str):
        s = v.strip()
        if name.endswith("_s"):
            from spucircuit._util.quantities import parse_time

            try:
                v = parse_time(s)
            except SPUError:
                raise CostError(f"{name}: cannot parse {v!r} as a time") from None
        else:
            try:
                v = float(s)
            except ValueError:
                raise CostError(f"{name}: cannot parse {v!r} as a number") from None
    if f.type in ("int", int) and isinstance(v, float) and v == int(v):
        v = int(v)
    return v


# ===================================================================================== results
@dataclass
class Cost:
    """One solve's or iteration's cost. ``time_s`` and ``energy_j`` are additive breakdowns
    (ordered phases / consumers): their sums are ``total_s`` and ``total_energy_j``."""

    kind: str
    time_s: dict
    energy_j: dict
    detail: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def total_s(self) -> float:
        return float(sum(self.time_s.values()))

    @property
    def total_energy_j(self) -> float:
        return float(sum(self.energy_j.values()))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "total_s": self.total_s, "total_energy_j": self.total_energy_j,
                "time_s": dict(self.time_s), "energy_j": dict(self.energy_j), "detail": _jsonable(self.detail),
                "notes": list(self.notes)}


def _jsonable(o):
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (float, np.floating)):
        return float(o) if math.isfinite(o) else None
    return o


# ===================================================================================== device load
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
        return _jsonable(asdict(self))


def _pos_int(name, v) -> int:
    try:
        iv = int(v)
    except (TypeError, ValueError):
        raise CostError(f"{name} must be a positive integer, got {v!r}") from None
    if isinstance(v, bool) or iv != v or iv < 1:
        raise CostError(f"{name} must be a positive integer, got {v!r}")
    return iv


def integrator_load(n: int) -> DeviceLoad:
    """Dense signed n x n integrator array (worst case: every column has an inverting buffer)."""
    n = _pos_int("n", n)
    return DeviceLoad("integrator_array", n_state=n, n_dac=n, words=n * (n + 1) // 2, writes=n * n + n,
                      resistors=n * n + n + 2 * n, opamps=2 * n, capacitors=n)


def factored_load(N: int, b: int, dz: int, upload: str = "factor") -> DeviceLoad:
    """Factored TNGD circuit (App. C) for N parameters, batch b, dz outputs. ``upload='factor'``:
    the arrays hold Ut = R^T J / sqrt(b) and a fixed identity H array (as ``tngd.train`` uploads);
    ``'jacobian'``: J and the b dz x dz Hessian blocks, rewritten every iteration."""
    N, b, dz = _pos_int("N", N), _pos_int("b", b), _pos_int("dz", dz)
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


_COUPLING = re.compile(r"^R(\d+)_(\d+)$", re.IGNORECASE)
_FACTORED_NODES = ("x0", "a0", "y0", "c0", "w0")


def device_load(circuit, *, b: int | None = None, dz: int | None = None) -> DeviceLoad:
    """Count what a circuit needs per solve / iteration.

    Accepts a :class:`~spucircuit.mapping.MappedCircuit`, a
    :class:`~spucircuit.factored.FactoredCircuit` or its ``FactoredComponents``, a
    :class:`~spucircuit.netlist.Netlist`, or a path to a SPICE netlist written by spucircuit.
    Integrator arrays: the coupling resistors R<i>_<j> and the input resistors are rewritten per
    solve (buffers, capacitors fixed). Factored circuits: the J and J^T arrays, the H array
    unless it is a constant identity, and the input resistors (lambda, feedback and buffer
    resistors fixed). Any other netlist: every resistor and capacitor counts as programmable.
    """
    from spucircuit.circuit.factored_array import FactoredCircuit
    from spucircuit.circuit.factored_components import FactoredComponents, components_from_netlist
    from spucircuit.circuit.integrator_array import MappedCircuit
    from spucircuit.circuit.netlist import Netlist

    if isinstance(circuit, str) or hasattr(circuit, "__fspath__"):
        import os

        from spucircuit.io.spice import read_spice

        path = os.fspath(circuit)
        if not os.path.exists(path):
            raise CostError(f"netlist file not found: {path}")
        load = device_load(read_spice(path), b=b, dz=dz)
        return replace(load, source=f"netlist {path}")
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
                    "FactoredCircuit, FactoredComponents, Netlist or a netlist path")


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
        bb = _pos_int("b", b) if b is not None else m // _pos_int("dz", dz)
        dd = _pos_int("dz", dz) if dz is not None else m // bb
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
        mt = _COUPLING.match(nm)
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


# ===================================================================================== device phases
def _upload(hw: Hardware, words: int, dac_words: int, writes: int, dac_conv: int) -> dict:
    bits = words * hw.resistor_bits + dac_words * hw.dac_bits
    d = {"words_in": words + dac_words, "bits_in": bits, "writes": writes, "dac_conversions": dac_conv,
         "transfer_in_s": bits / hw.link_bps,
         "program_s": math.ceil(writes / hw.write_lanes) * hw.write_time_s if writes else 0.0,
         "dac_s": math.ceil(dac_conv / hw.n_dacs) / hw.dac_rate_sps if dac_conv else 0.0}
    parts = {"transfer": d["transfer_in_s"], "resistor writes": d["program_s"], "DAC": d["dac_s"]}
    d["upload_bound_by"] = max(parts, key=parts.get)
    return d


def _analog_energy(hw: Hardware, load: DeviceLoad, active_s: float) -> dict:
    return {"opamps": load.opamps * hw.opamp_power_w * active_s,
            "resistor_dissipation": load.resistors * hw.resistor_power_w * active_s}


def solve_cost(n: int | None = None, *, circuit=None, hw: Hardware | None = None, host: Host | None = None,
               task: str = "solve", samples: int | None = None, burn_in_tau: float = 20.0,
               sample_interval_tau: float = 2.0, lambda_min: float = 1.0) -> Cost:
    """Cost of one solve (time average) or inversion (covariance) on an integrator array.

    n (dense array of that size) or ``circuit`` (MappedCircuit, Netlist, netlist path or a
    :class:`DeviceLoad`; its tau replaces ``hw.tau_s``). ``samples`` (default 100 for solve,
    1000 for inv) snapshots, ``sample_interval_tau`` apart after ``burn_in_tau``, both in units of
    tau / lambda_min (lambda_min: smallest eigenvalue of A in tau units).
    """
    hw, host = hw or Hardware(), host or Host()
    if task not in ("solve", "inv"):
        raise CostError(f"task must be 'solve' or 'inv', got {task!r}")
    load = _load(n, circuit, "n", lambda: integrator_load(n))
    if load.architecture == "factored":
        raise CostError("this is a factored TNGD circuit: use tngd_iteration_cost")
    samples = (100 if task == "solve" else 1000) if samples is None else _pos_int("samples", samples)
    for nm, v in (("burn_in_tau", burn_in_tau), ("sample_interval_tau", sample_interval_tau)):
        if not (math.isfinite(v) and v >= 0):
            raise CostError(f"{nm} must be finite and >= 0, got {v!r}")
    if not (math.isfinite(lambda_min) and lambda_min > 0):
        raise CostError(f"lambda_min must be finite and > 0, got {lambda_min!r}")
    tau = load.tau_s or hw.tau_s
    ns = load.n_state
    dac = load.n_dac if task == "solve" else 0
    writes = load.writes if task == "solve" else load.writes - _input_writes(load)
    up = _upload(hw, load.words, dac, writes, dac)
    relax = tau / lambda_min
    snap_conv = math.ceil(ns / hw.n_adcs) / hw.adc_rate_sps
    snap_tx = ns * hw.adc_bits / hw.link_bps
    interval = max(sample_interval_tau * relax, snap_conv, snap_tx)
    burn = burn_in_tau * relax
    analog = burn + samples * interval
    readout = max(snap_conv, snap_tx)
    red_flops = samples * (ns if task == "solve" else ns * ns)
    host_post = red_flops / host.flop_rate_fps
    upload = max(up["transfer_in_s"], up["program_s"], up["dac_s"])
    time_s = {"host_pre": 0.0, "upload": upload, "analog": analog, "readout": readout, "host_post": host_post}
    adc_conv = samples * ns
    bits_out = adc_conv * hw.adc_bits
    active = analog + readout
    energy = {"host": red_flops * host.energy_per_flop_j,
              "link": (up["bits_in"] + bits_out) * hw.link_energy_j_per_bit,
              "resistor_writes": writes * hw.write_energy_j, "dac": dac * hw.dac_energy_j,
              "adc": adc_conv * hw.adc_energy_j, **_analog_energy(hw, load, active)}
    detail = {"task": task, "n": ns, "tau_s": tau, "tau_source": "circuit" if load.tau_s else "Hardware.tau_s",
              "samples": samples, "burn_in_s": burn, "sample_interval_s": interval,
              "sampling_bound_by": "analog" if interval == sample_interval_tau * relax else
              ("ADC" if snap_conv >= snap_tx else "link"),
              **up, "adc_conversions": adc_conv, "bits_out": bits_out, "snapshot_adc_s": snap_conv,
              "snapshot_transfer_s": snap_tx, "host_flops": red_flops, "analog_active_s": active,
              "load": load.to_dict()}
    notes = ["total = host_pre + upload + analog + readout + host_post (sequential phases)",
             "upload = max(transfer, resistor writes, DAC): streamed, overlapping",
             "snapshots are converted and sent during the next interval; readout = the last one's tail"]
    return Cost(task, time_s, energy, detail, notes)


def _input_writes(load: DeviceLoad) -> int:
    """Input resistors among the writes (they follow b; an inversion has no right-hand side)."""
    return min(load.n_dac, load.writes) if load.architecture == "integrator_array" else 0


def _load(size, circuit, what, make) -> DeviceLoad:
    if circuit is None and size is None:
        raise CostError(f"give the size ({what}) or a circuit")
    if circuit is not None:
        return circuit if isinstance(circuit, DeviceLoad) else device_load(circuit)
    return make()


# ===================================================================================== digital work
METHODS = ("sgd", "adam", "ngd", "ngd-cg", "ngd-woodbury")
PHASES = ("gradient", "curvature", "solve", "update")
LABELS = {"sgd": "SGD", "adam": "Adam", "ngd": "NGD (dense)", "ngd-cg": "NGD-CG", "ngd-woodbury": "NGD-Woodbury",
          "tngd": "TNGD"}


def digital_work(method: str, N: int, b: int, dz: int, *, cg_iters: int = 10, flops_per_param: float = 2.0) -> dict:
    """Per-iteration work of a digital optimizer (or of TNGD's host part, ``method='tngd'``).

    Returns {'flops': {phase: FLOP}, 'values': {phase: values moved to or from memory},
    'calls': sequential model calls / kernels, 'memory_values': values held}, phases
    gradient, curvature, solve, update. ``flops_per_param``: forward FLOPs per parameter per
    example (2 for dense layers; more for convolutions, whose weights are reused across
    positions); backward = 2 x forward. Memory traffic counts parameter-sized arrays and the
    m x N, N x N, m x m matrices (activations are ignored).
    """
    N, b, dz = _pos_int("N", N), _pos_int("b", b), _pos_int("dz", dz)
    c = _pos_int("cg_iters", cg_iters)
    if not (math.isfinite(flops_per_param) and flops_per_param > 0):
        raise CostError(f"flops_per_param must be finite and > 0, got {flops_per_param!r}")
    m = b * dz
    fwd = flops_per_param * b * N
    bwd = 2 * fwd
    jac = dz * bwd  # reverse mode, dz cotangents per example (the forward pass is shared)
    fl = {"gradient": fwd + bwd, "curvature": 0.0, "solve": 0.0, "update": 2.0 * N}
    mv = {"gradient": 3.0 * N, "curvature": 0.0, "solve": 0.0, "update": 3.0 * N}
    if method == "sgd":
        calls, held = 3, 2 * N
    elif method == "adam":
        fl["update"], mv["update"] = 10.0 * N, 7.0 * N
        calls, held = 3, 4 * N
    elif method == "ngd":  # Ut, F = Ut^T Ut (syrk), Cholesky, two triangular solves
        fl["curvature"], mv["curvature"] = jac + float(m) * N * N, 2.0 * m * N + float(N) * N
        fl["solve"], mv["solve"] = N ** 3 / 3.0 + 2.0 * N * N, 3.0 * N * N
        calls, held = 7, N * N + m * N
    elif method == "ngd-cg":  # per iteration: JVP (2 x forward), H blocks, VJP, CG vector updates
        fl["solve"] = c * (2 * fwd + bwd + 2.0 * b * dz * dz + 10.0 * N)
        mv["solve"] = c * 15.0 * N
        calls, held = 3 + 2 * c, 6 * N
    elif method == "ngd-woodbury":  # J, Gram J J^T (syrk), m x m Cholesky, two m x N products
        fl["curvature"], mv["curvature"] = jac, float(m) * N
        fl["solve"] = float(m) * m * N + m ** 3 / 3.0 + 2.0 * dz * m * m + 4.0 * m * N
        mv["solve"] = 3.0 * m * N + 2.0 * m * m
        calls, held = 7, m * N + m * m
    elif method == "tngd":  # gradient, factor Ut (R blocks: 2 b dz^2) written and read by the link DMA
        fl["curvature"], mv["curvature"] = jac + 2.0 * b * dz * dz, 2.0 * m * N
        calls, held = 4, m * N + 2 * N
    else:
        raise CostError(f"unknown method {method!r}: use one of {', '.join(METHODS + ('tngd',))}")
    return {"flops": fl, "values": mv, "calls": calls, "memory_values": held}


def _host_phase_s(host: Host, work: dict, phase: str) -> float:
    """FLOPs at the sustained rate plus memory traffic at the sustained bandwidth (not overlapped:
    a pessimistic roofline)."""
    return (work["flops"][phase] / host.flop_rate_fps
            + work["values"][phase] * host.bytes_per_value / host.memory_bw_bps)


def digital_iteration_cost(method: str, N: int, b: int, dz: int, *, host: Host | None = None,
                           cg_iters: int = 10, flops_per_param: float = 2.0,
                           measured_s: float | None = None) -> Cost:
    """Estimated (or, with ``measured_s``, measured) time and energy of one digital iteration.
    Time phases: gradient, curvature, solve, update (FLOPs / rate + traffic / bandwidth) and
    call_latency (sequential model calls x latency)."""
    host = host or Host()
    if method == "tngd":
        raise CostError("TNGD runs on the SPU: use tngd_iteration_cost")
    w = digital_work(method, N, b, dz, cg_iters=cg_iters, flops_per_param=flops_per_param)
    flops = sum(w["flops"].values())
    est = {ph: _host_phase_s(host, w, ph) for ph in PHASES}
    est["call_latency"] = w["calls"] * host.call_latency_s
    mem = w["memory_values"] * host.bytes_per_value
    detail = {"method": method, "N": int(N), "b": int(b), "dz": int(dz), "m": int(b) * int(dz), "flops": flops,
              "flops_by_phase": dict(w["flops"]), "memory_traffic_bytes": sum(w["values"].values()) * host.bytes_per_value,
              "calls": w["calls"], "memory_bytes": mem, "fits_in_memory": mem <= host.memory_bytes,
              "estimate_s": float(sum(est.values()))}
    if method == "ngd-cg":
        detail["cg_iters"] = int(cg_iters)
    notes = []
    if measured_s is not None:
        if not (math.isfinite(measured_s) and measured_s > 0):
            raise CostError(f"measured time must be finite and > 0 s, got {measured_s!r}")
        time_s = {"measured": float(measured_s)}
        notes.append("time: measured; energy: estimated from the FLOP count")
    else:
        time_s = est
    return Cost(method, time_s, {"host": flops * host.energy_per_flop_j}, detail, notes)


# ===================================================================================== TNGD
def tngd_iteration_cost(N: int | None = None, b: int | None = None, dz: int | None = None, *, circuit=None,
                        t_tau: float = 50.0, hw: Hardware | None = None, host: Host | None = None,
                        upload: str = "factor", host_time_s: float | None = None,
                        flops_per_param: float = 2.0) -> Cost:
    """Cost of one TNGD iteration on the factored circuit (see the module docstring for phases).

    Sizes N, b, dz, or ``circuit`` (FactoredCircuit / components / netlist / path / DeviceLoad;
    b and dz then default to the circuit's, and its tau replaces ``hw.tau_s``). ``t_tau``:
    analog time in tau (t = 0 is SGD). ``host_time_s``: a *measured* digital time per iteration
    (gradient + factor + update, e.g. from tngd.bench) instead of the FLOP estimate.
    """
    hw, host = hw or Hardware(), host or Host()
    if circuit is not None:
        load = circuit if isinstance(circuit, DeviceLoad) else device_load(circuit, b=b, dz=dz)
        if load.architecture != "factored":
            raise CostError(f"a TNGD iteration needs a factored circuit, got {load.architecture!r}")
        N, b, dz = load.N, load.b, load.dz
    else:
        if N is None or b is None or dz is None:
            raise CostError("give N, b and dz (or a factored circuit)")
        load = factored_load(N, b, dz, upload)
    if not (math.isfinite(t_tau) and t_tau >= 0):
        raise CostError(f"t_tau must be finite and >= 0, got {t_tau!r}")
    tau = load.tau_s or hw.tau_s
    w = digital_work("tngd", N, b, dz, flops_per_param=flops_per_param)
    pre = (_host_phase_s(host, w, "gradient") + _host_phase_s(host, w, "curvature")
           + (w["calls"] - 1) * host.call_latency_s)
    post = _host_phase_s(host, w, "update") + host.call_latency_s
    notes = ["total = host_pre + upload + analog + readout + host_post (sequential phases)",
             "upload = max(transfer, resistor writes, DAC) and readout = max(ADC, transfer): streamed, overlapping",
             "pipelined_total_s = max(host, device): host prepares the next batch while the device runs"]
    if host_time_s is not None:
        if not (math.isfinite(host_time_s) and host_time_s > 0):
            raise CostError(f"host_time_s must be finite and > 0, got {host_time_s!r}")
        pre, post = float(host_time_s), 0.0
        notes.append("host time: measured (all in host_pre); host energy: estimated from the FLOP count")
    up = _upload(hw, load.words, load.n_dac, load.writes, load.n_dac)
    adc_s = math.ceil(load.n_state / hw.n_adcs) / hw.adc_rate_sps
    bits_out = load.n_state * hw.adc_bits
    tx_out = bits_out / hw.link_bps
    upload_s = max(up["transfer_in_s"], up["program_s"], up["dac_s"])
    analog = t_tau * tau
    readout = max(adc_s, tx_out)
    time_s = {"host_pre": pre, "upload": upload_s, "analog": analog, "readout": readout, "host_post": post}
    active = analog + readout
    host_flops = sum(w["flops"].values())
    energy = {"host": host_flops * host.energy_per_flop_j,
              "link": (up["bits_in"] + bits_out) * hw.link_energy_j_per_bit,
              "resistor_writes": load.writes * hw.write_energy_j, "dac": load.n_dac * hw.dac_energy_j,
              "adc": load.n_state * hw.adc_energy_j, **_analog_energy(hw, load, active)}
    mem = w["memory_values"] * host.bytes_per_value
    detail = {"N": int(N), "b": int(b), "dz": int(dz), "m": int(b) * int(dz), "t_tau": float(t_tau), "tau_s": tau,
              "tau_source": "circuit" if load.tau_s else "Hardware.tau_s", "upload_mode": upload if circuit is None
              else ("factor" if load.h_fixed else "jacobian"), **up, "adc_conversions": load.n_state,
              "bits_out": bits_out, "adc_s": adc_s, "transfer_out_s": tx_out,
              "transfer_s": up["transfer_in_s"] + tx_out, "host_flops": host_flops, "host_calls": w["calls"],
              "host_s": pre + post, "device_s": upload_s + analog + readout,
              "pipelined_total_s": max(pre + post, upload_s + analog + readout), "analog_active_s": active,
              "memory_bytes": mem, "fits_in_memory": mem <= host.memory_bytes, "load": load.to_dict()}
    return Cost("tngd", time_s, energy, detail, notes)


def paper_timing_model(N: int, b: int, dz: int, *, t_tau: float = 50.0, digital_s: float = 0.0,
                       tau_s: float = 1e-6, bits: int = 16, link_bps: float = 50e9) -> float:
    """The simple estimate ``tngd.train`` uses: digital + t tau + bits (m N + 2 N) / link (s)."""
    m = _pos_int("b", b) * _pos_int("dz", dz)
    N = _pos_int("N", N)
    return float(digital_s) + t_tau * tau_s + bits * (m * N + 2 * N) / link_bps


# ===================================================================================== comparisons
def compare_iteration(N: int, b: int, dz: int, *, t_tau: float = 50.0, cg_iters: int = 10,
                      hw: Hardware | None = None, host: Host | None = None, upload: str = "factor",
                      methods=("ngd", "ngd-cg", "ngd-woodbury", "adam"), measured: dict | None = None,
                      flops_per_param: float = 2.0) -> dict:
    """{'tngd': Cost, method: Cost, ...} at one size. ``measured``: {method: seconds} measured
    digital times per iteration (for 'tngd': its host part) used instead of the estimates."""
    measured = measured or {}
    out = {"tngd": tngd_iteration_cost(N, b, dz, t_tau=t_tau, hw=hw, host=host, upload=upload,
                                       host_time_s=measured.get("tngd"), flops_per_param=flops_per_param)}
    for mt in methods:
        out[mt] = digital_iteration_cost(mt, N, b, dz, host=host, cg_iters=cg_iters, flops_per_param=flops_per_param,
                                         measured_s=measured.get(mt))
    return out


def measured_digital_s(row: dict) -> float:
    """The measured *digital* seconds per iteration of a :mod:`tngd.bench` row: for TNGD rows the
    host part only (gradient + curvature + update; the device simulation is not hardware time)."""
    if "digital_s" in row:
        return float(row["digital_s"])
    if str(row.get("optimizer", "")).startswith("tngd") and "grad_s" in row:
        return float(row["grad_s"] + row.get("curvature_s", 0.0) + row.get("update_s", 0.0))
    return float(row["seconds"])


def bench_rows(rows, b: int, dz: int | None = None) -> list:
    """Normalise tngd.bench rows to [{'method', 'N', 'b', 'dz', 'seconds'}] (digital seconds;
    TNGD-Adam counted as TNGD, the twin cases skipped). dz from the row's m when it has one."""
    out = []
    for r in rows:
        opt = str(r.get("optimizer", ""))
        case = str(r.get("case", opt))
        if "twin" in case:
            continue
        method = "tngd" if opt.startswith("tngd") else opt
        if method not in METHODS + ("tngd",):
            continue
        d = int(r["m"]) // int(b) if "m" in r else dz
        if d is None:
            raise CostError("bench rows without 'm' need dz")
        out.append({"method": method, "N": int(r["N"]), "b": int(b), "dz": int(d), "seconds": measured_digital_s(r)})
    return out


def calibrate_host(rows, *, cg_iters: int = 10, base: Host | None = None, flops_per_param: float = 2.0) -> Host:
    """Fit the host's FLOP rate, memory bandwidth and per-call latency to measured digital times
    (rows of :func:`bench_rows`, TNGD rows = its host part): non-negative least squares of
    seconds = FLOPs / rate + bytes / bandwidth + calls x latency, each row weighted by 1 / seconds
    (relative error). A bandwidth the data cannot resolve (coefficient 0) keeps ``base``'s;
    energy per FLOP and memory size stay ``base``'s."""
    from scipy.optimize import nnls

    base = base or Host()
    X = []
    for r in rows:
        w = digital_work(r["method"], r["N"], r["b"], r["dz"], cg_iters=cg_iters, flops_per_param=flops_per_param)
        s = float(r["seconds"])
        if not (math.isfinite(s) and s > 0):
            raise CostError(f"measured seconds must be finite and > 0, got {r['seconds']!r}")
        X.append([sum(w["flops"].values()) / s, sum(w["values"].values()) * base.bytes_per_value / s,
                  w["calls"] / s])
    if len(X) < 3:
        raise CostError("calibrate_host needs at least three measured rows")
    coef, _ = nnls(np.asarray(X), np.ones(len(X)))
    if coef[0] <= 0:
        raise CostError("the measured times do not grow with the FLOP count: cannot fit a FLOP rate")
    bw = float(1.0 / coef[1]) if coef[1] > 0 else base.memory_bw_bps
    return replace(base, flop_rate_fps=float(1.0 / coef[0]), memory_bw_bps=bw, call_latency_s=float(coef[2]))


def fig2_sweep(N_values, dz_values, *, b: int = 64, dz: int = 20, N: int = 100_000, t_tau: float = 50.0,
               cg_iters: int = 10, hw: Hardware | None = None, host: Host | None = None, upload: str = "factor",
               methods=("ngd", "ngd-cg", "ngd-woodbury", "tngd", "adam")) -> dict:
    """Fig. 2 of the paper from the model: time and energy per iteration (a) against N at fixed
    dz, (b) against dz at fixed N. Returns plain lists (JSON-ready)."""
    def one(n_, dz_):
        out = {}
        for mt in methods:
            if mt == "tngd":
                c = tngd_iteration_cost(n_, b, dz_, t_tau=t_tau, hw=hw, host=host, upload=upload)
            else:
                c = digital_iteration_cost(mt, n_, b, dz_, host=host, cg_iters=cg_iters)
            out[mt] = c
        return out

    def panel(xs, key):
        res = {"time_s": {mt: [] for mt in methods}, "energy_j": {mt: [] for mt in methods},
               "fits_in_memory": {mt: [] for mt in methods}}
        for x in xs:
            cs = one(int(x), dz) if key == "N" else one(N, int(x))
            for mt, c in cs.items():
                res["time_s"][mt].append(c.total_s)
                res["energy_j"][mt].append(c.total_energy_j)
                res["fits_in_memory"][mt].append(bool(c.detail.get("fits_in_memory", True)))
        return res
    Ns = [int(v) for v in N_values]
    dzs = [int(v) for v in dz_values]
    return {"b": int(b), "t_tau": float(t_tau), "cg_iters": int(cg_iters), "upload": upload,
            "vs_N": {"N": Ns, "dz": int(dz), **panel(Ns, "N")},
            "vs_dz": {"dz": dzs, "N": int(N), **panel(dzs, "dz")}}


_COLORS = {"ngd": "C0", "ngd-cg": "C1", "ngd-woodbury": "C2", "tngd": "C3", "adam": "0.5", "sgd": "0.7"}


def plot_fig2(sweep: dict, path, *, measured: dict | None = None, overlay: dict | None = None,
              overlay_label: str = "model, host fitted to the measurements", measured_label: str = "measured",
              panel_notes: dict | None = None, title: str | None = None) -> None:
    """Three panels: time per iteration vs N (dz fixed), vs dz (N fixed), energy vs N. Solid:
    the model (dotted where the host memory is exceeded). ``measured``: {'vs_N': rows,
    'vs_dz': rows} of {'method', 'N', 'dz', 'seconds'} as markers; ``overlay``: a second sweep
    (e.g. with :func:`calibrate_host`'s host at the measured sizes), dashed. ``panel_notes``:
    {'vs_N' | 'vs_dz': text} written in the corner of the time panels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from spucircuit._util.files import atomic_write_bytes

    fig = Figure(figsize=(15, 6.2))
    FigureCanvasAgg(fig)
    axs = fig.subplots(1, 3)
    panels = [("vs_N", "N", "time_s", axs[0], f"(a) runtime per iteration, dz = {sweep['vs_N']['dz']}, b = {sweep['b']}"),
              ("vs_dz", "dz", "time_s", axs[1], f"(b) runtime per iteration, N = {sweep['vs_dz']['N']:.3g}, b = {sweep['b']}"),
              ("vs_N", "N", "energy_j", axs[2], f"(c) energy per iteration, dz = {sweep['vs_N']['dz']}")]
    for key, xk, qk, ax, ttl in panels:
        p = sweep[key]
        xs = np.asarray(p[xk], float)
        for mt, ys in p[qk].items():
            ys = np.asarray(ys, float)
            ok = np.asarray(p["fits_in_memory"][mt], bool)
            lab = LABELS.get(mt, mt) + (" (estimated SPU)" if mt == "tngd" else " (model)")
            ax.loglog(xs, np.where(ok, ys, np.nan), "-", color=_COLORS.get(mt), lw=2, label=lab)
            if not ok.all():
                ax.loglog(xs, np.where(~ok | np.roll(~ok, -1), ys, np.nan), ":", color=_COLORS.get(mt), lw=1.5)
        if overlay is not None and qk == "time_s":
            po = overlay[key]
            for mt, ys in po[qk].items():
                ax.loglog(po[xk], ys, "--", color=_COLORS.get(mt), lw=1,
                          label=f"{LABELS.get(mt, mt)} ({overlay_label})")
        if measured is not None and qk == "time_s":
            for mt in _COLORS:
                rs = [r for r in measured.get(key, []) if r["method"] == mt]
                if rs:
                    ax.loglog([r[xk] for r in rs], [r["seconds"] for r in rs], "o", color=_COLORS.get(mt), ms=6,
                              mec="k", label=f"{LABELS.get(mt, mt)} ({measured_label}"
                              + ("; host part, + modelled SPU)" if mt == "tngd" else ")"))
        note = (panel_notes or {}).get(key) if qk == "time_s" else None
        if note:
            ax.text(0.02, 0.98, note, transform=ax.transAxes, ha="left", va="top", fontsize=7.5, color="0.25")
        cap = 1e4 if qk == "time_s" else 1e6  # dense NGD's N^3 would squash the rest
        lo, hi = ax.get_ylim()
        if hi > cap:
            ax.set_ylim(lo, cap)
        ax.set_xlabel("number of parameters N" if xk == "N" else "output dimension dz")
        ax.set_ylabel("seconds per iteration" if qk == "time_s" else "joules per iteration")
        ax.set_title(ttl, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axs[0].get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    for h_, l_ in zip(*axs[1].get_legend_handles_labels()):
        seen.setdefault(l_, h_)
    ncol = 3 if len(seen) > 5 else len(seen)
    fig.legend(list(seen.values()), list(seen.keys()), loc="lower center", ncol=ncol, fontsize=7.5, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    rows_ = math.ceil(len(seen) / ncol)
    fig.tight_layout(rect=(0, 0.035 * rows_ + 0.02, 1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    atomic_write_bytes(path, buf.getvalue())


# ===================================================================================== text
def _si(x: float, unit: str) -> str:
    if x == 0:
        return f"0 {unit}"
    for f, p in ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"),
                 (1e-12, "p")):
        if abs(x) >= f:
            return f"{x / f:.4g} {p}{unit}"
    return f"{x:.3g} {unit}"


def format_cost(cost: Cost) -> str:
    """A table of one cost: time phases and energy consumers with their shares."""
    per = cost.kind if cost.kind in ("solve", "inv") else "iteration"
    lines = [f"{cost.kind}: {_si(cost.total_s, 's')} per {per}, {_si(cost.total_energy_j, 'J')}"]
    lines.append(f"  {'time phase':<22}{'time':>14}{'share':>8}")
    for k, v in cost.time_s.items():
        lines.append(f"  {k:<22}{_si(v, 's'):>14}{100 * v / cost.total_s if cost.total_s else 0:7.1f}%")
    lines.append(f"  {'energy':<22}{'':>14}")
    te = cost.total_energy_j
    for k, v in cost.energy_j.items():
        lines.append(f"  {k:<22}{_si(v, 'J'):>14}{100 * v / te if te else 0:7.1f}%")
    d = cost.detail
    if "transfer_in_s" in d:
        lines.append(f"  upload: transfer {_si(d['transfer_in_s'], 's')}, resistor writes {_si(d['program_s'], 's')} "
                     f"({d['writes']} writes), DAC {_si(d['dac_s'], 's')} -> bound by {d['upload_bound_by']}")
    if "pipelined_total_s" in d:
        lines.append(f"  pipelined (host || device): {_si(d['pipelined_total_s'], 's')}; tau = {_si(d['tau_s'], 's')} "
                     f"({d['tau_source']})")
    elif "tau_s" in d:
        lines.append(f"  tau = {_si(d['tau_s'], 's')} ({d['tau_source']}), {d['samples']} samples, "
                     f"sampling bound by {d['sampling_bound_by']}")
    return "\n".join(lines)


def format_comparison(costs: dict) -> str:
    """Time and energy per iteration of every method, with the ratio to TNGD."""
    ref = costs.get("tngd")
    lines = [f"  {'method':<16}{'time/iter':>14}{'energy/iter':>14}{'time / TNGD':>13}{'memory':>10}  source"]
    for mt, c in costs.items():
        ratio = f"{c.total_s / ref.total_s:12.3g}x" if ref is not None else ""
        mem = c.detail.get("memory_bytes")
        fits = "" if mem is None else (_si(mem, "B") if c.detail.get("fits_in_memory", True) else "> host")
        src = "measured" if "measured" in c.time_s or any("measured" in n for n in c.notes) else "model"
        lines.append(f"  {LABELS.get(mt, mt):<16}{_si(c.total_s, 's'):>14}{_si(c.total_energy_j, 'J'):>14}{ratio:>13}"
                     f"{fits:>10}  {src}")
    return "\n".join(lines)


def to_json(obj) -> str:
    """Strict JSON (NaN / inf -> null) of costs, sweeps and plain data."""
    def conv(o):
        if isinstance(o, Cost):
            return o.to_dict()
        if isinstance(o, DeviceLoad):
            return o.to_dict()
        if isinstance(o, (Hardware, Host)):
            return asdict(o)
        if isinstance(o, dict):
            return {str(k): conv(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [conv(v) for v in o]
        return _jsonable(o)
    return json.dumps(conv(obj), indent=1, allow_nan=False)
