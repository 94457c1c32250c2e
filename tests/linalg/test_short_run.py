"""Issue 17, item 4: a run too short for its answer warns with the expected error (it used to
answer `spu solve --time 1e-30` with a 41 % error, silently), and the warning is right: the true
error of a warned run is large, and the default run does not warn."""
import warnings

import numpy as np
import pytest

import spucircuit as sc
from spucircuit.cli import main as spu
from spucircuit.errors import ShortRunWarning
from spucircuit.numerics.scaling import relative_error

A = sc.random_spd(4, 10, seed=1)
B = np.array([1.0, -0.5, 2.0, 0.25])


@pytest.mark.parametrize("time", ["1e-30", "3tau"])
def test_a_short_solve_warns_and_its_error_is_large(time):
    with pytest.warns(ShortRunWarning, match=r"the run is too short .*(off by 100 %|expected relative error).* "
                                             r"The default for this problem class is [0-9.e+]+ tau"):
        x, info = sc.solve(A, B, seed=2, time=time, return_info=True)
    assert relative_error(x, np.linalg.solve(A, B)) > 0.05  # the warning was deserved


def test_a_short_inv_warns():
    with pytest.warns(ShortRunWarning, match="too short"):
        sc.inv(A, seed=2, time="3tau")


def test_default_and_long_runs_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ShortRunWarning)
        x = sc.solve(A, B, seed=2, kappa_max=20)
        sc.solve(A, B, seed=2, time="2000tau", kappa_max=20)
    assert relative_error(x, np.linalg.solve(A, B)) < 1e-3


def test_the_command_prints_the_warning_as_one_line(tmp_path, capsys):
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "b.npy", B)
    assert spu(["solve", "--matrix", str(tmp_path / "A.npy"), "--rhs", str(tmp_path / "b.npy"), "--time", "1e-30"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("spu solve: warning: the run is too short")
