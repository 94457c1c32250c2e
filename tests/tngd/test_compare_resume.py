"""``tngd compare`` loses no finished run: each is journaled in OUT_DIR/compare.partial.jsonl as it
ends; Ctrl-C keeps them and says so in one line (exit 130); ``--resume`` trains only the missing
runs and writes the compare.json an uninterrupted comparison writes; a journal is never reused
silently (without --resume, or from another comparison: exit 2)."""
import json
import os
import signal
import time

import pytest

from spucircuit.report.journal import Journal
from tngd import cli
from tngd.cli import main
from tngd.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_blas_thread")

# 4 runs (sgd, adam x seeds 0, 1) of 3 steps each: a second or two in all
ARGS = ["compare", "--dataset", "digits", "--model", "mlp", "--hidden", "3", "--steps", "3",
        "--optimizers", "sgd,adam", "--seeds", "0,1", "--no-progress", "--out-dir", "out"]
JOBS = [("sgd", 0), ("sgd", 1), ("adam", 0), ("adam", 1)]
TIMES = ("wall_time_s", "runtime_estimate_s")  # measured wall-clock times: differ from run to run
RUN_ONE = cli.run_one


def _without_times(result: dict) -> dict:
    """compare.json's content without the measured times of each run (everything else is exact)."""
    return {**result, "runs": [{k: v for k, v in r.items() if k not in TIMES} for r in result["runs"]]}


def _journal_rows(path) -> list:
    """The finished runs recorded in a journal file, in the order they were written."""
    return [json.loads(line)["row"] for line in path.read_text().splitlines()[1:]]


def _record_runs(monkeypatch, ctrl_c_at=None):
    """Replace tngd.cli.run_one by a wrapper that records (optimizer, seed) of each run; at call
    number ``ctrl_c_at`` (0-based) it sends this process a real SIGINT instead of training."""
    ran = []

    def run_one(a, dataset, optimizer, lr, seed, progress, **kw):
        if len(ran) == ctrl_c_at:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(10)  # the handler raises KeyboardInterrupt before this ends
            raise AssertionError("SIGINT did not interrupt the comparison")
        ran.append((optimizer, seed))
        return RUN_ONE(a, dataset, optimizer, lr, seed, progress, **kw)

    monkeypatch.setattr(cli, "run_one", run_one)
    return ran


def _forbid_training(monkeypatch):
    """Make any training fail the test (the command must stop before it)."""
    def run_one(*args, **kw):
        raise AssertionError("a run was trained")

    monkeypatch.setattr(cli, "run_one", run_one)


@pytest.fixture
def sigint_restored():
    """The test's own SIGINT handler back after a test that sends SIGINT (tngd leaves it ignored)."""
    old = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, old)


def test_ctrl_c_keeps_the_finished_runs_and_resume_completes_them_identically(tmp_path, monkeypatch, capsys,
                                                                               sigint_restored):
    """An uninterrupted comparison in one folder; in another, Ctrl-C during the third run, then
    --resume. The resumed compare.json equals the uninterrupted one in everything but the measured
    times (wall_time_s, runtime_estimate_s of each run), and its first two runs are the journaled
    ones exactly, times included (the journal round-trips every float)."""
    (tmp_path / "ref").mkdir()
    monkeypatch.chdir(tmp_path / "ref")
    assert main(ARGS) == 0
    want = json.loads((tmp_path / "ref" / "out" / "compare.json").read_text())
    assert not (tmp_path / "ref" / "out" / "compare.partial.jsonl").exists()
    capsys.readouterr()

    (tmp_path / "cut").mkdir()
    monkeypatch.chdir(tmp_path / "cut")
    out = tmp_path / "cut" / "out"
    ran = _record_runs(monkeypatch, ctrl_c_at=2)
    assert main(ARGS) == 130
    err = capsys.readouterr().err
    assert err == ("tngd: interrupted after 2 of 4 runs; the finished ones are kept in out/compare.partial.jsonl: "
                   "rerun the same command with --resume\n")
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # a second Ctrl-C cannot break the exit
    assert ran == JOBS[:2]
    kept = _journal_rows(out / "compare.partial.jsonl")
    assert [(r["settings"]["optimizer"], r["settings"]["seed"]) for r in kept] == JOBS[:2]
    assert sorted(p.name for p in out.iterdir()) == ["compare.partial.jsonl"]  # no compare.json, no plot

    ran = _record_runs(monkeypatch)
    assert main(ARGS + ["--resume"]) == 0
    assert ran == JOBS[2:]
    assert not (out / "compare.partial.jsonl").exists()
    got = json.loads((out / "compare.json").read_text())
    assert got["runs"][:2] == kept
    assert _without_times(got) == _without_times(want)
    assert sorted(p.name for p in out.iterdir()) == sorted(["compare.json", *cli.PLOTS])


def test_an_existing_journal_is_refused_without_resume(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    journal = tmp_path / "out" / "compare.partial.jsonl"
    journal.parent.mkdir()
    Journal(str(journal), "0" * 64, resume=False)
    before = journal.read_bytes()
    _forbid_training(monkeypatch)
    assert main(ARGS) == 2
    err = capsys.readouterr().err
    assert err.startswith("tngd: error: out/compare.partial.jsonl holds the finished tasks of an interrupted "
                          "comparison: rerun with --resume") and err.count("\n") == 1
    assert journal.read_bytes() == before and sorted(p.name for p in journal.parent.iterdir()) == [journal.name]


@pytest.mark.parametrize("change", [["--steps", "4"], ["--seeds", "0,2"], ["--optimizers", "adam,sgd"],
                                    ["--lr", "0.5"], ["--lr", "sgd=0.1"], ["--hidden", "4"], ["--n-train", "500"],
                                    ["--eval-every", "2"], ["--damping", "0.1"]])
def test_a_journal_of_another_comparison_is_refused(tmp_path, monkeypatch, capsys, sigint_restored, change):
    """Ctrl-C before the first run ends leaves a journal (no runs) of this comparison; resuming
    with any option that changes a result is refused. (--lr sgd=0.1 is sgd's default: the same
    runs, so only that one is accepted.)"""
    monkeypatch.chdir(tmp_path)
    _record_runs(monkeypatch, ctrl_c_at=0)
    assert main(ARGS) == 130
    assert "after 0 of 4 runs" in capsys.readouterr().err
    _forbid_training(monkeypatch)
    if change == ["--lr", "sgd=0.1"]:  # accepted: it goes on to train
        with pytest.raises(AssertionError, match="a run was trained"):
            main(ARGS + change + ["--resume", "--debug"])  # --debug: the planted AssertionError propagates
        return
    assert main(ARGS + change + ["--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("tngd: error: out/compare.partial.jsonl was written by a different comparison")


def test_an_error_before_any_run_finished_leaves_no_journal(tmp_path, monkeypatch, capsys):
    """A bad option found by the first run: nothing to keep, so a corrected rerun needs no --resume."""
    monkeypatch.chdir(tmp_path)

    def run_one(*args, **kw):
        raise ConfigError("bad option")

    monkeypatch.setattr(cli, "run_one", run_one)
    assert main(ARGS) == 2
    assert capsys.readouterr().err == "tngd: error: bad option\n"
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("folder", ["compare.json", "loss_vs_time.png", "compare.partial.jsonl"])
def test_an_output_file_that_is_a_folder_is_refused_before_training(tmp_path, monkeypatch, capsys, folder):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out" / folder).mkdir(parents=True)
    _forbid_training(monkeypatch)
    assert main(ARGS) == 2
    err = capsys.readouterr().err
    assert err == f"tngd: error: out/{folder} is a folder: tngd compare writes a file there\n"
