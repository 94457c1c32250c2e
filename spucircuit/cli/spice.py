"""``spu export | simulate | check | op | graph``: SPICE netlists from the command line.

Registered on the main parser by :func:`register` (``spucircuit/cli.py`` calls it). Every error is
an :class:`~spucircuit.errors.SPUError`, which the main CLI prints as one line (exit status 2).

    spu export --matrix A.npy [--rhs b.npy] --arch integrator|capacitive [--time 50tau] [--noise]
               [--seed S] -o net.cir         # then: ngspice -b -r out.raw net.cir
    spu simulate net.cir --time 20us [--noise off] --out samples.npz   # the twin runs the netlist
                                             # (+ its .ac / .noise / .sp / .dc / .tf / .sens cards:
                                             #  ac_f, ac_v, noise_*, sp_*, dc_*, tf_*, sens_*)
    spu check net.cir                        # read, validate, compile; print a summary
    spu op net.cir                           # DC operating point: node voltages, source currents
    spu graph net.cir -o graph.png|graph.graphml
"""
from __future__ import annotations

import io
import os
import sys

import numpy as np

from spucircuit._util import argtypes
from spucircuit._util.files import atomic_write_bytes, check_output_path
from spucircuit._util.quantities import parse_time
from spucircuit.circuit.capacitive_array import capacitive_spu
from spucircuit.circuit.integrator_array import integrator_array
from spucircuit.circuit.noise import noisy_resistors
from spucircuit.cli._common import (
    add_max_elements_arg,
    add_run_limit_arg,
    apply_run_limit,
    load_npy,
)
from spucircuit.device.spu import SPU
from spucircuit.device.tran import run_tran
from spucircuit.errors import SPUError
from spucircuit.integrate.discretize import eigenvalues
from spucircuit.io.graphml import to_graphml
from spucircuit.io.spice import read_spice, write_spice
from spucircuit.io.spice.ports import check_rf_drive
from spucircuit.linalg.capacitive import dynamics
from spucircuit.report.graph_plot import plot_coupling_graph
from spucircuit.statespace.frequency import small_signal_analyses
from spucircuit.statespace.mna import compile_netlist
from spucircuit.statespace.operating_point import initial_state, operating_point

# ----------------------------------------------------------------------------- helpers


def tau_of(netlist) -> float | None:
    """The netlist's time unit tau (s) from its mapping annotations, or None.

    Integrator arrays record tau_s (dx/dt = -(A x - b) with t in tau); for the capacitive array
    tau is its slowest relaxation time (``dynamics.tau_slow_s``).
    """
    meta = netlist.meta
    m = meta.get("mapping")
    if isinstance(m, dict) and isinstance(m.get("tau_s"), (int, float)) and m["tau_s"] > 0:
        return float(m["tau_s"])
    d = meta.get("mapped", {}).get("dynamics") if isinstance(meta.get("mapped"), dict) else None
    if isinstance(d, dict) and isinstance(d.get("tau_slow_s"), (int, float)) and d["tau_slow_s"] > 0:
        return float(d["tau_slow_s"])
    return None


def _spectrum(ss):
    return eigenvalues(ss)


def _time(text, tau, what="--time"):
    try:
        return parse_time(text, tau)
    except SPUError:
        if tau is None and "tau" in str(text).lower():
            raise SPUError(f"{what} {text!r} is in units of tau but this netlist records no tau "
                           "(no mapping annotation): give seconds, e.g. '20us'") from None
        raise


# ----------------------------------------------------------------------------- export
def cmd_export(args) -> int:
    check_output_path(args.output, "-o")
    if not (np.isfinite(args.temperature) and args.temperature >= 0):  # checked even where unused (no --noise)
        raise SPUError(f"--temperature must be finite and >= 0 K, got {args.temperature!r}")
    A = load_npy(args.matrix, "matrix")
    b = load_npy(args.rhs, "right-hand side") if args.rhs else None
    if args.arch == "integrator":
        kw = {k: getattr(args, k) for k in ("r_min", "r_max", "c", "v_swing") if getattr(args, k, None) is not None}
        circ = integrator_array(A, b, prune=args.prune, noise_psd=args.noise_psd or 0.0, **kw)
    else:
        if b is not None and np.any(np.asarray(b, float) != 0):
            raise SPUError("--rhs is not used by the capacitive architecture (it samples N(0, A^-1)); "
                           "leave it out or use --arch integrator")
        kw = {}
        if args.noise_psd is not None:
            kw["noise_psd"] = args.noise_psd
        circ = capacitive_spu(A, temperature_k=args.temperature, **kw)
        dynamics(circ)  # its relaxation figures go into the exported mapping annotation
    nl = circ.netlist
    tran = noise = None
    if args.noise and not args.time:
        raise SPUError("--noise needs --time (the TRRANDOM sources live in a transient analysis)")
    if args.time:
        tau = tau_of(nl)
        if tau is None and getattr(circ, "dynamics_cache", None):  # capacitive: its slowest relaxation time
            tau = float(circ.dynamics_cache["tau_slow_s"])
        tstop = _time(args.time, tau)
        ss = compile_netlist(nl, args.temperature, noise=False)
        ev = _spectrum(ss)
        tau_fast = 1.0 / float(np.max(np.abs(ev)))
        tstep = args.tstep if args.tstep is not None else max(tau_fast / 20.0, tstop / args.max_points)
        if not (np.isfinite(tstep) and tstep > 0):
            raise SPUError(f"--tstep must be finite and > 0 s, got {tstep!r}")
        if tstop / tstep > 5e7:
            raise SPUError(f"--time {args.time} / tstep {tstep:.3g} s is more than 5e7 points")
        tstep = tstop / int(np.ceil(tstop / tstep * (1 - 1e-12)))  # a whole number of steps
        tran = (tstep, tstop, tstep)
        if args.noise:
            nt = args.nt if args.nt is not None else 2.0 * tstep
            noise = dict(seed=args.seed, nt=nt, temperature_k=args.temperature, method=args.noise_method)
    write_spice(circ, args.output, tran=tran, noise=noise, control=args.control)
    c = nl.component_counts()
    run = ""
    if tran is not None:
        run = (f"; run: ngspice -b {args.output}" if args.control
               else f"; run: ngspice -b -r out.raw {args.output}")
    print(f"exported {args.arch} n = {np.asarray(A).shape[0]}: {c['total']} components, "
          f"{nl.n_nodes} nodes{' with TRRANDOM noise' if noise else ''} -> {args.output}{run}")
    return 0


# ----------------------------------------------------------------------------- simulate
def cmd_simulate(args) -> int:
    apply_run_limit(args)
    check_output_path(args.out, "--out")
    nl = read_spice(args.netlist, max_elements=args.max_elements)
    info = nl.meta.get("spice_file", {})
    tau = tau_of(nl)
    tran = info.get("tran")
    small = small_signal_analyses(nl, args.temperature)  # .ac .noise .sp .dc .tf .sens cards, {} without them
    if args.time is not None or tran:
        check_rf_drive(nl, "transient")
    if args.time is not None:
        total = _time(args.time, tau)
    elif tran:
        total = float(tran["tstop"])
    elif small:
        return _write_small_signal(args, small)
    else:
        raise SPUError("give --time (the netlist has no .tran card to take it from)")
    temp = args.temperature
    if temp is None:
        temp = float(info.get("noise", {}).get("temperature_k", 300.0))
    noise = args.noise == "on"
    dt = args.dt
    if dt is not None and not (np.isfinite(dt) and dt > 0):
        raise SPUError(f"time step must be finite and > 0 s, got {dt!r}")
    if dt is None and tran:
        dt = float(tran["tstep"])
    if dt is not None and not nl.waveforms and dt > total:  # one step would simulate far longer than asked
        raise SPUError(f"{'--dt' if args.dt is not None else 'the .tran step'} {dt:g} s is longer than the run "
                       f"({total:g} s): give a smaller step or a longer --time")
    if nl.waveforms or (tran and args.scheme != "euler"):  # SPICE .tran: TSTEP grid, internal steps
        return _simulate_tran(args, nl, tran, total, temp, noise, small)
    dt = args.dt
    if dt is None and tran:
        dt = float(tran["tstep"])
    if dt is not None and np.isfinite(dt) and dt > total:  # one step would simulate far longer than asked
        raise SPUError(f"{'--dt' if args.dt is not None else 'the .tran step'} {dt:g} s is longer than the run "
                       f"({total:g} s): give a smaller step or a longer --time")
    if _resistive(nl):
        return _simulate_resistive(args, nl, total, dt, temp, noise, small)
    spu = SPU(nl, temperature_k=temp, noise=noise, scheme=args.scheme, dt=dt, chains=1, seed=args.seed)
    spu.state = np.ascontiguousarray(initial_state(spu.ss, nl)[None, :])  # SPICE: uic, .ic, operating point
    x0 = spu.state.copy()
    res = spu.run(total, max_samples=args.max_samples, progress=False)
    nodes = list(nl.node_names[1:])
    Y, Z = spu.ss.node_voltage_map(nodes)
    states = np.concatenate([x0[None, 0, :], res.states[:, 0, :]], axis=0)
    t = np.concatenate([[0.0], res.t])
    with np.errstate(invalid="ignore", over="ignore"):  # an overflowed run is reported below
        v = states @ Y.T + Z @ spu.ss.inputs
    _write_paths(args, spu.ss, t, v, states, nodes, dict(dt=np.float64(spu.dt), temperature_k=np.float64(temp),
                                                         noise=np.bool_(noise), **small))
    print(f"simulated {args.netlist}: {res.analog_time_s:.4g} s in {res.n_steps} steps of {spu.dt:.4g} s "
          f"({args.scheme}, noise {'on' if noise else 'off'}, {temp:g} K); {len(t)} samples x {len(nodes)} "
          f"node voltages -> {args.out}")
    if small:
        print(_small_signal_summary(small))
    return 0


def _small_signal_summary(small: dict) -> str:
    parts = []
    if "ac_f" in small:
        parts.append(f".ac: {len(small['ac_f'])} frequencies x {small['ac_v'].shape[1]} node phasors (ac_f, ac_v)")
    if "noise_f" in small:
        parts.append(f".noise: {len(small['noise_f'])} frequencies (noise_f, noise_onoise_psd, noise_inoise_psd)")
    if "sp_f" in small:
        n = len(small["sp_ports"])
        parts.append(f".sp: {len(small['sp_f'])} frequencies x {n} x {n} ports (sp_f, sp_s, sp_y, sp_z, sp_ports"
                     + (", sp_cy" + (", sp_nf_db, sp_sopt, sp_nfmin_db, sp_rn_ohm" if "sp_nf_db" in small else "")
                        if "sp_cy" in small else "") + ")")
    if "dc_sweep" in small:
        parts.append(f".dc: {len(small['dc_sweep'])} points x {small['dc_v'].shape[1]} nodes (dc_sweep"
                     + (", dc_sweep2" if "dc_sweep2" in small else "") + ", dc_v)")
    if "tf_gain" in small:
        parts.append(f".tf: gain {float(small['tf_gain']):.6g}, input {float(small['tf_input_impedance_ohm']):.6g} "
                     f"Ohm, output {float(small['tf_output_impedance_ohm']):.6g} Ohm")
    if "sens_names" in small:
        parts.append(f".sens: {len(small['sens_names'])} parameters" + (
            f" x {len(small['sens_f'])} frequencies" if "sens_f" in small else "") + " (sens_names, sens_values)")
    if "pz_poles" in small:
        parts.append(f".pz: {len(small['pz_poles'])} poles, {len(small['pz_zeros'])} zeros (pz_poles, pz_zeros; rad/s)")
    return "; ".join(parts)


def _write_small_signal(args, small: dict) -> int:
    """The netlist asks for .ac / .noise / .sp / .dc / .tf / .sens only: write those arrays (no transient)."""
    buf = io.BytesIO()
    np.savez(buf, **small)
    try:
        atomic_write_bytes(args.out, buf.getvalue())
    except OSError as exc:
        raise SPUError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"analysed {args.netlist}: {_small_signal_summary(small)} -> {args.out}")
    return 0


def _write_paths(args, ss, t, v, states, nodes, extra: dict) -> None:
    """Write a simulated run (t, node voltages v, states) and ``extra`` arrays to ``args.out`` as .npz,
    atomically: a run that left the floating-point range writes nothing and says why (instability or
    overflow); a finite run of an unstable circuit is written with a warning."""
    ev = _spectrum(ss)
    unstable = bool(ev.size) and float(np.max(ev.real)) >= 0
    lam = ev[np.argmax(ev.real)] if ev.size else 0.0
    lam = lam.real if lam.imag == 0 else lam
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(states))):
        k = int(np.argmax(~np.all(np.isfinite(v), axis=1) | ~np.all(np.isfinite(states), axis=1)))
        why = (f"the circuit is not stable (eigenvalue {lam:.4g} 1/s, see spu check)" if unstable
               else "the values overflowed")
        raise SPUError(f"the simulation left the floating-point range at t = {t[k]:.4g} s: {why}; nothing written "
                       "(shorten --time to follow the growth)")
    buf = io.BytesIO()
    np.savez(buf, t=t, v=v, nodes=np.array(nodes, dtype=str), states=states,
             state_names=np.array(ss.state_names, dtype=str), **extra)
    try:
        atomic_write_bytes(args.out, buf.getvalue())
    except OSError as exc:
        raise SPUError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    if unstable:
        print(f"spu simulate: warning: the circuit is not stable (eigenvalue {lam:.4g} 1/s): its voltages grow "
              "without bound; the samples are a transient, not a stationary state", file=sys.stderr)


def _resistive(nl) -> bool:
    """No capacitor or inductor: the circuit has no state, its node voltages are algebraic."""
    return len(nl.tables["C"]) + len(nl.tables["L"]) == 0


def _simulate_resistive(args, nl, total, dt, temp, noise, small=None) -> int:
    """A purely resistive circuit: node voltages v = Z u (DC sources) at every output time, on the
    step grid (the .tran step or --dt, else --max-samples points over --time). The white noise of
    its resistors has no state to filter: the samples are the noise-free (band-limited mean) voltages."""
    ss = compile_netlist(nl, temp, noise=noise)
    nodes = list(nl.node_names[1:])
    _, Z = ss.node_voltage_map(nodes)
    v0 = np.asarray(Z @ ss.inputs, dtype=float).reshape(-1)
    if dt is None:
        t = np.linspace(0.0, total, args.max_samples + 1)
    else:
        n = max(int(np.floor(total / dt * (1 + 1e-12))), 1)
        t = dt * np.arange(0, n + 1, -(-n // args.max_samples))
    v = np.tile(v0, (len(t), 1))
    step = float(t[1] - t[0]) if len(t) > 1 else float(total)
    buf = io.BytesIO()
    np.savez(buf, t=t, v=v, nodes=np.array(nodes, dtype=str), states=np.zeros((len(t), 0)),
             state_names=np.array([], dtype=str), dt=np.float64(step), temperature_k=np.float64(temp),
             noise=np.bool_(noise), **(small or {}))
    try:
        atomic_write_bytes(args.out, buf.getvalue())
    except OSError as exc:
        raise SPUError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"simulated {args.netlist}: purely resistive (no state): node voltages v = Z u at {len(t)} times over "
          f"{total:.4g} s; {len(nodes)} node voltages -> {args.out}")
    return 0


# ----------------------------------------------------------------------------- check
def check_report(nl) -> list[str]:
    """Validate and compile ``nl``; lines of a human-readable summary (raises on a bad netlist)."""
    nl.validate()
    info = nl.meta.get("spice_file", {})
    temp = float(info.get("noise", {}).get("temperature_k", 300.0))
    ss = compile_netlist(nl, temp)
    c = nl.component_counts()
    kinds = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in c.items() if v and k != "total")
    ideal = int(np.sum(np.isinf(nl.tables["U"].values)))
    lines = [f"title: {nl.title}",
             f"nodes: {nl.n_nodes} (ground excluded)",
             f"elements: {c['total']}: {kinds}" + (f" ({ideal} ideal op-amps)" if len(nl.tables['U']) else ""),
             f"states: {ss.n} ({', '.join(ss.state_names[:6])}{', ...' if ss.n > 6 else ''}); "
             f"DC inputs: {len(ss.input_names)}"]
    ev = _spectrum(ss)
    if ss.n == 0:
        lines.append("drift: none (purely resistive: node voltages follow the sources, v = Z u)")
    elif np.all(ev.real < 0):
        lines.append(f"drift: stable; time constants {1.0 / np.min(-ev.real):.4g} s (slowest) to "
                     f"{1.0 / np.max(np.abs(ev)):.4g} s (fastest)")
    else:
        lam = ev[np.argmax(ev.real)]
        lines.append(f"drift: NOT stable (eigenvalue {lam:.4g} 1/s): no stationary state")
    nN = len(nl.tables["N"])
    n_noisy = int(np.sum(noisy_resistors(nl))) if len(nl.tables["R"]) else 0  # noisy=0 and port z0: none
    lines.append(f"noise: Johnson noise of {n_noisy} resistors at {temp:g} K"
                 + (f" + {nN} white noise source{'s' if nN != 1 else ''}" if nN else ""))
    tau = tau_of(nl)
    m = nl.meta.get("mapped", {}) if isinstance(nl.meta.get("mapped"), dict) else {}
    if tau is not None or m:
        ro = m.get("readout", {}) if isinstance(m.get("readout"), dict) else {}
        outs = ro.get("output_nodes") or ro.get("nodes") or []
        lines.append(f"mapping: {m.get('architecture', 'mapped')}" + (f", tau = {tau:.4g} s" if tau else "")
                     + (f", readout {ro['formula']}" if ro.get("formula") else "")
                     + (f", outputs {outs[0]} .. {outs[-1]}" if outs else ""))
    if nl.waveforms:
        w = [f"{k} {v.kind}" for k, v in nl.waveforms.items()]
        lines.append(f"time-dependent sources: {len(w)} ({', '.join(w[:6])}{', ...' if len(w) > 6 else ''})")
    if info.get("tran"):
        tr = info["tran"]
        lines.append(f".tran: tstep {tr['tstep']:.4g} s, tstop {tr['tstop']:.4g} s, tmax {tr['tmax']:.4g} s"
                     + (", uic" if tr.get("uic") else ""))
    ports = nl.meta.get("ports") if isinstance(nl.meta.get("ports"), dict) else {}
    if ports:
        desc = [f"{nm} #{rec['portnum']} z0 {rec['z0_ohm']:g} Ohm" for nm, rec in
                sorted(ports.items(), key=lambda kv: kv[1]["portnum"])]
        lines.append(f"RF ports: {len(ports)} ({', '.join(desc[:6])}{', ...' if len(desc) > 6 else ''}); "
                     "each a source behind a noiseless series z0")
    if info.get("sp"):
        sp_ = info["sp"]
        lines.append(f".sp: {sp_['sweep']} {sp_['points']} points, {sp_['fstart_hz']:.4g} to {sp_['fstop_hz']:.4g} Hz"
                     + (", with port noise (donoise)" if sp_.get("donoise") else ""))
    if info.get("noise"):
        nz = info["noise"]
        lines.append(f"noise block: TRRANDOM, method {nz.get('method')}, seed {nz.get('seed')}, nt {nz.get('nt')} s")
    return lines


def cmd_check(args) -> int:

    nl = read_spice(args.netlist, max_elements=args.max_elements)
    lines = check_report(nl)
    print(f"{args.netlist}: OK")
    for ln in lines:
        print("  " + ln)
    return 0


def _simulate_tran(args, nl, tran, total, temp, noise, small=None) -> int:
    """``spu simulate`` as SPICE's .tran (a .tran card or time-dependent sources, noise on or off, any scheme
    but euler): the TSTEP grid from TSTART,
    internal steps for accuracy (:func:`spucircuit.device.tran.run_tran`)."""
    if not tran:
        raise SPUError("this netlist has time-dependent sources (PULSE, SIN, ...) but no .tran card: add one "
                       "(its TSTEP and TSTOP set the sources' SPICE defaults and the output grid)")
    if args.scheme == "euler":
        raise SPUError("time-dependent sources run with --scheme exponential or trapezoidal, not euler")
    tstep, tstart = float(tran["tstep"]), float(tran.get("tstart", 0.0))
    if not tstart < total:
        raise SPUError(f"the .tran start time {tstart:g} s is not before the end of the run ({total:g} s)")
    if args.dt is not None and not (np.isfinite(args.dt) and args.dt > 0):
        raise SPUError(f"time step must be finite and > 0 s, got {args.dt!r}")
    tmax = args.dt if args.dt is not None else (float(tran["tmax"]) if tran.get("tmax_given") else None)
    run = run_tran(nl, tstep, total, tstart, tmax, scheme=args.scheme, noise=noise, temperature_k=temp,
                   seed=args.seed, max_points=args.max_samples, tran=tran)
    res = run.result
    _write_paths(args, run.ss, run.t, run.v, run.states, run.nodes,
                 dict(dt=np.float64(res.h_max), temperature_k=np.float64(temp), noise=np.bool_(noise),
                      tstep=np.float64(tstep * run.stride), **(small or {})))
    if run.stride > 1:
        print(f"spu simulate: note: the .tran grid has more than --max-samples {args.max_samples} points; "
              f"wrote every {run.stride}th point ({tstep * run.stride:.4g} s apart)", file=sys.stderr)
    print(f"simulated {args.netlist}: .tran to {total:.4g} s in {res.n_steps} internal steps (longest "
          f"{res.h_max:.4g} s; {args.scheme}, noise {'on' if noise else 'off'}, {temp:g} K); {len(run.t)} samples "
          f"x {len(run.nodes)} node voltages from {tstart:.4g} s -> {args.out}")
    return 0


# ----------------------------------------------------------------------------- check
def cmd_op(args) -> int:
    """SPICE's .op: node voltages and the branch currents of voltage sources and inductors."""
    nl = read_spice(args.netlist, max_elements=args.max_elements)
    nl.validate()
    check_rf_drive(nl, "operating point")
    op = operating_point(nl)
    print(f"{args.netlist}: DC operating point (capacitors open, inductors shorted)")
    width = max([len(n) for n in op.node_names] + [len(n) for n in op.branch_names] + [4]) + 3
    for nm, v in zip(op.node_names, op.node_voltages_v):
        print(f"  {'v(' + nm + ')':<{width}} {v:.10g} V")
    for nm, i in zip(op.branch_names, op.branch_currents_a):
        print(f"  {'i(' + nm + ')':<{width}} {i:.10g} A")
    return 0


# ----------------------------------------------------------------------------- graph
def cmd_graph(args) -> int:
    check_output_path(args.output, "-o")
    nl = read_spice(args.netlist, max_elements=args.max_elements)
    ext = os.path.splitext(args.output)[1].lower()
    if ext == ".graphml":
        to_graphml(nl, args.output)
        print(f"GraphML of {nl.n_nodes} nodes, {len(nl)} elements -> {args.output}")
    elif ext == ".png":
        plot_coupling_graph(nl, args.output, summary=args.summary, show_ground=args.show_ground)
        print(f"coupling graph of {nl.n_nodes} nodes -> {args.output}")
    else:
        raise SPUError(f"output {args.output!r} must end in .png or .graphml")
    return 0


# ----------------------------------------------------------------------------- parser
def register(sub) -> None:
    """Add the export, simulate, check and graph subcommands to ``sub`` (argparse subparsers)."""
    e = sub.add_parser(
        "export", help="map A (and b) onto a circuit and write an ngspice netlist",
        description="Write an ngspice-compatible SPICE netlist of the integrator array (any SPD A) or of "
                    "the capacitive RLC array. With --time it carries a .tran card and .save of every node "
                    "voltage, so that 'ngspice -b -r out.raw net.cir' writes them over that span; --noise "
                    "adds seeded TRRANDOM sources realising the twin's thermal (and injected) noise.")
    e.add_argument("--matrix", required=True, help="SPD matrix A, .npy")
    e.add_argument("--rhs", help="right-hand side b, .npy (integrator only; default 0)")
    e.add_argument("--arch", choices=["integrator", "capacitive"], default="integrator",
                   help="circuit architecture (default integrator)")
    e.add_argument("-o", "--output", required=True, help="netlist path (.cir)")
    e.add_argument("--time", help="transient span: seconds or e.g. '50tau' (tau: the mapping's time unit; "
                                  "the slowest relaxation time for capacitive)")
    e.add_argument("--tstep", type=float, help="output / maximum step, s (default fastest time constant / 20)")
    e.add_argument("--max-points", dest="max_points", type=argtypes.positive_int, default=200000,
                   help="at most this many tstep points over --time (default 2e5)")
    e.add_argument("--noise", action="store_true", help="add seeded TRRANDOM noise sources (needs --time)")
    e.add_argument("--noise-method", dest="noise_method", choices=["elements", "factor"], default="elements",
                   help="one source per resistor / noise source, or a covariance factor (default elements)")
    e.add_argument("--nt", type=float, help="noise hold time, s (default 2 x tstep)")
    e.add_argument("--seed", type=argtypes.seed, default=1, help="ngspice noise seed (.options seed=, default 1)")
    e.add_argument("--temperature", type=float, default=300.0, help="Johnson-noise temperature, K")
    e.add_argument("--noise-psd", dest="noise_psd", type=float, default=None,
                   help="injected white noise PSD per summing node / cell, A^2/Hz")
    e.add_argument("--control", action="store_true",
                   help="add a .control block (run, linearize, write <name>.raw); run with 'ngspice -b net.cir'")
    g = e.add_argument_group("integrator mapping (SI units)")
    g.add_argument("--r-min", dest="r_min", type=float, help="smallest resistance, Ohm (default 1e3)")
    g.add_argument("--r-max", dest="r_max", type=float, help="largest resistance, Ohm (default 1e6)")
    g.add_argument("--c", dest="c", type=float, help="integrator capacitance, F (default 1e-9)")
    g.add_argument("--v-swing", dest="v_swing", type=float, help="largest |V| of the solution, V (default 1)")
    g.add_argument("--prune", action="store_true", help="leave entries too small for r_max open")
    e.set_defaults(func=cmd_export)

    s = sub.add_parser(
        "simulate", help="simulate any SPICE netlist on the twin; write node voltages (.npz)",
        description="Read a SPICE netlist (the subset spucircuit.io.spice reads), simulate it on the twin "
                    "(exact scheme by default) and write an .npz with t (s), v (time x nodes, V), nodes "
                    "(names), states and state_names. A netlist with a .tran card (or time-dependent sources: PULSE, SIN, "
                    "EXP, PWL, SFFM), noise on or off, runs as SPICE's .tran unless --scheme euler (refused with time-dependent sources): from the DC operating point "
                    "unless uic, output on the TSTEP grid from TSTART (every k-th grid point when the grid has more than "
                    "--max-samples points), internal steps chosen for accuracy and onto every source breakpoint, capped by "
                    "TMAX or --dt; with noise each step draws the exact Ornstein-Uhlenbeck increment, so a long run costs "
                    "about --max-samples steps, not TSTOP/TSTEP (its estimate is checked against --max-run-time and "
                    "--max-memory first). Without a .tran card (or with --scheme euler) the run steps at --dt. A .ac card adds ac_f (Hz), ac_v (complex node phasors, "
                    "frequencies x nodes, V for the sources' 'AC mag phase') and ac_nodes; a .noise card adds "
                    "noise_f (Hz), noise_onoise_psd (one-sided output noise PSD, V^2/Hz; ngspice's onoise_spectrum "
                    "is its square root), noise_inoise_psd and noise_gain, at --temperature, else the .temp card, "
                    "else 27 C as ngspice; a .sp card (RF ports: V sources with portnum, z0) adds sp_f (Hz), sp_s, sp_y "
                    "(S), sp_z (Ohm) (complex, frequencies x port x port, in port-number order), sp_ports and "
                    "sp_z0_ohm; with its donoise flag also sp_cy (the ports' noise current correlation, A^2/Hz) and, "
                    "for two ports, sp_nf_db, sp_sopt, sp_nfmin_db and sp_rn_ohm; a .dc card adds dc_sweep "
                    "[, dc_sweep2] and dc_v (points x nodes, V); a .tf card tf_gain, tf_input_impedance_ohm and "
                    "tf_output_impedance_ohm; a .sens card sens_names and sens_values (d output / d element value; "
                    "complex, frequencies x parameters, with sens_f for its AC form); a .pz card pz_poles and "
                    "pz_zeros (complex, rad/s, as ngspice's pole(k), zero(k)). Without .tran and --time only "
                    "these are written.")
    s.add_argument("netlist", help="SPICE netlist (.cir)")
    add_max_elements_arg(s)
    s.add_argument("--time", help="analog time: seconds, '20us', or 'Ntau' when the netlist records tau "
                                  "(default: the .tran stop time)")
    s.add_argument("--noise", choices=["on", "off"], default="on", help="thermal and source noise (default on)")
    s.add_argument("--out", required=True, help="output .npz")
    s.add_argument("--seed", type=argtypes.seed, default=None, help="random seed")
    s.add_argument("--scheme", choices=["exponential", "exact", "euler", "trapezoidal"], default="exponential",
                   help="integration scheme: exponential (exact in distribution at any step; alias exact), euler or trapezoidal")
    s.add_argument("--dt", type=float, default=None, help="time step, s (default: the .tran step, else automatic); "
                                                                 "for a SPICE .tran run: the largest internal step")
    s.add_argument("--temperature", type=float, default=None,
                   help="Johnson-noise temperature, K (default: the netlist's noise block, else 300; "
                        "for .noise: the .temp card, else 300.15)")
    add_run_limit_arg(s)
    s.add_argument("--max-samples", dest="max_samples", type=argtypes.positive_int, default=20000,
                   help="keep at most about this many samples (default 20000)")
    s.set_defaults(func=cmd_simulate)

    c = sub.add_parser("check", help="read and validate a SPICE netlist; print a component summary",
                       description="Read a SPICE netlist, validate it (connectivity, DC paths), compile it and "
                                   "print its nodes, elements, states, stability, noise and mapping.")
    c.add_argument("netlist", help="SPICE netlist (.cir)")
    add_max_elements_arg(c)
    c.set_defaults(func=cmd_check)

    o = sub.add_parser("op", help="DC operating point of a SPICE netlist (SPICE's .op)",
                       description="Read a SPICE netlist and print its DC operating point (capacitors open, "
                                   "inductors shorted): every node voltage (V) and the branch current (A, "
                                   "SPICE's sign: into the + terminal) of every voltage source, inductor and "
                                   "op-amp output. .ic values are not forced (ngspice forces them only for the "
                                   "operating point that starts a .tran without uic); .nodeset changes nothing "
                                   "in a linear circuit.")
    o.add_argument("netlist", help="SPICE netlist (.cir)")
    add_max_elements_arg(o)
    o.set_defaults(func=cmd_op)

    g = sub.add_parser("graph", help="draw a netlist's coupling graph (.png) or export it (.graphml)",
                       description="Write the topology of a SPICE netlist as a PNG drawing or as GraphML.")
    g.add_argument("netlist", help="SPICE netlist (.cir)")
    add_max_elements_arg(g)
    g.add_argument("-o", "--output", required=True, help="graph.png or graph.graphml")
    g.add_argument("--summary", action="store_true", help="summarised picture for large netlists")
    g.add_argument("--show-ground", dest="show_ground", action="store_true", help="draw ground as a node")
    g.set_defaults(func=cmd_graph)
