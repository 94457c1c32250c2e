"""The ``spu`` command line, in-process (spucircuit.cli.main) and once as a real subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import spucircuit as sc
from spucircuit.cli import main

N = 5


def _strict_loads(text):
    """json.loads that refuses NaN / Infinity (not JSON)."""
    def bad(c):
        raise ValueError(f"non-standard JSON constant {c}")
    return json.loads(text, parse_constant=bad)


@pytest.fixture()
def files(tmp_path):
    A = sc.random_spd(N, 6.0, seed=11)
    b = np.linspace(-1.0, 2.0, N)
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "b.npy", b)
    bad = A.copy()
    bad[0, 0] = -1.0  # symmetric, not positive definite
    np.save(tmp_path / "bad.npy", bad)
    return tmp_path, A, b


def _solve_json(capsys, tmp, extra=(), out="x.npy"):
    argv = ["solve", "--matrix", str(tmp / "A.npy"), "--rhs", str(tmp / "b.npy"), "--json", *extra]
    if out:
        argv += ["--out", str(tmp / out)]
    assert main(argv) == 0
    cap = capsys.readouterr()
    lines = cap.out.strip().splitlines()
    assert len(lines) == 1, cap.out  # exactly one JSON object, nothing else on stdout
    return _strict_loads(lines[0])


# ----------------------------------------------------------------- solve


def test_solve_json_output(files, capsys):
    tmp, A, b = files
    d = _solve_json(capsys, tmp, ["--seed", "1"])
    assert isinstance(d, dict)
    for k in ("x", "relative_error", "standard_error", "analog_time_s", "components"):
        assert k in d
    x = np.array(d["x"])
    x_ref = np.linalg.solve(A, b)
    assert x.shape == (N,)
    assert d["relative_error"] == pytest.approx(np.linalg.norm(x - x_ref) / np.linalg.norm(x_ref), rel=1e-9)
    assert d["relative_error"] < 1e-4
    assert len(d["standard_error"]) == N
    assert d["analog_time_s"] > 0 and d["tau_s"] > 0
    assert d["components"]["integrators"] == N and d["components"]["capacitors"] == N
    assert d["components"]["total"] == sc.integrator_array(A, b).component_counts()["total"]
    # the file holds exactly the printed x
    np.testing.assert_array_equal(np.load(tmp / "x.npy"), x)
    assert d["out"] == str(tmp / "x.npy")


def test_solve_seed_reproducible(files, capsys):
    tmp, A, b = files
    d1 = _solve_json(capsys, tmp, ["--seed", "1", "--time", "60tau"], out="x1.npy")
    d2 = _solve_json(capsys, tmp, ["--seed", "1", "--time", "60tau"], out="x2.npy")
    d3 = _solve_json(capsys, tmp, ["--seed", "2", "--time", "60tau"], out="x3.npy")
    assert d1["x"] == d2["x"]
    np.testing.assert_array_equal(np.load(tmp / "x1.npy"), np.load(tmp / "x2.npy"))
    assert d1["x"] != d3["x"]
    # different noise, same answer to within the thermal noise
    np.testing.assert_allclose(d1["x"], d3["x"], rtol=1e-3, atol=1e-3)


def test_solve_time_is_honoured(files, capsys):
    tmp, A, b = files
    d = _solve_json(capsys, tmp, ["--seed", "3", "--time", "50tau"], out=None)
    tau, dt = d["tau_s"], d["dt_s"]
    assert abs(d["burn_in_s"] + d["window_s"] - 50 * tau) <= dt * (1 + 1e-9)
    # the ranging pass comes on top and is counted
    assert d["scale"]["method"] == "autorange" and d["scale"]["ranging_time_s"] > 0
    assert d["analog_time_s"] == pytest.approx(d["burn_in_s"] + d["window_s"] + d["scale"]["ranging_time_s"])
    assert d["burn_in_s"] < d["window_s"] + d["burn_in_s"]
    assert d["out"] is None
    d2 = _solve_json(capsys, tmp, ["--seed", "3", "--time", "120tau", "--burn-in", "30tau", "--scale", "bound"],
                     out=None)
    assert abs(d2["analog_time_s"] - 120 * tau) <= d2["dt_s"] * (1 + 1e-9)  # no ranging at the bound
    assert abs(d2["burn_in_s"] - 30 * tau) <= 0.5 * d2["dt_s"] * (1 + 1e-9)  # whole steps
    # seconds work too
    d3 = _solve_json(capsys, tmp, ["--seed", "3", "--time", f"{80 * tau!r}"], out=None)
    assert abs(d3["burn_in_s"] + d3["window_s"] - 80 * tau) <= d3["dt_s"] * (1 + 1e-9)


def test_solve_json_is_strict_even_without_enough_batches(files, capsys):
    # a very short run leaves too few batches for a standard error: null, never NaN
    tmp, A, b = files
    d = _solve_json(capsys, tmp, ["--seed", "1", "--time", "30tau"], out=None)
    assert all(se is None or np.isfinite(se) for se in d["standard_error"])


def test_solve_human_output(files, capsys):
    tmp, A, b = files
    assert main(["solve", "--matrix", str(tmp / "A.npy"), "--rhs", str(tmp / "b.npy"), "--seed", "1",
                 "--out", str(tmp / "xh.npy")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"solved n = {N} on the twin: relative error ")
    assert f"x written to {tmp / 'xh.npy'}" in out
    assert np.load(tmp / "xh.npy").shape == (N,)


def test_solve_euler_scheme_and_no_noise(files, capsys):
    tmp, A, b = files
    # burn-in = 20 / lambda_min tau: the transient left is e^-20; Euler's fixed point is exact (the
    # oracle's spectrum bounds the transient; a device's own bound, from kappa_max, is far looser)
    d = _solve_json(capsys, tmp, ["--scheme", "euler", "--no-noise", "--time", "600tau", "--scale", "oracle"], out=None)
    assert d["scheme"] == "euler"
    assert d["relative_error"] < 1e-6
    assert d["transient_bias_bound"] < 1e-7


# ------------------------------------------------------------------- map


def test_map_writes_circuit_json(files, capsys):
    tmp, A, b = files
    out = tmp / "sub" / "circuit.json"
    assert main(["map", "--matrix", str(tmp / "A.npy"), "--rhs", str(tmp / "b.npy"), "-o", str(out)]) == 0
    msg = capsys.readouterr().out
    assert msg.startswith(f"mapped n = {N}: ") and str(out) in msg
    # (lenient load: ideal op-amps have gain inf, written as Infinity)
    d = json.loads(out.read_text())
    mc = sc.integrator_array(A, b)
    assert d["n"] == N and d["architecture"] == "integrator_array"
    comps = d["components"]
    assert isinstance(comps, list) and len(comps) == mc.component_counts()["total"]
    assert all(set(c) >= {"name", "kind", "nodes", "value"} for c in comps)
    sc_ = d["scales"]
    for k in ("tau_s", "g_unit_S", "v_unit_V", "C_F", "R0_ohm", "r_in_ohm"):
        assert k in sc_
    assert sc_["tau_s"] == pytest.approx(sc_["C_F"] / sc_["g_unit_S"], rel=1e-12)
    assert sc_["tau_s"] == pytest.approx(mc.tau_s, rel=1e-12)
    assert d["readout"]["output_nodes"] == [f"x{i}" for i in range(N)]
    # coupling resistors realise A: R_ij = 1 / (g_unit |A_ij|)
    byname = {c["name"]: c for c in comps}
    for i in range(N):
        for j in range(N):
            assert byname[f"R{i}_{j}"]["value"] * sc_["g_unit_S"] * abs(A[i, j]) == pytest.approx(1.0, rel=1e-12)
    # DAC voltages encode b
    vin = np.array([byname[f"VIN{i}"]["value"] for i in range(N)])
    np.testing.assert_allclose(vin, -sc_["r_in_ohm"] * sc_["g_unit_S"] * sc_["v_unit_V"] * b, rtol=1e-12)
    assert d["inputs"]["b"] == pytest.approx(list(b))


def test_map_options(files, capsys):
    tmp, A, b = files
    out = tmp / "c2.json"
    assert main(["map", "--matrix", str(tmp / "A.npy"), "-o", str(out), "--c", "2e-9", "--r-min", "2e3",
                 "--noise-psd", "1e-22"]) == 0
    d = json.loads(out.read_text())
    assert d["scales"]["C_F"] == 2e-9
    assert d["scales"]["R0_ohm"] == pytest.approx(2e3 * np.abs(A).max(), rel=1e-12)
    assert d["component_counts"]["white_noise_current_sources"] == N
    assert d["inputs"]["b"] == [0.0] * N


# ------------------------------------------------------------------ help


@pytest.mark.parametrize("argv, expect", [
    (["--help"], "usage: spu"),
    (["solve", "--help"], "usage: spu solve"),
    (["inv", "--help"], "usage: spu inv"),
    (["map", "--help"], "usage: spu map"),
    (["demo", "--help"], "usage: spu demo"),
])
def test_help(argv, expect, capsys):
    with pytest.raises(SystemExit) as ei:
        main(argv)
    assert ei.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(expect)
    if argv[0] != "--help":
        assert "--matrix" in out or "--n" in out


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as ei:
        main([])
    assert ei.value.code == 2
    assert "required" in capsys.readouterr().err


# ---------------------------------------------------------------- errors


def _check_one_line_error(capsys, *words):
    cap = capsys.readouterr()
    err = cap.err.strip()
    assert len(err.splitlines()) == 1, cap.err
    assert "error:" in err
    for w in words:
        assert w in err
    assert cap.out == ""
    return err


def test_missing_file(files, capsys):
    tmp, A, b = files
    rc = main(["solve", "--matrix", str(tmp / "nope.npy"), "--rhs", str(tmp / "b.npy"), "--out", str(tmp / "o.npy")])
    assert rc == 2
    _check_one_line_error(capsys, "spu solve: error:", "matrix file not found", "nope.npy")
    assert not (tmp / "o.npy").exists()
    rc = main(["solve", "--matrix", str(tmp / "A.npy"), "--rhs", str(tmp / "nob.npy"), "--out", str(tmp / "o.npy")])
    assert rc == 2
    _check_one_line_error(capsys, "right-hand side file not found")
    assert not (tmp / "o.npy").exists()


def test_unreadable_file(files, capsys):
    tmp, A, b = files
    (tmp / "junk.npy").write_text("not numpy")
    rc = main(["map", "--matrix", str(tmp / "junk.npy"), "-o", str(tmp / "c.json")])
    assert rc == 2
    _check_one_line_error(capsys, "cannot read matrix file")
    assert not (tmp / "c.json").exists()


@pytest.mark.parametrize("cmd", ["solve", "inv", "map"])
def test_non_spd_matrix(files, capsys, cmd):
    tmp, A, b = files
    target = tmp / ("out.json" if cmd == "map" else "out.npy")
    argv = [cmd, "--matrix", str(tmp / "bad.npy")]
    argv += ["-o", str(target)] if cmd == "map" else ["--out", str(target)]
    if cmd == "solve":
        argv += ["--rhs", str(tmp / "b.npy")]
    assert main(argv) == 2
    _check_one_line_error(capsys, f"spu {cmd}: error:", "A is not positive definite: smallest eigenvalue")
    assert not target.exists()
    assert sorted(os.listdir(tmp)) == ["A.npy", "b.npy", "bad.npy"]  # no temporary left behind


def test_rhs_shape_and_bad_time(files, capsys):
    tmp, A, b = files
    np.save(tmp / "b3.npy", np.ones(3))
    assert main(["solve", "--matrix", str(tmp / "A.npy"), "--rhs", str(tmp / "b3.npy")]) == 2
    _check_one_line_error(capsys, f"b has wrong shape (3,): expected ({N},)")
    assert main(["solve", "--matrix", str(tmp / "A.npy"), "--rhs", str(tmp / "b.npy"), "--time", "abc"]) == 2
    _check_one_line_error(capsys, "cannot parse time 'abc'")
    assert main(["solve", "--matrix", str(tmp / "A.npy"), "--rhs", str(tmp / "b.npy"),
                 "--scheme", "euler", "--dt", "1.0"]) == 2
    _check_one_line_error(capsys, "unstable", "largest stable step")


# ------------------------------------------------------------ subprocess


def _run(args, cwd):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, "-m", "spucircuit.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env=env)


def test_subprocess_solve_and_error(files):
    tmp, A, b = files
    p = _run(["solve", "--matrix", "A.npy", "--rhs", "b.npy", "--out", "x.npy", "--json", "--seed", "1"], tmp)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 1
    d = _strict_loads(lines[0])
    assert d["relative_error"] < 1e-4
    np.testing.assert_array_equal(np.load(tmp / "x.npy"), np.array(d["x"]))
    p = _run(["solve", "--matrix", "bad.npy", "--rhs", "b.npy", "--out", "y.npy"], tmp)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [p.stderr.strip()]
    assert p.stderr.startswith("spu solve: error: A is not positive definite")
    assert not (tmp / "y.npy").exists()


# ------------------------------------------------------------------ demo


def test_demo_writes_plot_and_json(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--n", "6", "--out", str(out), "--seed", "4"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("SPU twin demo: n = 6")
    png = (out / "relaxation.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    d = _strict_loads((out / "demo.json").read_text())
    assert d["n"] == 6 and d["seed"] == 4
    A_rng = np.random.default_rng(4)
    A = sc.random_spd(6, cond=20.0, seed=A_rng.integers(2**32))
    b = A_rng.standard_normal(6)
    np.testing.assert_allclose(d["x_exact"], np.linalg.solve(A, b), rtol=1e-10)
    assert d["relative_error"] < 1e-4
    assert d["components"]["integrators"] == 6
    assert sorted(os.listdir(out)) == ["demo.json", "relaxation.png"]
