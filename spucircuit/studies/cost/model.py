"""Hardware runtime and energy model: one SPU solve / inversion, one TNGD iteration, and the
digital references (dense NGD, NGD-CG, NGD-Woodbury, Adam, SGD) it is compared with.

Everything is a plain dataclass plus pure functions; SI units in every name (s, J, W, bit/s,
samples/s, FLOP/s). The defaults are the TNGD paper's timing model where it gives a value
(tau = R0 C0 = 1 us, 16-bit DACs / ADCs / programmable resistors, a 50 Gb/s link) and labelled
*assumptions* elsewhere: :data:`~spucircuit.studies.cost.params.SOURCES` says which is which,
``spu cost params`` prints it. This module holds the model; its parameters are in
:mod:`~spucircuit.studies.cost.params`, the device counts in :mod:`~spucircuit.studies.cost.load`,
tables and plots at the edge (:mod:`spucircuit.report.cost_tables`, :mod:`~spucircuit.report.cost_plots`).

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
the slowest relaxation time; defaults 20 and 100 x 2 match :func:`spucircuit.linalg.solve.solve`'s
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
+ m^2 N (J J^T) + m^3/3 + 4 m N; Adam 10 N update. Measured per-iteration times (normalised rows
:data:`MEASURED_KEYS`, e.g. from ``python -m tngd.bench --cost-json``) can stand in for
the estimates (``measured_s`` / ``host_time_s``), and :func:`calibrate_host` fits the host's FLOP
rate, memory bandwidth and call latency to them.
Host time of every phase = FLOPs / rate + bytes / bandwidth (not overlapped: pessimistic).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from spucircuit._util.jsonable import to_jsonable
from spucircuit.errors import CostError
from spucircuit.studies.cost.load import DeviceLoad, device_load, factored_load, integrator_load
from spucircuit.studies.cost.params import Hardware, Host, positive_int


# ===================================================================================== results
@dataclass
class Cost:
    """One solve's or iteration's cost. ``time_s`` and ``energy_j`` are additive breakdowns
    (ordered phases / consumers): their sums are ``total_s`` and ``total_energy_j``.

    Attributes:
        kind: ``'solve'``, ``'inv'``, ``'tngd'`` or a digital method name.
        time_s: {phase: seconds}, in order.
        energy_j: {consumer: joules}.
        detail: the counts and intermediate times behind the totals.
        notes: how the totals are formed (overlaps, measured parts).
    """

    kind: str
    time_s: dict
    energy_j: dict
    detail: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def total_s(self) -> float:
        """Sum of the time phases (s)."""
        return float(sum(self.time_s.values()))

    @property
    def total_energy_j(self) -> float:
        """Sum of the energy consumers (J)."""
        return float(sum(self.energy_j.values()))

    def to_dict(self) -> dict:
        """Strict-JSON data: kind, totals, both breakdowns, detail and notes."""
        return {"kind": self.kind, "total_s": self.total_s, "total_energy_j": self.total_energy_j,
                "time_s": dict(self.time_s), "energy_j": dict(self.energy_j), "detail": to_jsonable(self.detail),
                "notes": list(self.notes)}


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


RANGING_PASSES = 2  # autorange's passes before the solve (a pass at the bound, one at the measured range)
RANGING_WINDOW_TAU = 5.0  # a ranging pass reads this long after its burn-in (tau / lambda_min units)


def solve_cost(n: int | None = None, *, circuit=None, hw: Hardware | None = None, host: Host | None = None,
               task: str = "solve", samples: int | None = None, burn_in_tau: float = 20.0,
               sample_interval_tau: float = 2.0, lambda_min: float = 1.0,
               ranging_passes: int | None = None) -> Cost:
    """Cost of one solve (time average) or inversion (covariance) on an integrator array.

    total = upload + analog + readout + host, with upload = max(transfer, resistor writes, DAC),
    analog = burn-in + samples x max(interval, snapshot conversion, snapshot transfer) and the
    host's reduction n (solve) or n^2 (inv) FLOP per sample (see the module docstring).

    Args:
        n: size of a dense array (when no ``circuit``).
        circuit: a MappedCircuit, Netlist or :class:`DeviceLoad` (its tau replaces ``hw.tau_s``).
        hw, host: the parameters (defaults when None).
        task: ``'solve'`` (time average, b uploaded) or ``'inv'`` (covariance, no b).
        samples: snapshots (default 100 for solve, 1000 for inv).
        burn_in_tau, sample_interval_tau: in units of tau / lambda_min.
        lambda_min: smallest eigenvalue of A in tau units (what the run is planned with: a device
            uses its bound max_i A_ii / kappa_max).
        ranging_passes: auto-ranging passes before a solve (default :data:`RANGING_PASSES`; 0 for a
            device that knows its scale, ``inv`` never ranges): each rewrites the n input DAC levels
            and input resistors, burns in and reads a short window (``ranging`` phase).

    Returns:
        The :class:`Cost` (kind = task).

    Raises:
        CostError: bad sizes or options, or a factored circuit (use :func:`tngd_iteration_cost`).
    """
    hw, host = hw or Hardware(), host or Host()
    if task not in ("solve", "inv"):
        raise CostError(f"task must be 'solve' or 'inv', got {task!r}")
    load = _load(n, circuit, "n", lambda: integrator_load(n))
    if load.architecture == "factored":
        raise CostError("this is a factored TNGD circuit: use tngd_iteration_cost")
    samples = (100 if task == "solve" else 1000) if samples is None else positive_int("samples", samples)
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
    # auto-ranging (solve): each pass rewrites the inputs (DAC levels and input resistors follow
    # v_unit), burns in and reads a short window; its conversions go out like the solve's
    passes = (RANGING_PASSES if ranging_passes is None else int(ranging_passes)) if task == "solve" else 0
    if passes < 0:
        raise CostError(f"ranging_passes must be >= 0, got {ranging_passes!r}")
    r_snaps = max(1, math.ceil(RANGING_WINDOW_TAU / max(sample_interval_tau, 1e-300)))
    r_up = _upload(hw, _input_writes(load), dac, _input_writes(load), dac)
    r_pass = (max(r_up["transfer_in_s"], r_up["program_s"], r_up["dac_s"]) + burn + r_snaps * interval + readout)
    ranging = passes * r_pass
    r_conv, r_writes, r_dac = passes * r_snaps * ns, passes * _input_writes(load), passes * dac
    time_s = {"host_pre": 0.0, "upload": upload, "ranging": ranging, "analog": analog, "readout": readout,
              "host_post": host_post}
    adc_conv = samples * ns + r_conv
    bits_out = adc_conv * hw.adc_bits
    active = analog + readout + ranging
    energy = {"host": red_flops * host.energy_per_flop_j,
              "link": (up["bits_in"] + passes * r_up["bits_in"] + bits_out) * hw.link_energy_j_per_bit,
              "resistor_writes": (writes + r_writes) * hw.write_energy_j, "dac": (dac + r_dac) * hw.dac_energy_j,
              "adc": adc_conv * hw.adc_energy_j, **_analog_energy(hw, load, active)}
    detail = {"task": task, "n": ns, "tau_s": tau, "tau_source": "circuit" if load.tau_s else "Hardware.tau_s",
              "samples": samples, "burn_in_s": burn, "sample_interval_s": interval,
              "sampling_bound_by": "analog" if interval == sample_interval_tau * relax else
              ("ADC" if snap_conv >= snap_tx else "link"),
              **up, "adc_conversions": adc_conv, "bits_out": bits_out, "snapshot_adc_s": snap_conv,
              "snapshot_transfer_s": snap_tx, "host_flops": red_flops, "analog_active_s": active,
              "ranging_passes": passes, "ranging_pass_s": r_pass if passes else 0.0,
              "ranging_writes": r_writes, "ranging_dac_conversions": r_dac, "ranging_adc_conversions": r_conv,
              "load": load.to_dict()}
    notes = ["total = host_pre + upload + ranging + analog + readout + host_post (sequential phases)",
             f"ranging: {passes} auto-ranging pass(es), each = input rewrite + burn-in + "
             f"{RANGING_WINDOW_TAU:g} tau / lambda_min window + a read-out",
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

    FLOPs per phase (module docstring): gradient 3 f b N (f = ``flops_per_param``: forward f b N,
    backward 2 f b N); dense NGD + J and m N^2 (F) + N^3 / 3 + 2 N^2; NGD-CG c (JVP + VJP +
    H blocks + 10 N); NGD-Woodbury + J and m^2 N + m^3 / 3 + 2 dz m^2 + 4 m N; TNGD + J and the
    R blocks; update 2 N (10 N for Adam). Memory traffic counts parameter-sized arrays and the
    m x N, N x N, m x m matrices (activations are ignored).

    Args:
        method: one of :data:`METHODS` or ``'tngd'``.
        N, b, dz: parameters, batch, outputs (m = b dz).
        cg_iters: NGD-CG iterations c.
        flops_per_param: forward FLOPs per parameter per example (2 for dense layers; more for
            convolutions, whose weights are reused across positions).

    Returns:
        ``{'flops': {phase: FLOP}, 'values': {phase: values moved to or from memory},
        'calls': sequential model calls / kernels, 'memory_values': values held}``, phases
        gradient, curvature, solve, update.

    Raises:
        CostError: an unknown method or a bad size.
    """
    N, b, dz = positive_int("N", N), positive_int("b", b), positive_int("dz", dz)
    c = positive_int("cg_iters", cg_iters)
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

    Time per phase = FLOPs / rate + traffic / bandwidth (:func:`digital_work`), plus
    call_latency = sequential calls x latency; energy = FLOPs x energy per FLOP.

    Args:
        method: one of :data:`METHODS`.
        N, b, dz: parameters, batch, outputs.
        host: the host (default :class:`Host`).
        cg_iters, flops_per_param: as :func:`digital_work`.
        measured_s: a measured time per iteration that replaces the estimate (energy stays
            estimated).

    Returns:
        The :class:`Cost` (kind = method); ``detail['estimate_s']`` keeps the estimate.

    Raises:
        CostError: ``'tngd'`` (use :func:`tngd_iteration_cost`), bad sizes or a bad measured time.
    """
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

    total = host_pre + upload + analog + readout + host_post, with upload = max(16 (m N + N) /
    link, ceil((2 m N + N) / lanes) write time, DAC), analog = t tau, readout = max(ADC, 16 N /
    link) at the default 16-bit words; ``detail['device_s']`` = upload + analog + readout.

    Args:
        N, b, dz: parameters, batch, outputs; or
        circuit: a FactoredCircuit, its components, a Netlist or a :class:`DeviceLoad` (b and dz
            then default to the circuit's, and its tau replaces ``hw.tau_s``).
        t_tau: analog time in tau (t = 0 is SGD).
        hw, host: the parameters (defaults when None).
        upload: ``'factor'`` or ``'jacobian'`` (:func:`~spucircuit.studies.cost.load.factored_load`).
        host_time_s: a *measured* digital time per iteration (gradient + factor + update) instead
            of the FLOP estimate (all in host_pre).
        flops_per_param: as :func:`digital_work`.

    Returns:
        The :class:`Cost` (kind ``'tngd'``).

    Raises:
        CostError: missing sizes, a circuit that is not factored, or a bad option.
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


def tngd_runtime_s(N: int, b: int, dz: int, *, t_tau: float = 50.0, digital_s: float = 0.0,
                   hw: Hardware | None = None, host: Host | None = None, upload: str = "factor") -> float:
    """Seconds of one TNGD iteration whose digital part was measured: digital_s + the device's
    upload + analog + readout (:func:`tngd_iteration_cost`'s ``detail['device_s']``).

    The one hardware-time formula tngd uses (``tngd.train``'s default ``runtime_model``, the
    ``hw_analog_s`` of ``tngd.bench`` rows with digital_s = 0). Cost O(1).

    Args:
        N, b, dz: parameters, batch, outputs.
        t_tau: analog time in tau.
        digital_s: measured host time of the iteration (gradient, factor, update), s.
        hw, host: the parameters (defaults when None).
        upload: ``'factor'`` or ``'jacobian'``.

    Returns:
        Seconds (sequential: host, then upload, analog, readout).

    Raises:
        CostError: bad sizes or options.
    """
    c = tngd_iteration_cost(N, b, dz, t_tau=t_tau, hw=hw, host=host, upload=upload)
    return float(digital_s) + c.detail["device_s"]


def paper_timing_model(N: int, b: int, dz: int, *, t_tau: float = 50.0, digital_s: float = 0.0,
                       tau_s: float = 1e-6, bits: int = 16, link_bps: float = 50e9) -> float:
    """The paper's simple timing model: digital + t tau + bits (m N + 2 N) / link (s).

    No overlaps, writes or converters: it equals :func:`tngd_runtime_s` when the upload and the
    read-out are link-bound. Kept as a closed-form reference; it has the ``runtime_model``
    signature of ``tngd.train`` (pass it there to get this formula instead of the full model).

    Args:
        N, b, dz: parameters, batch, outputs (m = b dz).
        t_tau: analog time in tau.
        digital_s: measured digital time to add (s).
        tau_s, bits, link_bps: time constant, word size, link bandwidth.

    Returns:
        Seconds per iteration.
    """
    m = positive_int("b", b) * positive_int("dz", dz)
    N = positive_int("N", N)
    return float(digital_s) + t_tau * tau_s + bits * (m * N + 2 * N) / link_bps


# ===================================================================================== comparisons
def compare_iteration(N: int, b: int, dz: int, *, t_tau: float = 50.0, cg_iters: int = 10,
                      hw: Hardware | None = None, host: Host | None = None, upload: str = "factor",
                      methods=("ngd", "ngd-cg", "ngd-woodbury", "adam"), measured: dict | None = None,
                      flops_per_param: float = 2.0) -> dict:
    """TNGD and the digital references at one size.

    Args:
        N, b, dz: parameters, batch, outputs.
        t_tau, hw, host, upload, flops_per_param: as :func:`tngd_iteration_cost`.
        cg_iters: NGD-CG iterations.
        methods: the digital methods to include.
        measured: {method: seconds} measured digital times per iteration (for 'tngd': its host
            part) used instead of the estimates.

    Returns:
        ``{'tngd': Cost, method: Cost, ...}``.
    """
    measured = measured or {}
    out = {"tngd": tngd_iteration_cost(N, b, dz, t_tau=t_tau, hw=hw, host=host, upload=upload,
                                       host_time_s=measured.get("tngd"), flops_per_param=flops_per_param)}
    for mt in methods:
        out[mt] = digital_iteration_cost(mt, N, b, dz, host=host, cg_iters=cg_iters, flops_per_param=flops_per_param,
                                         measured_s=measured.get(mt))
    return out


#: The normalised measured-row schema ``spu cost --measured`` and :func:`calibrate_host` read: one
#: row per method and size, ``{'method': one of METHODS or 'tngd', 'N', 'b', 'dz': positive ints,
#: 'seconds': measured digital seconds per iteration (for 'tngd' its host part only)}``.
#: ``python -m tngd.bench --cost-json`` writes it.
MEASURED_KEYS = ("method", "N", "b", "dz", "seconds")


def check_measured_rows(rows) -> list:
    """Validate measured rows against the :data:`MEASURED_KEYS` schema.

    Args:
        rows: a list of dicts (e.g. parsed from ``python -m tngd.bench --cost-json`` output).

    Returns:
        The rows as new dicts with exactly the schema's keys, sizes as int, seconds as float.

    Raises:
        CostError: not a list of dicts, a missing key, an unknown method, a size that is not a
            positive integer or seconds that are not finite and > 0 (the message names the row).
    """
    if not isinstance(rows, list):
        raise CostError(f"measured rows must be a list of {{{', '.join(MEASURED_KEYS)}}} objects")
    out = []
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or any(k not in r for k in MEASURED_KEYS):
            raise CostError(f"measured row {i} must have the keys {', '.join(MEASURED_KEYS)}, got {r!r}")
        if r["method"] not in METHODS + ("tngd",):
            raise CostError(f"measured row {i}: unknown method {r['method']!r}: use one of "
                            f"{', '.join(METHODS + ('tngd',))}")
        s = r["seconds"]
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not (math.isfinite(s) and s > 0):
            raise CostError(f"measured row {i}: seconds must be finite and > 0, got {s!r}")
        out.append({"method": r["method"], "N": positive_int("N", r["N"]), "b": positive_int("b", r["b"]),
                    "dz": positive_int("dz", r["dz"]), "seconds": float(s)})
    return out


def calibrate_host(rows, *, cg_iters: int = 10, base: Host | None = None, flops_per_param: float = 2.0) -> Host:
    """Fit the host's FLOP rate, memory bandwidth and per-call latency to measured digital times.

    Non-negative least squares of seconds = FLOPs / rate + bytes / bandwidth + calls x latency
    (:func:`digital_work`), each row weighted by 1 / seconds (relative error); O(rows).

    Args:
        rows: normalised measured rows (:data:`MEASURED_KEYS`: ``{'method', 'N', 'b', 'dz',
            'seconds'}``, for 'tngd' the host part only).
        cg_iters, flops_per_param: as :func:`digital_work`.
        base: the host whose other fields are kept (default :class:`Host`); a bandwidth the data
            cannot resolve (coefficient 0) keeps ``base``'s.

    Returns:
        The fitted :class:`Host`.

    Raises:
        CostError: fewer than three rows, a non-positive time, or times that do not grow with
            the FLOP count.
    """
    from scipy.optimize import nnls  # 0.2 s to import: only when fitting, not at every ``spu`` start

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
    dz, (b) against dz at fixed N.

    Args:
        N_values, dz_values: the sizes of panels (a) and (b).
        b, t_tau, cg_iters, hw, host, upload: as :func:`compare_iteration`.
        dz, N: the fixed size of panels (a) and (b).
        methods: the methods to sweep ('tngd' included by name).

    Returns:
        Plain lists (JSON-ready): ``{'b', 't_tau', 'cg_iters', 'upload', 'vs_N': {'N', 'dz',
        'time_s', 'energy_j', 'fits_in_memory'}, 'vs_dz': {...}}``, per method.
    """
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
