"""The training-step cost benchmark (benchmarks/train_cost.py, tngd.bench) at tiny sizes: structure
only, no wall-clock assertions."""
import json
import math
import sys
from pathlib import Path

import pytest

from spucircuit.cli import main as spu_main
from spucircuit.studies.cost import check_measured_rows, tngd_runtime_s
from tngd import bench

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import train_cost  # noqa: E402

CASES = bench.DEFAULT_CASES + ("sgd", "tngd-adam")
TINY = dict(hidden=(2, 3), inputs=12, batch=6, classes=3, repeats=2, budget_s=0.0)


@pytest.fixture(scope="module")
def result(one_blas_thread):
    return train_cost.run_benchmark(quick=True, log=lambda s: None, cases=CASES, max_dense_n=45, **TINY)


def test_every_case_at_every_size_except_skipped_dense_ngd(result):
    ns = sorted({r["N"] for r in result["rows"]})
    assert ns == [(12 + 1 + 3) * h + 3 for h in TINY["hidden"]]  # MLP 12-h-3
    for n in ns:
        cases = {r["case"] for r in result["rows"] if r["N"] == n}
        assert cases == set(CASES) - ({"ngd"} if n > 45 else set())
    assert set(result["slopes"]) == set(CASES)
    assert "ngd (dense) skipped at N = 51" in train_cost.format_table(result)


def test_parts_sum_to_total_and_are_nonnegative(result):
    for r in result["rows"]:
        parts = [r[f"{p}_s"] for p in bench.PHASES]
        assert all(v >= 0 for v in parts), r
        assert math.isclose(sum(parts), r["seconds"], rel_tol=1e-12)
        assert r["repeats"] == TINY["repeats"] and r["finite"]
        assert all(len(r["rounds_s"][p]) == r["repeats"] for p in bench.PHASES)
        if r["optimizer"] in ("sgd", "adam", "ngd-cg", "ngd", "ngd-woodbury"):
            assert r["upload_s"] == 0.0 and r["analog_s"] == 0.0 and "hw_iteration_s" not in r
        else:  # TNGD: upload and analog parts measured, hardware estimate from the timing model
            assert r["upload_s"] > 0 and r["analog_s"] > 0
            hw = tngd_runtime_s(r["N"], r["b"], r["dz"], t_tau=result["t_tau"])  # the one hardware formula
            assert math.isclose(r["hw_analog_s"], hw)
            assert math.isclose(r["hw_iteration_s"], r["grad_s"] + r["curvature_s"] + r["update_s"] + hw)
            if r["solver"] == "factored":
                assert 0 < r["analog_setup_s"] <= r["analog_s"]


def test_target_rows_and_slopes(result):
    tg = result["target"]
    assert tg["N"] == max(r["N"] for r in result["rows"])  # the size closest to 1e4
    assert {r["case"] for r in tg["rows"]} == {"tngd-twin", "tngd-twin-quiet"}
    for case, s in result["slopes"].items():
        assert s["sizes"] and (s["total"] is None or math.isfinite(s["total"]))
    table = train_cost.format_table(result)
    assert "issue-5 target, tngd-twin " in table and "log-log slope" in table


def test_json_round_trip(result, tmp_path):
    path = train_cost.write_json(result, tmp_path / "out" / "train_cost.json")
    back = json.loads(Path(path).read_text())
    assert back["rows"] == json.loads(json.dumps(result["rows"]))
    assert back["benchmark"] == "train_cost" and back["machine"]["cpus"]


def test_cli_writes_rows(tmp_path, capsys, one_blas_thread):
    out = tmp_path / "rows.json"
    assert bench.main(["--inputs", "8", "--hidden", "2", "--batch", "4", "--classes", "3", "--repeats", "1",
                       "--optimizers", "adam,tngd", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r["case"] for r in rows] == ["adam", "tngd"]
    assert "tngd" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bench.main(["--optimizers", "nope"])


def test_measured_rows_normalise_bench_rows():
    """Old (digital_s) and new (grad_s + curvature_s + update_s) rows; the twin cases left out."""
    rows = [{"optimizer": "tngd", "N": 100, "seconds": 9.0, "digital_s": 0.25},
            {"optimizer": "tngd", "case": "tngd", "N": 200, "m": 128, "seconds": 9.0, "grad_s": 0.1,
             "curvature_s": 0.2, "upload_s": 4.0, "analog_s": 4.0, "update_s": 0.3},
            {"optimizer": "tngd", "case": "tngd-twin", "N": 200, "m": 128, "seconds": 1.0},
            {"optimizer": "ngd-cg", "N": 100, "seconds": 0.01}]
    norm = bench.measured_rows(rows, 64, dz=1)
    assert [(r["method"], r["N"], r["dz"], r["seconds"]) for r in norm] == [
        ("tngd", 100, 1, 0.25), ("tngd", 200, 2, pytest.approx(0.6)), ("ngd-cg", 100, 1, 0.01)]
    assert check_measured_rows(norm) == norm  # exactly the schema spu cost --measured reads


def test_cost_json_is_read_by_spu_cost(tmp_path, capsys, one_blas_thread):
    out = tmp_path / "rows.json"
    assert bench.main(["--inputs", "8", "--hidden", "2", "--batch", "4", "--classes", "3", "--repeats", "1",
                       "--optimizers", "adam,tngd,tngd-twin-quiet", "--cost-json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [(r["method"], r["b"], r["dz"]) for r in rows] == [("adam", 4, 3), ("tngd", 4, 3)]
    capsys.readouterr()
    assert spu_main(["cost", "tngd", "--params", str(rows[0]["N"]), "--batch", "4", "--outputs", "3",
                     "--measured", str(out)]) == 0
    assert "measured" in capsys.readouterr().out
