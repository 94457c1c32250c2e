"""Issue 17, item 3: the work estimate of a command is made before the work, printed for long runs
and recorded in the JSON (benchmarks/estimates.py measures wall / estimate; tests assert no times)."""
import json

import numpy as np

from spucircuit.cli import main as spu
from spucircuit.device import base


def test_long_runs_announce_their_estimate_and_the_json_records_the_total(tmp_path, capsys, monkeypatch):
    np.save(tmp_path / "A.npy", np.diag([2.0, 3.0, 4.0]))
    np.save(tmp_path / "b.npy", np.ones(3))
    monkeypatch.setattr(base, "ANNOUNCE_S", 0.0)  # announce every run (a real one needs >= 2 s)
    seen = []
    run_cost = base.run_cost_s
    monkeypatch.setattr(base, "run_cost_s", lambda *a: seen.append(run_cost(*a)) or seen[-1])
    assert spu(["solve", "--matrix", str(tmp_path / "A.npy"), "--rhs", str(tmp_path / "b.npy"), "--json"]) == 0
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if "estimated" in ln]
    assert len(lines) == len(seen) >= 2  # a ranging pass, the burn-in and the averaging run
    assert all(ln.startswith("spu solve: estimated ") and " s of computing (" in ln for ln in lines)
    est = json.loads(out)["estimated_compute_s"]
    setup = base.SETUP_COST_S[0] + sum(base.setup_cost_s(k) for k in (3,))  # at least one device of 3 states
    assert est >= setup + sum(seen) - 1e-12 and est < setup * 10 + sum(seen)
    assert base.ON_ESTIMATE is None  # the command's printer is removed when it ends


def test_tngd_projects_a_run_from_its_first_steps(tmp_path, capsys, monkeypatch):
    import tngd.cli as tcli

    monkeypatch.setattr(tcli, "ANNOUNCE_S", 0.0)
    got = []
    real = tcli.train

    def spy(*a, on_estimate, **k):
        return real(*a, on_estimate=lambda s: (got.append(s), on_estimate(s)), **k)

    monkeypatch.setattr(tcli, "train", spy)
    assert tcli.main(["train", "--dataset", "digits", "--hidden", "3", "--steps", "6", "--no-progress",
                      "--out", str(tmp_path / "r.json")]) == 0
    err = capsys.readouterr().err
    assert len(got) == 1 and got[0] > 0
    assert f"tngd train: estimated {got[0]:.3g} s for 6 steps (from the first 4)" in err
