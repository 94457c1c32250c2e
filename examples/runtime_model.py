"""The paper's Fig. 2 from the hardware runtime model, next to measured digital times.

    OPENBLAS_NUM_THREADS=1 python examples/runtime_model.py [--out examples/results/runtime_model] [--quick]

(a) runtime per iteration against N at dz = 20, (b) against dz at fixed N, (c) energy per
iteration against N, for NGD (dense), NGD-CG (10 iterations), NGD-Woodbury, Adam and TNGD on the
SPU, b = 64, t = 50 tau. Solid lines: :mod:`spucircuit.studies.cost` with its default parameters (the
paper's tau = 1 us, 16 bit, 50 Gb/s; an A100-class host at 25 % of peak; see ``spu cost params``).
Markers: wall times per iteration *measured here* with ``tngd.bench.time_iteration`` (NumPy on
this CPU, one BLAS thread, random data, an MLP 64-h-dz of growing width h); for TNGD the marker is
the measured digital part (gradient, R^T J factor, update) plus the modelled SPU (upload, t tau,
read-out). Dashed lines: the model with the host's FLOP rate and call latency fitted to the
measured digital rows (:func:`spucircuit.studies.cost.calibrate_host`), at the measured sizes.
Writes fig2_runtime.png and fig2_runtime.json (sweeps, measured rows, fitted host, key numbers).
"""
from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from spucircuit._util.files import atomic_write_text
from spucircuit.report.cost_plots import plot_fig2
from spucircuit.report.cost_tables import to_json
from spucircuit.studies import cost
from tngd.bench import measured_digital_s, measured_rows

B, DZ, INPUTS, T_TAU, CG = 64, 20, 64, 50.0, 10


def _time_iteration(model, name, batches, repeats):
    """tngd.bench.time_iteration under its current signature (model, case, batches, ...) or the
    older one (model, name, x, y, repeats)."""
    from tngd import bench

    params = inspect.signature(bench.time_iteration).parameters
    if "batches" in params:
        return bench.time_iteration(model, name, batches, repeats=repeats, min_repeats=min(2, repeats),
                                    budget_s=1.0, t=T_TAU)
    x, y = batches[0]
    return bench.time_iteration(model, name, x, y, repeats=repeats, t=T_TAU)


def measure(points, repeats, log):
    """points: [(dz, hidden, methods)] -> tngd.bench rows (one BLAS thread)."""
    from tngd.nn.sequential import mlp

    try:
        from threadpoolctl import threadpool_limits
        limit = threadpool_limits(1)
    except ImportError:  # OPENBLAS_NUM_THREADS=1 in the environment does the same
        limit = contextlib.nullcontext()
    rows = []
    with limit:
        for dz, h, methods in points:
            rng = np.random.default_rng(dz)
            batches = [(rng.random((B, INPUTS)), rng.integers(0, dz, B)) for _ in range(2)]
            model = mlp((INPUTS,), dz, hidden=(h,))
            for mt in methods:
                t0 = time.perf_counter()
                r = _time_iteration(model, mt, batches, repeats)
                r.pop("rounds_s", None)
                r["dz"], r["hidden"] = dz, h
                rows.append(r)
                log(f"  measured {mt:>13} N = {model.n_params:>6} dz = {dz:>3}: {1e3 * measured_digital_s(r):9.2f} ms "
                    f"digital ({time.perf_counter() - t0:.1f} s)")
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(HERE, "results", "runtime_model"))
    p.add_argument("--quick", action="store_true", help="fewer measured sizes (smoke test)")
    p.add_argument("--repeats", type=int, default=2)
    a = p.parse_args(argv)
    t_start = time.perf_counter()
    log = lambda s: print(s, flush=True)  # noqa: E731

    # ---------------------------------------------------------------- measured (this CPU, 1 thread)
    all5 = ["adam", "ngd", "ngd-cg", "ngd-woodbury", "tngd"]
    no_ngd = ["adam", "ngd-cg", "ngd-woodbury", "tngd"]
    hs = [16, 64] if a.quick else [16, 32, 64, 128, 256]
    pts_N = [(DZ, h, all5 if (INPUTS + 1 + DZ) * h + DZ <= 3000 else no_ngd) for h in hs]
    n_b = 2000  # panel (b): N ~ 2000 for every dz
    dzs_meas = [5, 20] if a.quick else [5, 10, 20, 40]
    pts_dz = [(dz, max(1, round((n_b - dz) / (INPUTS + 1 + dz))), all5) for dz in dzs_meas]
    log(f"measuring (b = {B}, one BLAS thread) ...")
    raw_N = measure(pts_N, a.repeats, log)
    raw_dz = measure(pts_dz, a.repeats, log)
    rows_N = measured_rows(raw_N, B)
    rows_dz = measured_rows(raw_dz, B)
    host_cpu = cost.calibrate_host(rows_N + rows_dz, cg_iters=CG)  # TNGD rows: its host part
    log(f"host fitted to the measured digital rows: {host_cpu.flop_rate_fps / 1e9:.3g} GFLOP/s, "
        f"{host_cpu.memory_bw_bps / 1e9:.3g} GB/s, {1e6 * host_cpu.call_latency_s:.3g} us per model call")

    def with_spu(rows):  # TNGD marker: measured digital part + modelled SPU
        out = []
        for r in rows:
            r = dict(r)
            if r["method"] == "tngd":
                r["digital_s"] = r["seconds"]
                r["seconds"] = cost.tngd_iteration_cost(r["N"], r["b"], r["dz"], t_tau=T_TAU,
                                                        host_time_s=r["digital_s"]).total_s
            out.append(r)
        return out
    meas = {"vs_N": with_spu(rows_N), "vs_dz": with_spu(rows_dz)}

    # ---------------------------------------------------------------- model sweeps
    Ns = np.unique(np.round(np.logspace(2, 7, 26)).astype(int))
    dzs = np.unique(np.round(np.logspace(0, 3, 19)).astype(int))
    n_fixed = 10_000
    sweep = cost.fig2_sweep(Ns, dzs, b=B, dz=DZ, N=n_fixed, t_tau=T_TAU, cg_iters=CG)
    meth = ("ngd", "ngd-cg", "ngd-woodbury", "tngd", "adam")
    ov_N = cost.fig2_sweep(sorted({r["N"] for r in rows_N}), [DZ], b=B, dz=DZ, N=n_fixed, t_tau=T_TAU,
                           cg_iters=CG, host=host_cpu, methods=meth)
    n_meas_b = int(np.median([r["N"] for r in rows_dz]))
    ov_dz = cost.fig2_sweep([n_meas_b], sorted({r["dz"] for r in rows_dz}), b=B, dz=DZ, N=n_meas_b, t_tau=T_TAU,
                            cg_iters=CG, host=host_cpu, methods=meth)
    overlay = {"vs_N": ov_N["vs_N"], "vs_dz": ov_dz["vs_dz"]}
    # dense NGD's dashed line only where it was measured
    meas_ngd_N = {r["N"] for r in rows_N if r["method"] == "ngd"}
    overlay["vs_N"]["time_s"]["ngd"] = [v if n in meas_ngd_N else float("nan")
                                        for n, v in zip(overlay["vs_N"]["N"], overlay["vs_N"]["time_s"]["ngd"])]

    os.makedirs(a.out, exist_ok=True)
    png = os.path.join(a.out, "fig2_runtime.png")
    plot_fig2(sweep, png, measured=meas, overlay=overlay,
                   measured_label="measured, this CPU, 1 thread",
                   overlay_label="model, host fitted to this CPU",
                   panel_notes={"vs_N": "markers, dashed: MLP 64-h-20 on this CPU",
                                "vs_dz": f"solid: model at N = {n_fixed:.0e}\nmarkers, dashed: measured / fitted "
                                         f"at N ~ {n_meas_b}"},
                   title=f"Fig. 2 shape from the hardware runtime model (spucircuit.studies.cost): b = {B}, t = {T_TAU:g} tau, "
                         "tau = 1 us, 16-bit words over 50 Gb/s; host A100-class at 25 % of peak (assumption)")

    # ---------------------------------------------------------------- key numbers
    def table(N, dz, **kw):
        cs = cost.compare_iteration(N, B, dz, t_tau=T_TAU, cg_iters=CG, **kw)
        return {mt: {"time_s": c.total_s, "energy_j": c.total_energy_j,
                     "time_over_tngd": c.total_s / cs["tngd"].total_s} for mt, c in cs.items()}
    hw_fast, _ = cost.with_overrides(link_bps=400e9, resistor_bits=8, dac_bits=8, adc_bits=8)
    _, host_eager = cost.with_overrides(call_latency_s=1e-3)
    key = {
        "iteration_dz20_N1e4": table(10_000, DZ),
        "iteration_dz20_N1e6": table(1_000_000, DZ),
        "iteration_dz10_N1e4": table(10_000, 10),
        "tngd_breakdown_N1e4": cost.tngd_iteration_cost(10_000, B, DZ, t_tau=T_TAU).to_dict(),
        "tngd_breakdown_N1e6": cost.tngd_iteration_cost(1_000_000, B, DZ, t_tau=T_TAU).to_dict(),
        "paper_timing_model_N1e4_s": cost.paper_timing_model(10_000, B, DZ, t_tau=T_TAU),
        "sensitivity_8bit_400Gbps_N1e6": table(1_000_000, DZ, hw=hw_fast),
        "sensitivity_1ms_call_latency_N1e4": table(10_000, DZ, host=host_eager),
        "solve_n1024": cost.solve_cost(1024).to_dict(),
        "inv_n1024": cost.solve_cost(1024, task="inv").to_dict(),
    }
    for nm in ("iteration_dz20_N1e4", "iteration_dz20_N1e6"):
        log(f"{nm}: " + ", ".join(f"{mt} {1e3 * v['time_s']:.3g} ms / {v['energy_j']:.3g} J"
                                  for mt, v in key[nm].items()))
    out = {
        "description": __doc__, "b": B, "t_tau": T_TAU, "cg_iters": CG, "inputs": INPUTS,
        "parameters": [{"name": n, "value": v, "unit": u, "source": s} for n, v, u, s in cost.params_table()],
        "model_sweep": sweep, "fitted_host": host_cpu, "fitted_overlay": overlay,
        "measured": meas, "measured_raw_rows": raw_N + raw_dz, "key_numbers": key,
        "run_time_s": time.perf_counter() - t_start,
    }
    js = os.path.join(a.out, "fig2_runtime.json")
    atomic_write_text(js, to_json(out))
    log(f"wrote {png} and {js} in {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
