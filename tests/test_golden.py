"""Refactors keep results bit-identical: the user-facing commands of ``tests/golden/record.py``
(demo, solve on three matrices, simulate of every shipped netlist, a small study, 20 TNGD
iterations on the dense and the factored twin) reproduce the recorded outputs exactly in the
recorded numerical environment, and to round-off (``record.RTOL`` of each field's norm, every
non-float the same) in any other (another numpy/scipy/numba or BLAS kernel gives other bits)."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
import record  # noqa: E402

RECORDED = json.loads(record.OUT.read_text())


@pytest.fixture(scope="module")
def outputs():
    return record.compute()


@pytest.mark.parametrize("case", sorted(RECORDED["digests"]))
def test_same_result(case, outputs):
    if outputs["environment"] == RECORDED["environment"]:
        assert outputs["digests"][case] == RECORDED["digests"][case], \
            f"{case}: output bits differ from tests/golden/outputs.json in its own environment"
    else:
        new, old = outputs["summaries"][case], RECORDED["summaries"][case]
        assert sorted(new) == sorted(old), f"{case}: output fields differ"
        rtol = record.RTOL_CASE.get(case, record.RTOL)
        moved = [k for k in old if not record.summaries_agree(new[k], old[k], rtol)]
        assert not moved, (f"{case}: fields {moved} differ beyond round-off from tests/golden/outputs.json "
                           f"(recorded in {RECORDED['environment']}, running in {outputs['environment']})")


def test_summary_tolerance_catches_a_changed_result():
    import numpy as np

    x = np.linspace(1.0, 2.0, 50)
    base = record.summary({"x": x, "k": 3})
    assert record.summaries_agree(record.summary({"x": x * (1 + 1e-12), "k": 3}), base)
    assert not record.summaries_agree(record.summary({"x": x * (1 + 1e-5), "k": 3}), base)
    y = x.copy()
    y[7] += 1e-5
    assert not record.summaries_agree(record.summary({"x": y, "k": 3}), base)
    assert not record.summaries_agree(record.summary({"x": x, "k": 4}), base)
