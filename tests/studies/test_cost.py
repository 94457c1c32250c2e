"""spucircuit.studies.cost (hardware runtime / energy model), its tables, and the ``spu cost`` command."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import spucircuit as sc
from spucircuit.cli import main
from spucircuit.report.cost_tables import to_json
from spucircuit.studies import cost
from spucircuit.studies.cost import CostError, Hardware, Host

NETLISTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "netlists")


def _strict(text):
    def bad(c):
        raise ValueError(f"non-standard JSON constant {c}")
    return json.loads(text, parse_constant=bad)


# ------------------------------------------------------------------------------ scalings
def test_tngd_analog_time_independent_of_N():
    a = cost.tngd_iteration_cost(1_000, 64, 10, t_tau=50)
    b = cost.tngd_iteration_cost(1_000_000, 64, 10, t_tau=50)
    assert a.time_s["analog"] == b.time_s["analog"] == pytest.approx(50e-6)
    assert cost.tngd_iteration_cost(1_000, 64, 10, t_tau=0).time_s["analog"] == 0.0  # t = 0: SGD


def test_transfer_linear_in_N_b_dz():
    def tx(N, b, dz):
        return cost.tngd_iteration_cost(N, b, dz).detail["transfer_in_s"]
    base = tx(10_000, 32, 10)
    assert tx(20_000, 32, 10) == pytest.approx(2 * base, rel=1e-12)
    m = 320  # bits = 16 (m N + N): the gradient's N words are the only term not proportional to m
    assert tx(10_000, 64, 10) == pytest.approx(base * (2 * m + 1) / (m + 1), rel=1e-12)
    assert tx(10_000, 32, 20) == pytest.approx(tx(10_000, 64, 10), rel=1e-12)
    c = cost.tngd_iteration_cost(10_000, 32, 10)
    assert c.detail["bits_in"] == 16 * (m * 10_000 + 10_000)


def test_doubling_link_bandwidth_halves_transfer():
    hw2, _ = cost.with_overrides(link_bps=100e9)
    for c1, c2 in [(cost.tngd_iteration_cost(50_000, 64, 20), cost.tngd_iteration_cost(50_000, 64, 20, hw=hw2)),
                   (cost.solve_cost(512), cost.solve_cost(512, hw=hw2))]:
        assert c2.detail["transfer_in_s"] == pytest.approx(c1.detail["transfer_in_s"] / 2, rel=1e-12)
        assert c2.detail["upload_bound_by"] == c1.detail["upload_bound_by"] == "transfer"
        assert c2.time_s["upload"] == pytest.approx(c1.time_s["upload"] / 2, rel=1e-12)
    t1, t2 = cost.tngd_iteration_cost(50_000, 64, 20), cost.tngd_iteration_cost(50_000, 64, 20, hw=hw2)
    assert t2.detail["transfer_out_s"] == pytest.approx(t1.detail["transfer_out_s"] / 2, rel=1e-12)


def test_digital_reference_scalings():
    ngd = [cost.digital_iteration_cost("ngd", N, 64, 20).total_s for N in (100_000, 200_000)]
    assert ngd[1] / ngd[0] == pytest.approx(8.0, rel=0.05)  # N^3 dominated
    big = cost.digital_iteration_cost("ngd", 100_000, 64, 20).detail["flops_by_phase"]
    assert big["solve"] > 0.9 * sum(big.values())
    wood = [cost.digital_iteration_cost("ngd-woodbury", N, 64, 20).total_s for N in (1e5, 2e5)]
    assert wood[1] / wood[0] == pytest.approx(2.0, rel=0.01)  # linear in N
    f1 = cost.digital_work("ngd-cg", 10_000, 64, 10, cg_iters=10)["flops"]["solve"]
    f2 = cost.digital_work("ngd-cg", 10_000, 64, 10, cg_iters=20)["flops"]["solve"]
    assert f2 == pytest.approx(2 * f1)
    w = cost.digital_work("ngd-woodbury", 1000, 64, 20)["flops"]["solve"]
    m = 1280
    assert w == pytest.approx(m * m * 1000 + m ** 3 / 3 + 2 * 20 * m * m + 4 * m * 1000)
    assert cost.digital_work("adam", 1000, 64, 10)["flops"]["gradient"] == 6 * 64 * 1000
    assert cost.digital_work("tngd", 1000, 64, 10)["flops"]["curvature"] == pytest.approx(4 * 640 * 1000 + 2 * 64 * 100)


# ------------------------------------------------------------------------------ sums, units
def test_breakdowns_sum_to_totals():
    cs = list(cost.compare_iteration(20_000, 64, 10).values())
    cs += [cost.solve_cost(256), cost.solve_cost(256, task="inv")]
    for c in cs:
        d = c.to_dict()
        assert d["total_s"] == pytest.approx(sum(d["time_s"].values()), rel=1e-12)
        assert d["total_energy_j"] == pytest.approx(sum(d["energy_j"].values()), rel=1e-12)
        assert all(v >= 0 for v in list(d["time_s"].values()) + list(d["energy_j"].values()))
        _strict(to_json(c))
    t = cs[0]
    assert t.kind == "tngd"
    host, dev = t.detail["host_s"], t.detail["device_s"]
    assert t.detail["pipelined_total_s"] == max(host, dev) <= t.total_s
    assert host + dev == pytest.approx(t.total_s)


def test_solve_1024_hand_computed():
    """n = 1024, tau = 1 us, 100 samples 2 tau apart after 20 tau, 16 bit over 50 Gb/s."""
    c = cost.solve_cost(1024)
    upload = 16 * (1024 * 1025 // 2 + 1024) / 50e9  # A's upper triangle + b: 168.26 us, transfer-bound
    analog = 20e-6 + 100 * 2e-6  # 220 us
    readout = 1024 * 16 / 50e9  # the last snapshot's transfer (> its 16 ADC rounds of 10 ns)
    host = 1024 * 100 / 4.9e12
    assert c.time_s["upload"] == pytest.approx(upload, rel=1e-12)
    assert c.time_s["analog"] == pytest.approx(analog, rel=1e-12)
    assert c.time_s["readout"] == pytest.approx(readout, rel=1e-12)
    # auto-ranging, 2 passes: rewrite the 1024 input levels and resistors (16 (1024 + 1024) bits over the
    # link), burn in 20 tau, read a 5 tau window (3 snapshots 2 tau apart) and the last snapshot
    ranging = 2 * (16 * 2048 / 50e9 + 20e-6 + 3 * 2e-6 + readout)
    assert c.time_s["ranging"] == pytest.approx(ranging, rel=1e-12)
    assert c.detail["ranging_writes"] == 2 * 1024 and c.detail["ranging_adc_conversions"] == 2 * 3 * 1024
    assert c.total_s == pytest.approx(upload + ranging + analog + readout + host, rel=1e-12)
    assert c.total_s == pytest.approx(442.58e-6, abs=0.01e-6)
    assert cost.solve_cost(1024, ranging_passes=0).total_s == pytest.approx(388.61e-6, abs=0.01e-6)
    assert c.detail["writes"] == 1024 ** 2 + 1024 and c.detail["program_s"] == pytest.approx(1025 * 10e-9)
    assert c.energy_j["adc"] == pytest.approx((1024 * 100 + 2 * 3 * 1024) * 1e-9)  # solve + ranging snapshots
    # lambda_min = 0.5 doubles the relaxation time: burn-in and sampling window double
    assert cost.solve_cost(1024, lambda_min=0.5).time_s["analog"] == pytest.approx(2 * analog)
    inv = cost.solve_cost(1024, task="inv")
    assert inv.time_s["ranging"] == 0  # b = 0: nothing to range
    assert inv.detail["samples"] == 1000 and inv.detail["dac_conversions"] == 0 and inv.detail["writes"] == 1024 ** 2


def test_sampling_limited_by_readout():
    hw, _ = cost.with_overrides(adc_rate_sps=1e6, n_adcs=1)  # 1 us per conversion, n of them per snapshot
    c = cost.solve_cost(16, hw=hw, samples=10, burn_in_tau=0, sample_interval_tau=2)
    assert c.detail["sampling_bound_by"] == "ADC"
    assert c.time_s["analog"] == pytest.approx(10 * 16e-6)


def test_tngd_matches_paper_timing_model_when_link_bound():
    N, b, dz = 30_000, 64, 10
    c = cost.tngd_iteration_cost(N, b, dz, t_tau=50)
    dev = c.time_s["upload"] + c.time_s["analog"] + c.time_s["readout"]
    assert dev == pytest.approx(cost.paper_timing_model(N, b, dz, t_tau=50), rel=1e-12)
    assert c.total_s > dev  # + host work


def test_measured_times_replace_estimates():
    cs = cost.compare_iteration(5000, 64, 10, measured={"ngd-cg": 0.5, "tngd": 1e-3})
    assert cs["ngd-cg"].total_s == 0.5 and cs["ngd-cg"].time_s == {"measured": 0.5}
    assert cs["ngd-cg"].detail["estimate_s"] < 0.5
    assert cs["tngd"].time_s["host_pre"] == 1e-3 and cs["tngd"].time_s["host_post"] == 0.0


def test_measured_rows_schema():
    rows = [{"method": "tngd", "N": 100, "b": 64, "dz": 1, "seconds": 0.25},
            {"method": "ngd-cg", "N": 1e2, "b": 64, "dz": 2, "seconds": 1, "extra": "dropped"}]
    assert cost.check_measured_rows(rows) == [{"method": "tngd", "N": 100, "b": 64, "dz": 1, "seconds": 0.25},
                                              {"method": "ngd-cg", "N": 100, "b": 64, "dz": 2, "seconds": 1.0}]
    assert set(cost.MEASURED_KEYS) == {"method", "N", "b", "dz", "seconds"}
    good = rows[0]
    for bad in [{"rows": rows}, [dict(good, method="lbfgs")], [dict(good, seconds=0.0)], [dict(good, N=1.5)],
                [{k: v for k, v in good.items() if k != "dz"}], [dict(good, seconds=True)],
                [{"optimizer": "ngd-cg", "N": 2000, "m": 1280, "seconds": 0.25}]]:  # a raw tngd.bench row
        with pytest.raises(CostError):
            cost.check_measured_rows(bad)


def test_calibrate_host_recovers_known_host():
    true = Host(flop_rate_fps=3e10, memory_bw_bps=4e9, call_latency_s=2e-5)
    rows = []
    for mt, N, dz in [("adam", 2000, 10), ("ngd", 1500, 10), ("ngd-cg", 5000, 10), ("ngd-woodbury", 3000, 20),
                      ("ngd-cg", 50_000, 10), ("adam", 1_000_000, 10)]:
        rows.append({"method": mt, "N": N, "b": 64, "dz": dz,
                     "seconds": cost.digital_iteration_cost(mt, N, 64, dz, host=true).total_s})
    c = cost.tngd_iteration_cost(4000, 64, 20, host=true)
    rows.append({"method": "tngd", "N": 4000, "b": 64, "dz": 20, "seconds": c.detail["host_s"]})
    fit = cost.calibrate_host(rows)
    assert fit.flop_rate_fps == pytest.approx(3e10, rel=1e-6)
    assert fit.memory_bw_bps == pytest.approx(4e9, rel=1e-6)
    assert fit.call_latency_s == pytest.approx(2e-5, rel=1e-6)
    with pytest.raises(CostError):
        cost.calibrate_host(rows[:2])


def test_fig2_sweep_shape():
    sw = cost.fig2_sweep([1e3, 1e4, 1e5], [5, 20, 80], b=64, dz=20, N=10_000)
    tn = sw["vs_N"]["time_s"]["tngd"]
    assert len(tn) == 3 and tn[0] < tn[1] < tn[2]
    ngd = sw["vs_N"]["time_s"]["ngd"]
    assert ngd[2] / ngd[1] > 100  # cubic
    assert sw["vs_dz"]["time_s"]["ngd-woodbury"][2] > sw["vs_dz"]["time_s"]["ngd-woodbury"][0]
    assert sw["vs_N"]["fits_in_memory"]["ngd"] == [True, True, True]
    assert cost.fig2_sweep([1e6], [20])["vs_N"]["fits_in_memory"]["ngd"] == [False]  # 4 TB F


# ------------------------------------------------------------------------------ from circuits
def test_counts_from_integrator_array_match_netlist(tmp_path):
    A = sc.random_spd(6, 5.0, seed=3)
    A[0, 5] = A[5, 0] = 0.0  # one structural zero pair: no resistors
    A += 2 * np.eye(6)
    mc = sc.integrator_array(A, np.ones(6))
    load = cost.device_load(mc)
    nl = mc.netlist
    assert load.resistors == nl.count("R") and load.opamps == nl.count("U") and load.capacitors == nl.count("C")
    coupling = [n for n in nl.tables["R"].names if n[1:2].isdigit()]
    assert load.writes == len(coupling) + 6 == 34 + 6
    assert load.words == 21 - 1  # upper triangle without the zero pair
    assert load.n_dac == nl.count("V") == 6 and load.tau_s == pytest.approx(mc.tau_s)
    c = cost.solve_cost(circuit=mc)
    assert c.detail["tau_source"] == "circuit" and c.time_s["analog"] == pytest.approx(220 * mc.tau_s)
    path = tmp_path / "ia.cir"
    sc.write_spice(mc, path)
    again = cost.device_load(sc.read_spice(path))
    assert (again.resistors, again.writes, again.words, again.opamps) == (load.resistors, load.writes, load.words,
                                                                          load.opamps)
    assert again.tau_s == pytest.approx(mc.tau_s)


def test_counts_from_factored_circuit_match_netlist():
    from spucircuit.circuit.factored_array import factored_circuit

    rng = np.random.default_rng(0)
    N, b, dz = 9, 2, 3
    J = rng.standard_normal((b * dz, N))
    R = rng.standard_normal((b, dz, dz))
    H = R @ R.transpose(0, 2, 1) + np.eye(dz)
    fc = factored_circuit(J, H, 0.1, rng.standard_normal(N), netlist=True)
    load = cost.device_load(fc)
    nl = fc.netlist
    names = list(nl.tables["R"].names)
    assert load.resistors == nl.count("R") and load.opamps == nl.count("U") and load.capacitors == nl.count("C") == N
    per_update = [n for n in names if n.startswith(("RJ", "RT", "RH", "RIN"))]
    assert not load.h_fixed and load.writes == len(per_update)
    assert load.words == sum(n.startswith(("RJ", "RH")) for n in names)
    assert (load.N, load.b, load.dz, load.tau_s) == (N, b, dz, pytest.approx(fc.tau_s))
    c = cost.tngd_iteration_cost(circuit=fc, t_tau=10)
    assert c.time_s["analog"] == pytest.approx(10 * fc.tau_s) and c.detail["upload_mode"] == "jacobian"
    # a factor circuit (H = I, 1 x 1 blocks): H array fixed; the network's b, dz given explicitly
    fu = factored_circuit(J, None, 0.1, rng.standard_normal(N), netlist=True)
    lu = cost.device_load(fu, b=2, dz=3)
    assert lu.h_fixed and (lu.b, lu.dz) == (2, 3) and lu.words == np.count_nonzero(fu.components.G1)
    with pytest.raises(CostError, match="does not match"):
        cost.device_load(fu, b=4, dz=2)


def test_shipped_netlists():
    f = cost.device_load(sc.read_spice(os.path.join(NETLISTS, "factored_tngd_n8.cir")))
    assert f.architecture == "factored" and (f.N, f.b, f.dz) == (8, 2, 3)
    assert f.tau_s == pytest.approx(6.713219636746625e-07)  # the shipped mapping (bound scale: no host estimate)
    i = cost.device_load(sc.read_spice(os.path.join(NETLISTS, "tngd_fig6_3node.cir")))
    assert i.architecture == "integrator_array" and i.n_state == 3 and i.tau_s == pytest.approx(2e-6)
    assert i.writes == 9 + 3 and i.words == 6


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kw", [dict(dac_bits=0), dict(adc_bits=40), dict(resistor_bits=12.5), dict(link_bps=0),
                                dict(adc_rate_sps=-1.0), dict(n_dacs=0), dict(tau_s=float("nan")),
                                dict(write_energy_j=-1e-12), dict(write_lanes=2.5), dict(dac_bits="16")])
def test_bad_hardware(kw):
    with pytest.raises(CostError):
        Hardware(**kw)


def test_bad_inputs():
    for fn in [lambda: Host(flop_rate_fps=0), lambda: Host(memory_bw_bps=float("inf")),
               lambda: cost.solve_cost(0), lambda: cost.solve_cost(8, task="lu"), lambda: cost.solve_cost(),
               lambda: cost.solve_cost(8, samples=0), lambda: cost.solve_cost(8, lambda_min=0),
               lambda: cost.tngd_iteration_cost(10), lambda: cost.tngd_iteration_cost(10, 2, 2, t_tau=-1),
               lambda: cost.tngd_iteration_cost(10, 2, 2, upload="dense"),
               lambda: cost.digital_iteration_cost("lbfgs", 10, 2, 2),
               lambda: cost.digital_iteration_cost("adam", 10, 2, 2, measured_s=-1.0),
               lambda: cost.digital_work("ngd-cg", 10, 2, 2, cg_iters=0),
               lambda: cost.with_overrides(bogus=1), lambda: cost.with_overrides(link_bps="fast"),
               lambda: cost.device_load(42), lambda: cost.device_load("/nonexistent/x.cir")]:
        with pytest.raises(CostError) as ei:
            fn()
        assert isinstance(ei.value, sc.SPUError)
    mc = sc.integrator_array(sc.random_spd(3, 2.0, seed=0))
    with pytest.raises(CostError, match="factored"):
        cost.tngd_iteration_cost(circuit=mc)
    with pytest.raises(CostError, match="tngd_iteration_cost"):
        cost.solve_cost(circuit=sc.read_spice(os.path.join(NETLISTS, "factored_tngd_n8.cir")))


def test_overrides_and_params_table():
    hw, host = cost.with_overrides(tau_s="2us", link_bps="100e9", dac_bits="8", call_latency_s=0)
    assert hw.tau_s == pytest.approx(2e-6) and hw.link_bps == 100e9 and hw.dac_bits == 8 and host.call_latency_s == 0
    rows = cost.params_table(hw, host)
    names = [r[0] for r in rows]
    assert set(names) == set(cost.SOURCES) and len(names) == len(set(names))
    src = dict((r[0], r[3]) for r in rows)
    assert src["link_bps"].startswith("set") and src["adc_bits"].startswith("paper")
    assert all(("paper" in s) or ("assumption" in s) or ("A100" in s) or ("FP32" in s) for s in cost.SOURCES.values()
               for s in [s[1]])


# ------------------------------------------------------------------------------ CLI
@pytest.mark.parametrize("argv", [["cost", "--help"], ["cost", "solve", "--help"], ["cost", "tngd", "--help"],
                                  ["cost", "params", "--help"]])
def test_cli_help(argv, capsys):
    with pytest.raises(SystemExit) as ei:
        main(argv)
    assert ei.value.code == 0
    assert "usage: spu cost" in capsys.readouterr().out


def test_cli_tngd_json_and_plot(tmp_path, capsys):
    js, png = tmp_path / "c.json", tmp_path / "c.png"
    rc = main(["cost", "tngd", "--params", "1e4", "--batch", "64", "--outputs", "20", "--t", "50",
               "--json", str(js), "--plot", str(png), "--set", "link_bps=100e9"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "NGD-Woodbury" in out and "upload" in out
    d = _strict(js.read_text())
    assert d["costs"]["tngd"]["detail"]["N"] == 10_000 and d["hardware"]["link_bps"] == 100e9
    assert d["costs"]["tngd"]["total_s"] == pytest.approx(
        cost.tngd_iteration_cost(10_000, 64, 20, hw=Hardware(link_bps=100e9)).total_s)
    assert set(d["sweep"]["vs_N"]["time_s"]) >= {"ngd", "ngd-cg", "ngd-woodbury", "tngd"}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_solve_netlist_params_measured(tmp_path, capsys):
    js = tmp_path / "s.json"
    assert main(["cost", "--tau", "2us", "solve", "--n", "1024", "--json", str(js)]) == 0
    d = _strict(js.read_text())
    assert d["cost"]["detail"]["tau_s"] == pytest.approx(2e-6)
    assert main(["cost", "solve", "--n", "1024"]) == 0
    assert "442.6 us" in capsys.readouterr().out
    assert main(["cost", "solve", "--n", "1024", "--ranging-passes", "0"]) == 0
    assert "388.6 us" in capsys.readouterr().out
    assert main(["cost", "--netlist", os.path.join(NETLISTS, "factored_tngd_n8.cir")]) == 0
    assert "N = 8, b = 2, dz = 3" in capsys.readouterr().out
    assert main(["cost", "--netlist", os.path.join(NETLISTS, "integrator16_cond20.cir"), "--json", str(js)]) == 0
    assert _strict(js.read_text())["cost"]["detail"]["tau_source"] == "circuit"
    assert main(["cost", "params"]) == 0
    assert "assumption" in capsys.readouterr().out
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps([{"method": "ngd-cg", "N": 2000, "b": 64, "dz": 20, "seconds": 0.25}]))
    assert main(["cost", "tngd", "--params", "2000", "--batch", "64", "--outputs", "20", "--measured", str(bench)]) == 0
    assert "measured" in capsys.readouterr().out
    raw = tmp_path / "raw.json"  # rows of tngd.bench --json, not normalised: a one-line error
    raw.write_text(json.dumps([{"optimizer": "ngd-cg", "N": 2000, "m": 1280, "seconds": 0.25}]))
    assert main(["cost", "tngd", "--params", "2000", "--measured", str(raw)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spu cost: error:") and "method, N, b, dz, seconds" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv", [["cost"], ["cost", "solve"], ["cost", "solve", "--n", "0"],
                                  ["cost", "tngd", "--params", "0"], ["cost", "tngd", "--params", "1.5"],
                                  ["cost", "solve", "--n", "8", "--set", "nope=1"],
                                  ["cost", "solve", "--n", "8", "--set", "link_bps=0"],
                                  ["cost", "solve", "--n", "8", "--set", "link_bps"],
                                  ["cost", "--bits", "64", "solve", "--n", "8"],
                                  ["cost", "--netlist", "/nonexistent.cir"],
                                  ["cost", "tngd", "--params", "100", "--measured", "/nonexistent.json"]])
def test_cli_errors(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("spu cost: error:") and len(err.strip().splitlines()) == 1


def test_cost_core_is_pure():
    """spucircuit.studies.cost imports no plotting, progress, argparse or tngd and opens no files:
    tables, plots and files live in spucircuit.report / spucircuit.cli."""
    import ast
    import pathlib

    import spucircuit.studies.cost as pkg

    for path in pathlib.Path(pkg.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for nm in names:
                    assert nm.split(".")[0] not in {"matplotlib", "tqdm", "argparse", "tngd"}, (path.name, nm)
                    assert not nm.startswith(("spucircuit.report", "spucircuit.cli", "spucircuit.io")), (path.name, nm)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "open", path.name


def test_tngd_runtime_is_measured_digital_plus_modelled_device():
    """The one hardware-time formula tngd uses: digital + upload + analog + readout of the model."""
    c = cost.tngd_iteration_cost(30_000, 64, 10, t_tau=50)
    dev = c.time_s["upload"] + c.time_s["analog"] + c.time_s["readout"]
    assert cost.tngd_runtime_s(30_000, 64, 10, t_tau=50) == pytest.approx(dev, rel=1e-15)
    assert cost.tngd_runtime_s(30_000, 64, 10, t_tau=50, digital_s=0.5) == pytest.approx(0.5 + dev, rel=1e-15)
    hw2 = Hardware(tau_s=2e-6)
    assert (cost.tngd_runtime_s(30_000, 64, 10, t_tau=50, hw=hw2) - cost.tngd_runtime_s(30_000, 64, 10, t_tau=50)
            == pytest.approx(50e-6, rel=1e-9))
