"""spu expm | logdet: --help, and one JSON object with the issue's fields whose relative_error is the
exact reference's."""
import json

import numpy as np
import pytest
import scipy.linalg as sla

from spucircuit.cli import main as spu

CMDS = ["expm", "logdet"]


@pytest.mark.parametrize("cmd", CMDS)
def test_help(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        spu([cmd, "--help"])
    assert e.value.code == 0 and "--matrix" in capsys.readouterr().out


@pytest.mark.parametrize("negative", [True, False])
def test_expm_json_and_output(tmp_path, capsys, negative):
    A = np.array([[3.0, 2.0], [2.0, 4.0]]) if negative else np.array([[-0.4, 0.1], [0.5, -0.3]])  # thermox's cases
    np.save(tmp_path / "A.npy", A)
    argv = ["expm", "--matrix", f"{tmp_path}/A.npy", "--out", f"{tmp_path}/E.npy", "--seed", "1", "--time", "300tau",
            "--json", "--no-progress"] + (["--negative"] if negative else [])
    assert spu(argv) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("relative_error", "standard_error", "error_bound", "analog_time_s", "estimated_compute_s"):
        assert out[key] is not None, key
    E = np.load(tmp_path / "E.npy")
    ref = sla.expm(-A if negative else A)
    assert out["relative_error"] == pytest.approx(np.linalg.norm(E - ref) / np.linalg.norm(ref))
    assert out["relative_error"] <= out["error_bound"]
    assert out["analog_time_s"] == pytest.approx(300 * out["tau_s"])


def test_logdet_json(tmp_path, capsys):
    A = np.array([[3.0, 2.0], [2.0, 4.0]])
    np.save(tmp_path / "A.npy", A)
    assert spu(["logdet", "--matrix", f"{tmp_path}/A.npy", "--seed", "1", "--kappa-max", "10", "--json",
                "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("relative_error", "standard_error", "error_bound", "analog_time_s", "method"):
        assert out[key] is not None, key
    assert out["reference"] == pytest.approx(np.log(8.0))
    assert out["relative_error"] == pytest.approx(abs(out["logdet"] - np.log(8.0)) / 2)
    assert out["relative_error"] <= out["error_bound"]
