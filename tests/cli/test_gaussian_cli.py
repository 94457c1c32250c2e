"""spu sample | lyap | conditional: --help, and one JSON object with the issue's fields whose
relative_error is the exact reference's."""
import json

import numpy as np
import pytest
from scipy.linalg import solve_continuous_lyapunov

from spucircuit.cli import main as spu


@pytest.mark.parametrize("cmd", ["sample", "lyap", "conditional"])
def test_help(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        spu([cmd, "--help"])
    assert e.value.code == 0 and "--matrix" in capsys.readouterr().out


def test_json_and_outputs(tmp_path, capsys):
    P = np.array([[3.0, 2.0], [2.0, 4.0]])  # thermox's 2 x 2 test matrix
    F = np.array([[-0.4, 0.1], [0.5, -0.3]])
    for name, a in (("P", P), ("F", F), ("Q", np.eye(2)), ("mu", np.array([1.0, -1.0])), ("v", np.array([0.7]))):
        np.save(tmp_path / f"{name}.npy", a)
    t = str(tmp_path)
    runs = {
        "sample": ["sample", "--matrix", f"{t}/P.npy", "--mean", f"{t}/mu.npy", "--samples", "2000", "--out",
                   f"{t}/s.npy", "--kappa-max", "10"],
        "lyap": ["lyap", "--matrix", f"{t}/F.npy", "--q", f"{t}/Q.npy", "--out", f"{t}/Pl.npy", "--kappa-max", "10"],
        "conditional": ["conditional", "--matrix", f"{t}/P.npy", "--mean", f"{t}/mu.npy", "--observed", "1",
                        "--values", f"{t}/v.npy", "--out", f"{t}/m.npy", "--out-cov", f"{t}/C.npy", "--kappa-max", "10"],
    }
    got = {}
    for cmd, argv in runs.items():
        assert spu(argv + ["--seed", "1", "--json", "--no-progress"]) == 0
        got[cmd] = json.loads(capsys.readouterr().out)
        for key in ("relative_error", "standard_error", "error_bound", "analog_time_s"):
            assert got[cmd][key] is not None, (cmd, key)
    assert np.load(f"{t}/s.npy").shape == (2000, 2) and got["sample"]["effective_sample_size"] > 1800
    Pl = np.load(f"{t}/Pl.npy")
    ref = solve_continuous_lyapunov(F, -np.eye(2))
    assert got["lyap"]["relative_error"] == pytest.approx(np.linalg.norm(Pl - ref) / np.linalg.norm(ref))
    assert got["lyap"]["relative_error"] <= got["lyap"]["error_bound"]
    assert np.load(f"{t}/C.npy").shape == (1, 1) and np.load(f"{t}/m.npy").shape == (1,)


@pytest.mark.parametrize("given", ["precision", "covariance"])
def test_sample_on_the_capacitive_board(tmp_path, capsys, given):
    """spu sample --architecture capacitive: the RLC board (sample(..., architecture='capacitive')),
    the same bits as the API for the same seed, and a bound that covers the covariance's error."""
    from spucircuit.linalg.sample import sample
    from tests.linalg.test_capacitive import board_matrix

    P = board_matrix(3, 7)
    M = P if given == "precision" else np.linalg.inv(P)
    np.save(tmp_path / "M.npy", M)
    argv = ["sample", "--matrix", f"{tmp_path}/M.npy", "--given", given, "--samples", "1000", "--architecture",
            "capacitive", "--out", f"{tmp_path}/s.npy", "--seed", "3", "--json", "--no-progress"]
    assert spu(argv) == 0
    out = json.loads(capsys.readouterr().out)
    X = np.load(tmp_path / "s.npy")
    Xa, info = sample(M, 1000, given=given, architecture="capacitive", seed=3, return_info=True)
    assert out["architecture"] == "capacitive" and X.shape == (1000, 3) and np.array_equal(X, Xa)
    assert out["relative_error"] == pytest.approx(np.linalg.norm(info.covariance - np.linalg.inv(P))
                                                  / np.linalg.norm(np.linalg.inv(P)))
    assert out["relative_error"] <= out["error_bound"]
