"""The twin against ngspice on the same exported netlist with transient (thermal) noise.

Per size n: the integrator array of ``random_spd(n, cond=20, seed=0)``, b = 1 (n = 16 is the
circuit of ``netlists/integrator16_cond20.cir``) is exported once with ``write_spice`` and seeded
TRRANDOM noise (one Gaussian current source per resistor, 300 K, ``method='elements'``, held for
nt = tstep), ``.save`` of the n output nodes and ``.options acct``; that one file is simulated by

* **ngspice** in batch mode, ``ngspice -b -r out.raw net.cir`` (a fresh process, wall time of the
  whole process: start-up, parsing, the transient, writing the rawfile); its own log's
  ``Transient analysis time`` and timepoint counts are recorded too;
* **the twin**, as ``spu simulate`` does it: ``read_spice`` of the same file, ``SPU`` (compile,
  readout map), ``run`` over the same span with dt = tstep (the same number of steps K, every
  step saved) and the readout of the same n node voltages. Timed after one untimed warm-up round
  (numba compile / cache load excluded); ``twin total`` is the whole chain from the file,
  ``twin run`` the ``SPU.run`` call alone (discretisation + K steps). Both schemes: ``exact``
  (``spu simulate``'s default) and ``euler``.

Span and steps: tstep = 1 / (20 rho(F)) (a twentieth of the fastest time constant; ngspice's tmax
= tstep), K steps (2000 for n = 4, 16; 500 for n = 64, where one ngspice run already takes ~20 s;
quick: 500), span = K tstep. ngspice takes more internal timepoints than K
(each TRRANDOM breakpoint is followed by a short step); its count is reported. Rounds (ngspice
and twin interleaved) give medians; ratio = median ngspice time / median twin time.
The deterministic transient (x from 0 towards A^-1 b, ~1 V) dominates the thermal noise (uV), so
the maximum deviation between the two voltage traces (ngspice interpolated onto the twin's grid)
checks that both simulated the same circuit.

Target (issue "Performance suite"): the twin >= 1000x faster than ngspice on the same noisy
transient. Missing ngspice makes the benchmark report "skipped: <why>".

    python benchmarks/ngspice_ratio.py [--quick] [--sizes 4 16 64] [--steps K] [--out PATH]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from factored import write_json  # noqa: E402
from integrator import environment, fmt_seconds  # noqa: E402

DEFAULT_OUT = HERE / "results" / "ngspice_ratio.json"
SIZES = (4, 16, 64)
QUICK_SIZES = (4, 16)
STEPS = {4: 2000, 16: 2000, 64: 500}  # per size: ngspice needs ~10 ms per timepoint at n = 64
DEFAULT_STEPS, QUICK_STEPS = 2000, 500
ROUNDS, QUICK_ROUNDS = 3, 2
COND = 20.0
TEMPERATURE_K = 300.0
NOISE_SEED = 1
STEPS_PER_FAST_TAU = 20
SCHEMES = ("exact", "euler")
TARGET_RATIO = 1000.0
TIMEOUT_S = 1800.0
_ACCT = {  # ngspice's .options acct lines -> JSON keys
    "Total elapsed time (seconds)": "elapsed_s",
    "Total analysis time (seconds)": "total_analysis_s",
    "Transient analysis time": "transient_analysis_s",
    "Transient timepoints": "transient_timepoints",
    "Accepted timepoints": "accepted_timepoints",
    "Rejected timepoints": "rejected_timepoints",
    "Transient iterations": "transient_iterations",
    "Circuit Equations": "circuit_equations",
    "Netlist loading time": "netlist_loading_s",
    "Netlist parsing time": "netlist_parsing_s",
}


def parse_acct(log: str) -> dict:
    out = {}
    for line in log.splitlines():
        if "=" not in line:
            continue
        key, _, val = line.partition("=")
        key = key.strip()
        if key in _ACCT:
            try:
                v = float(val.split()[0])
            except (ValueError, IndexError):
                continue
            out[_ACCT[key]] = int(v) if v.is_integer() and not _ACCT[key].endswith("_s") else v
    return out


def ngspice_version(exe: str) -> str | None:
    try:
        out = subprocess.run([exe, "-v"], capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL).stdout
    except Exception:
        return None
    m = re.search(r"ngspice-?\s*(\S+)", out)
    return m.group(0) if m else None


# ------------------------------------------------------------------ problem
def make_netlist(n: int, steps: int, workdir: Path) -> dict:
    """Export the size-n problem with TRRANDOM noise to workdir/net.cir; its span and grid."""
    import spucircuit as sc
    from spucircuit.io.spice import write_spice

    A = sc.random_spd(n, cond=COND, seed=0)
    b = np.ones(n)
    mc = sc.integrator_array(A, b)
    mc.netlist.title = f"integrator array n={n}, random_spd({n}, cond={COND:g}, seed=0), b = 1"
    rho = float(np.max(np.linalg.eigvalsh(A))) / mc.tau_s  # F = -A / tau (ideal op-amps)
    tstep = 1.0 / (STEPS_PER_FAST_TAU * rho)
    tstop = steps * tstep
    text = write_spice(mc, None, tran=(tstep, tstop, tstep), control=False, save=mc.output_nodes,
                       noise={"seed": NOISE_SEED, "nt": tstep, "temperature_k": TEMPERATURE_K,
                              "method": "elements"})
    assert text.endswith("\n.end\n")
    text = text[: -len(".end\n")] + ".options acct\n.end\n"  # ngspice's own timing report
    path = workdir / f"integrator{n}.cir"
    path.write_text(text)
    counts = mc.component_counts()
    return {"n": n, "path": path, "tstep_s": tstep, "tstop_s": tstop, "steps": steps,
            "tau_s": mc.tau_s, "span_tau": tstop / mc.tau_s, "outputs": list(mc.output_nodes),
            "components": int(counts["total"]),
            "noise_sources": text.count(" trrandom("), "netlist_bytes": len(text.encode()),
            "x_star_v": np.linalg.solve(A, b) * mc.v_unit_v}


def run_ngspice_timed(exe: str, prob: dict, workdir: Path) -> dict:
    raw = workdir / "out.raw"
    if raw.exists():
        raw.unlink()
    env = dict(os.environ)
    env.pop("SPICE_ASCIIRAWFILE", None)
    t0 = time.perf_counter()
    proc = subprocess.run([exe, "-b", "-r", raw.name, prob["path"].name], cwd=workdir, capture_output=True,
                          text=True, timeout=TIMEOUT_S, env=env, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    log = (proc.stdout or "") + (proc.stderr or "")
    if proc.returncode != 0 or not raw.exists() or re.search(r"^\s*(error|fatal)\b", log, re.I | re.M):
        tail = "\n".join(log.strip().splitlines()[-12:])
        raise RuntimeError(f"ngspice failed (status {proc.returncode}) on {prob['path'].name}:\n{tail}")
    return {"wall_s": wall, **parse_acct(log)}


def ngspice_trace(prob: dict, workdir: Path) -> tuple[np.ndarray, np.ndarray]:
    from spucircuit.io.rawfile import read_rawfile

    plot = read_rawfile(workdir / "out.raw")[-1]
    return plot.time, np.stack([plot.node_voltage(nd) for nd in prob["outputs"]], axis=1)


def twin_once(prob: dict, scheme: str, seed: int = 0) -> dict:
    """``spu simulate`` on the file: parse, program (compile + readout), run K steps, read out."""
    from spucircuit.device.spu import SPU
    from spucircuit.io.spice import read_spice

    t0 = time.perf_counter()
    nl = read_spice(prob["path"])
    t1 = time.perf_counter()
    spu = SPU(nl, temperature_k=TEMPERATURE_K, noise=True, scheme=scheme, dt=prob["tstep_s"], chains=1, seed=seed)
    Y, Z = spu.ss.node_voltage_map(prob["outputs"])
    t2 = time.perf_counter()
    res = spu.run(prob["tstop_s"], max_samples=prob["steps"])
    t3 = time.perf_counter()
    v = res.states[:, 0, :] @ Y.T + Z @ spu.ss.inputs
    t4 = time.perf_counter()
    return {"total_s": t4 - t0, "parse_s": t1 - t0, "program_s": t2 - t1, "run_s": t3 - t2,
            "readout_s": t4 - t3, "n_steps": int(res.n_steps), "t": res.t, "v": v}


# ------------------------------------------------------------------ benchmark
def bench_size(exe, n, steps, rounds, workdir, log) -> list[dict]:
    prob = make_netlist(n, steps, workdir)
    log(f"  n={n}: {prob['components']} components, {prob['noise_sources']} TRRANDOM sources, "
        f"{steps} steps over {prob['span_tau']:.1f} tau")
    for scheme in SCHEMES:  # warm-up: numba compile / cache load, not timed
        twin_once(prob, scheme)
    ng, tw = [], {s: [] for s in SCHEMES}
    last = {}
    for r in range(rounds):
        time.sleep(0.1)
        ng.append(run_ngspice_timed(exe, prob, workdir))
        for scheme in SCHEMES:
            time.sleep(0.1)
            last[scheme] = twin_once(prob, scheme, seed=r)
            tw[scheme].append({k: v for k, v in last[scheme].items() if k not in ("t", "v")})
        log(f"  n={n} round {r + 1}/{rounds}: ngspice {ng[-1]['wall_s']:.3f} s, twin "
            + ", ".join(f"{s} {tw[s][-1]['total_s'] * 1e3:.2f} ms" for s in SCHEMES))
    t_ng, v_ng = ngspice_trace(prob, workdir)
    med = lambda xs: float(statistics.median(xs))  # noqa: E731
    ng_wall = med([x["wall_s"] for x in ng])
    ng_tran = med([x["transient_analysis_s"] for x in ng]) if all("transient_analysis_s" in x for x in ng) else None
    rows = []
    for scheme in SCHEMES:
        out = last[scheme]
        vi = np.stack([np.interp(out["t"], t_ng, v_ng[:, i]) for i in range(v_ng.shape[1])], axis=1)
        dev = float(np.max(np.abs(vi - out["v"])) / np.max(np.abs(out["v"])))
        total = med([x["total_s"] for x in tw[scheme]])
        run = med([x["run_s"] for x in tw[scheme]])
        rows.append({
            "n": n, "scheme": scheme, "steps": steps, "twin_steps": out["n_steps"],
            "tstep_s": prob["tstep_s"], "span_s": prob["tstop_s"], "span_tau": prob["span_tau"],
            "components": prob["components"], "noise_sources": prob["noise_sources"],
            "ngspice_wall_s": ng_wall, "ngspice_transient_analysis_s": ng_tran,
            "ngspice_timepoints": ng[-1].get("transient_timepoints"),
            "ngspice_circuit_equations": ng[-1].get("circuit_equations"),
            "twin_total_s": total, "twin_run_s": run,
            "twin_parse_s": med([x["parse_s"] for x in tw[scheme]]),
            "twin_program_s": med([x["program_s"] for x in tw[scheme]]),
            "ratio_wall": ng_wall / total,
            "ratio_analysis": None if ng_tran is None else ng_tran / run,
            "max_rel_deviation_twin_vs_ngspice": dev,
            "ngspice_all": ng, "twin_all": tw[scheme], "rounds": rounds,
        })
    return rows


def steps_for(n: int, quick: bool, steps: int | None) -> int:
    if steps:
        return int(steps)
    return QUICK_STEPS if quick else STEPS.get(n, DEFAULT_STEPS)


def run_benchmark(quick: bool = False, sizes=None, steps: int | None = None, rounds: int | None = None,
                  log=print) -> dict:
    sizes = tuple(sizes or (QUICK_SIZES if quick else SIZES))
    steps_n = {n: steps_for(n, quick, steps) for n in sizes}
    rounds = int(rounds or (QUICK_ROUNDS if quick else ROUNDS))
    base = {"benchmark": "ngspice_ratio",
            "config": {"quick": quick, "sizes": list(sizes), "steps": {str(n): k for n, k in steps_n.items()},
                       "rounds": rounds,
                       "matrix": f"random_spd(n, cond={COND:g}, seed=0); b = ones(n)",
                       "tstep": f"1 / ({STEPS_PER_FAST_TAU} rho(F)); ngspice tmax = tstep; span = steps x tstep",
                       "noise": f"TRRANDOM per resistor (method='elements'), {TEMPERATURE_K:g} K, nt = tstep, "
                                f".options seed={NOISE_SEED}; twin: Johnson noise of the same resistors",
                       "ngspice_cmd": "ngspice -b -r out.raw net.cir (.options acct in the file)",
                       "ngspice_timed": "wall time of the whole batch process (median over rounds); its own "
                                        "'Transient analysis time' from the acct log as well",
                       "twin_timed": "total: read_spice + SPU(...) + node_voltage_map + SPU.run(span) + readout "
                                     "of the n outputs; run: the SPU.run call alone (discretisation + steps); "
                                     "after an untimed warm-up round (numba compile excluded)",
                       "ratio_wall": "median ngspice process wall / median twin total",
                       "ratio_analysis": "median ngspice transient analysis time / median twin run"},
            "target": {"ratio": TARGET_RATIO,
                       "statement": f"the twin >= {TARGET_RATIO:g}x faster than ngspice on the same noisy transient"}}
    exe = shutil.which(os.environ.get("SPU_NGSPICE") or "ngspice")
    if exe is None:
        return {**base, "skipped": "ngspice not found on PATH (install it: apt-get install ngspice; "
                                   "or set SPU_NGSPICE to the executable)", "rows": []}
    base["environment"] = {**environment(), "ngspice": exe, "ngspice_version": ngspice_version(exe)}
    t0 = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="spu-bench-ngspice-") as tmp:
        for n in sizes:
            rows += bench_size(exe, n, steps_n[n], rounds, Path(tmp), log)
    check = {f"n={r['n']} {r['scheme']}": {"ratio_wall": r["ratio_wall"], "ratio_analysis": r["ratio_analysis"],
                                           "met": bool(r["ratio_wall"] >= TARGET_RATIO)} for r in rows}
    return {**base, "rows": rows, "target_check": check, "wall_s": time.perf_counter() - t0}


def format_table(result: dict) -> str:
    if result.get("skipped"):
        return f"ngspice_ratio: skipped: {result['skipped']}"
    cfg = result["config"]
    env = result["environment"]
    lines = [f"twin vs ngspice, same exported netlist with TRRANDOM thermal noise, same span and steps of "
             f"1/{STEPS_PER_FAST_TAU} fastest time constant (median of {cfg['rounds']} rounds; "
             f"{env.get('ngspice_version') or 'ngspice'}, numba {env['numba']}, {env['os_cpu_count']} cpus)"]
    hdr = (f"{'n':>4}{'elements':>9}{'steps':>7}{'span':>8}{'ng pts':>8}  {'scheme':<7}{'ngspice':>10}{'ng tran':>10}"
           f"{'twin tot':>10}{'twin run':>10}{'ratio':>8}{'ratio run':>10}{'dev':>9}")
    lines += [hdr, "-" * len(hdr)]
    for r in result["rows"]:
        ngt = r["ngspice_transient_analysis_s"]
        lines.append(f"{r['n']:>4}{r['components'] + r['noise_sources']:>9}{r['steps']:>7}{r['span_tau']:>6.0f} t"
                     f"{r['ngspice_timepoints'] or 0:>8}  {r['scheme']:<7}{_fmt(r['ngspice_wall_s']):>10}"
                     f"{_fmt(ngt) if ngt is not None else '-':>10}{_fmt(r['twin_total_s']):>10}"
                     f"{_fmt(r['twin_run_s']):>10}{r['ratio_wall']:>8.0f}"
                     f"{r['ratio_analysis'] if r['ratio_analysis'] is not None else float('nan'):>10.0f}"
                     f"{r['max_rel_deviation_twin_vs_ngspice']:>9.1e}")
    lines += ["elements: circuit elements + TRRANDOM sources; span in tau (the mapping's time unit); ng pts: "
              "ngspice's transient timepoints (the twin takes exactly the step count)",
              "ngspice = process wall time (start-up, parse, transient, rawfile); ng tran = its acct "
              "'Transient analysis time'",
              "twin tot = read_spice + SPU + run + readout (numba warm); twin run = SPU.run alone",
              "ratio = ngspice / twin tot; ratio run = ng tran / twin run; dev = max |V_ng - V_twin| / max |V| "
              "(deterministic transient dominates: same circuit check)",
              f"target: {result['target']['statement']}"]
    for key, v in result["target_check"].items():
        ra = v.get("ratio_analysis")
        lines.append(f"  {key}: ratio {v['ratio_wall']:.0f} -> {'met' if v['met'] else 'MISSED'}"
                     + (f" (transient analysis vs twin run alone: {ra:.0f}x)" if ra is not None else ""))
    return "\n".join(lines)


def _fmt(s: float) -> str:
    return fmt_seconds(s, us=0, ms=2, sec=2)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"n = {QUICK_SIZES}, {QUICK_STEPS} steps, {QUICK_ROUNDS} rounds")
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help=f"sizes n (default {SIZES})")
    ap.add_argument("--steps", type=int, default=None,
                    help=f"time steps for every size (default per size {STEPS}, else {DEFAULT_STEPS})")
    ap.add_argument("--rounds", type=int, default=None, help=f"interleaved rounds (default {ROUNDS})")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="JSON output path (default %(default)s)")
    a = ap.parse_args(argv)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    res = run_benchmark(quick=a.quick, sizes=a.sizes, steps=a.steps, rounds=a.rounds, log=log)
    print(format_table(res))
    print(f"wrote {write_json(res, a.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
