"""Studies that lose nothing (studies.journal, spu study --resume): every finished task is on disk
as it ends; Ctrl-C stops the workers at once, keeps the finished tasks and says how to resume; a
resumed study's result is identical to an uninterrupted one's."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spucircuit.errors import StudyError
from spucircuit.report.journal import Journal
from spucircuit.studies import sweep
from spucircuit.studies.sweep import run_study, study_digest

ROOT = Path(__file__).resolve().parents[2]
SMALL = ({"n": 4, "cond": 10, "matrices": 2, "draws": 2, "profile": "ideal"}, {"bits": [6, 10]})
# 64 tasks that each run the twin (a few tenths of a second): long enough to interrupt halfway
CLI = ["--n", "6", "--cond", "10", "--matrices", "4", "--draws", "8", "--sweep", "bits=8,12", "--eval", "twin",
       "--time", "300tau", "--profile", "ideal", "--no-plot", "--no-progress"]


def _journaled(path, resume=False, config=SMALL[0]):
    """run_study with a journal at path, as spu study runs it."""
    j = Journal(str(path), study_digest(config, SMALL[1]), resume)
    return run_study(config, SMALL[1], workers=1, done=j.done, on_done=j.append)


def _rows_without_timing(rows):
    """Rows as JSON text without the measured CPU time (NaN compares equal as text)."""
    return json.dumps([{k: v for k, v in r.items() if k not in ("cpu_s",)} for r in rows], sort_keys=True,
                      default=float)


def test_resume_skips_the_journaled_tasks_and_gives_the_same_rows(tmp_path, monkeypatch):
    full = run_study(*SMALL, workers=1)
    path = tmp_path / "s.partial.jsonl"
    _journaled(path)
    lines = path.read_bytes().split(b"\n")
    assert len(lines) == 1 + 8 + 1  # header, 8 tasks, the final newline
    # an interrupted study: 3 tasks finished, a 4th cut short mid-write by a crash
    path.write_bytes(b"\n".join(lines[:4]) + b"\n" + lines[4][:20])
    ran = []
    real = sweep.run_task
    monkeypatch.setattr(sweep, "run_task", lambda t: ran.append(t["index"]) or real(t))
    res = _journaled(path, resume=True)
    assert sorted(ran) == [3, 4, 5, 6, 7]
    assert _rows_without_timing(res.rows) == _rows_without_timing(full.rows)
    assert json.dumps(res.summary()) == json.dumps(full.summary())


def test_a_journal_is_never_silently_reused(tmp_path):
    path = tmp_path / "s.partial.jsonl"
    _journaled(path)
    with pytest.raises(StudyError, match="--resume"):
        _journaled(path)
    with pytest.raises(StudyError, match="different study"):
        _journaled(path, resume=True, config={**SMALL[0], "draws": 3})
    path.write_text("not a journal\n")
    with pytest.raises(StudyError, match="not a study journal"):
        _journaled(path, resume=True)


def _spu(*args, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "spucircuit.cli", "study", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.slow
def test_ctrl_c_halfway_stops_within_two_seconds_and_resume_completes_identically(tmp_path):
    out = tmp_path / "st"
    journal = out / "study.partial.jsonl"
    p = _spu(*CLI, "--workers", "2", "--out", str(out), start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and p.poll() is None:
        if journal.exists() and len(journal.read_bytes().split(b"\n")) - 2 >= 24:
            break
        time.sleep(0.05)
    assert p.poll() is None, "the study ended before it could be interrupted"
    t0 = time.time()
    os.killpg(p.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole process group
    time.sleep(0.1)
    os.killpg(p.pid, signal.SIGINT)  # and a second one: no deadlock
    _, err = p.communicate(timeout=30)
    stopped = time.time() - t0
    kept = len(journal.read_bytes().split(b"\n")) - 2
    print(f"\nstopped {stopped:.2f} s after Ctrl-C with {kept} of 64 tasks kept")
    assert p.returncode == 130 and stopped < 2.0
    assert "--resume" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert 24 <= kept < 64 and not (out / "study.json").exists()
    r = _spu(*CLI, "--workers", "2", "--out", str(out), "--resume")
    r.communicate(timeout=600)
    assert r.returncode == 0 and not journal.exists()
    got = json.loads((out / "study.json").read_text())
    ref = run_study({"n": 6, "cond": 10, "matrices": 4, "draws": 8, "eval": "twin", "time": "300tau",
                     "profile": "ideal"}, {"bits": [8, 12]}, workers=1)
    from spucircuit._util.jsonable import to_jsonable

    want = json.loads(json.dumps(to_jsonable(ref.to_dict()), allow_nan=False))
    assert _rows_without_timing(got["rows"]) == _rows_without_timing(want["rows"])
    assert got["summary"] == want["summary"]


def test_output_problems_are_named_before_any_work(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    for args, msg in ((["--out", str(f)], "not a folder"), (["--out", str(tmp_path), "--name", "a/b"], "--name")):
        p = _spu("--n", "4", "--draws", "1", "--matrices", "1", *args)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 2 and msg in err and "Traceback" not in err
