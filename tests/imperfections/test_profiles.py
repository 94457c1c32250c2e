"""Named op-amp profiles (imperfections.profiles): what each composes, that their accuracy orders as
the part classes do, and that the command line and the study say which profile ran."""
import json
import subprocess
import sys

import numpy as np
import pytest

from spucircuit.errors import SPUError
from spucircuit.imperfections.instance import Device
from spucircuit.imperfections.models import OpAmpBandwidth, OpAmpBias, OpAmpGain, OpAmpNoise, OpAmpOffset
from spucircuit.imperfections.profiles import PROFILE_NAMES, opamp_profile
from spucircuit.numerics.matrices import random_spd
from spucircuit.studies.knobs import default_config


def test_the_catalogue():
    assert PROFILE_NAMES[0] == "ideal" and len(PROFILE_NAMES) >= 4
    assert opamp_profile("ideal").imperfection().items == ()
    items = opamp_profile("precision-bipolar").imperfection(bandwidth=True).items
    assert [type(i) for i in items] == [OpAmpGain, OpAmpOffset, OpAmpBias, OpAmpNoise, OpAmpBandwidth]
    with pytest.raises(SPUError, match="precision-cmos"):
        opamp_profile("LM741")


def test_offset_drift_adds_in_quadrature_away_from_25_C():
    p = opamp_profile("general-purpose")
    assert p.offset_sigma_v(298.15) == p.offset_v
    assert p.offset_sigma_v(348.15) == pytest.approx(np.hypot(3e-3, 18e-6 * 50))


def test_accuracy_orders_as_the_part_classes():
    errs = {}
    for name in ("precision-cmos", "precision-bipolar", "general-purpose"):
        e = []
        for m in range(4):
            A = random_spd(12, 100, seed=m)
            b = np.random.default_rng(m).standard_normal(12)
            x, _ = Device(opamp_profile(name).imperfection(), seed=m, scale="oracle").program(A, b).steady_x(b)
            xs = np.linalg.solve(A, b)
            e.append(np.linalg.norm(x - xs) / np.linalg.norm(xs))
        errs[name] = np.median(e)
    assert errs["precision-cmos"] < errs["precision-bipolar"] / 10 < errs["general-purpose"] / 100


def test_describe_says_what_is_simulated():
    d = opamp_profile("precision-bipolar").describe()
    assert d["name"] == "precision-bipolar" and d["simulated"] == {"flicker_corner_hz": True,
                                                                    "rail_v": "with Rails / --rails"}
    noise = [i for i in opamp_profile("general-purpose").imperfection().items if isinstance(i, OpAmpNoise)][0]
    assert noise.corner_hz == 100.0
    assert [i for i in opamp_profile("general-purpose").imperfection(flicker=False).items
            if isinstance(i, OpAmpNoise)][0].corner_hz == 0.0
    json.dumps(opamp_profile("ideal").describe())  # strict JSON: no inf


def test_cli_solve_with_a_profile_reports_it_and_covers(tmp_path):
    A = random_spd(6, 10, seed=1)
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "b.npy", np.ones(6))
    out = subprocess.run([sys.executable, "-m", "spucircuit.cli", "solve", "--matrix", str(tmp_path / "A.npy"),
                          "--rhs", str(tmp_path / "b.npy"), "--seed", "3", "--profile", "precision-bipolar",
                          "--kappa-max", "10", "--json"], capture_output=True, text=True, check=True).stdout
    d = json.loads(out)
    assert d["profile"]["name"] == "precision-bipolar"
    assert 1e-6 < d["relative_error"] <= d["error_bound"] < 1


def test_study_default_profile_is_a_real_part():
    assert default_config()["profile"] == "precision-bipolar"


@pytest.mark.parametrize("cmd", ["solve", "inv"])
def test_cli_converters_report_the_profile_and_the_bound_covers(tmp_path, cmd):
    A = random_spd(6, 10, seed=1)
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "b.npy", np.ones(6))
    rhs = ["--rhs", str(tmp_path / "b.npy")] if cmd == "solve" else []
    base = [sys.executable, "-m", "spucircuit.cli", cmd, "--matrix", str(tmp_path / "A.npy"), *rhs, "--seed", "3",
            "--kappa-max", "10", "--json"]
    coarse = json.loads(subprocess.run(base + ["--converters", "general-purpose", "--converter-bits", "8"],
                                       capture_output=True, text=True, check=True).stdout)
    assert coarse["converters"]["name"] == "general-purpose" and coarse["converters"]["bits"] == 8
    # 8 bits cannot resolve the fluctuations inv reads: the bound may only say "unbounded" (None)
    assert coarse["error_bound"] is None or coarse["relative_error"] <= coarse["error_bound"]
    fine = json.loads(subprocess.run(base + ["--converters", "precision"], capture_output=True, text=True,
                                     check=True).stdout)
    assert fine["converters"]["bits"] == 16 and fine["relative_error"] <= fine["error_bound"]
    if cmd == "solve":  # 8 bits of a general-purpose part cost digits that 16 precision bits do not
        assert coarse["relative_error"] > 5 * fine["relative_error"]
    bad = subprocess.run(base + ["--converters", "precision", "--converter-bits", "1"], capture_output=True, text=True)
    assert bad.returncode == 2 and "bits" in bad.stderr and "Traceback" not in bad.stderr
