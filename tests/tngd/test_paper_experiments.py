"""examples/paper_experiments.py (issue 14, item 4): which runs a sweep trains, how the x0 modes are
labelled and served, and a tiny sweep end to end (runs, summary, table, plots)."""
import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "paper_experiments.py"


@pytest.fixture(scope="module")
def pe():
    spec = importlib.util.spec_from_file_location("paper_experiments", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_paper_mode_with_a_delay_is_served_by_the_warm_run(pe):
    per, unique, alias = pe.configs(["a", "b", "c", "d"], [4], 4, [4], ["paper", "warm"], twin_bits=8)
    labels = [lab for _, lab, _ in unique]
    assert len(labels) == len(set(labels)) == 21  # 12 paper-mode (incl. Adam, NGD, twin) + 9 warm-only
    # td > 0 keeps the state in paper mode: one run each, served to both labels
    assert alias["tngd t=5 td=0.2"] == "tngd t=5 td=0.2 [paper]" and alias["tngd t=5 td=1"] == "tngd t=5 td=1 [paper]"
    # td = 0 differs: reset in paper mode, warm otherwise
    assert alias["tngd t=5 td=0"] == "tngd t=5" and alias["tngd t=5 td=0 [paper]"] == "tngd t=5 [paper]"
    twin = [kw for _, lab, kw in unique if lab.startswith("twin")]
    assert twin == [dict(optimizer="tngd", lr=0.01, t=50.0, td=0.0, kappa0=0.0, solver="factored", x0="paper",
                         bits=8, mitigation=1)]
    assert {g for g, lab, _ in per if lab.startswith("twin")} == {"a", "b"}


@pytest.mark.parametrize("label, mode, base", [("tngd t=5 [paper]", "paper", "tngd t=5"), ("tngd t=5", "warm", "tngd t=5"),
                                               ("adam", None, "adam"), ("twin t=50 8 bits [reset]", "reset",
                                                                        "twin t=50 8 bits")])
def test_label_modes(pe, label, mode, base):
    assert pe.label_mode(label) == (mode, base)


def test_a_tiny_sweep_end_to_end(pe, tmp_path):
    """Group c on the 8x8 digits for a few steps in both modes: every run JSON records its x0 and
    the curvature log, td > 0 runs once for both modes, and the summary, table and plot exist."""
    argv = ["--groups", "c", "--seeds", "0", "--epochs", "1.5", "--dataset", "digits", "--n-train", "300",
            "--n-test", "50", "--x0", "paper,warm", "--smooth", "5", "--jobs", "1", "--out", str(tmp_path)]
    assert pe.main(argv) == 0
    runs = {p.name for p in (tmp_path / "runs").iterdir()}
    assert runs == {"tngd_t5_td0_[paper]_s0.json", "tngd_t5_td0_s0.json", "tngd_t5_td0.2_[paper]_s0.json",
                    "tngd_t5_td1_[paper]_s0.json"}
    paper = json.loads((tmp_path / "runs" / "tngd_t5_td0_[paper]_s0.json").read_text())
    warm = json.loads((tmp_path / "runs" / "tngd_t5_td0_s0.json").read_text())
    assert paper["settings"]["x0"] == "paper" and "x0" not in warm["settings"]
    assert paper["loss"] != warm["loss"] and len(paper["curvature"]["ggn_top"]) == len(paper["loss"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    c = summary["c"]["configs"]
    assert c["tngd t=5 td=1"]["train_loss"] == c["tngd t=5 td=1 [paper]"]["train_loss"]
    assert (tmp_path / "c_delay.png").stat().st_size > 10_000
    table = (tmp_path / "table.md").read_text()
    assert table.count("\n") == 2 + 6 and "| c | tngd t=5 td=0 | paper | 1 |" in table


def test_the_first_iteration_the_papers_euler_step_cannot_take(pe):
    run = {"curvature": {"ggn_top": [1.0, 19.0, 20.5, 3.0, 25.0], "euler_top_limit": 19.99}}
    assert pe.euler_unstable_from(run) == 2
    assert pe.euler_unstable_from({"curvature": {"ggn_top": [1.0, 2.0], "euler_top_limit": 19.99}}) is None
    assert pe.euler_unstable_from({"loss": [1.0]}) is None
