"""Refactors keep results bit-identical: the user-facing commands of ``tests/golden/record.py``
(demo, solve on three matrices, simulate of every shipped netlist, a small study, 20 TNGD
iterations on the dense and the factored twin) reproduce the recorded outputs exactly."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
import record  # noqa: E402


@pytest.fixture(scope="module")
def outputs():
    return record.compute()


@pytest.fixture(scope="module")
def recorded():
    return json.loads(record.OUT.read_text())


@pytest.mark.parametrize("case", sorted(json.loads(record.OUT.read_text())))
def test_bit_identical(case, outputs, recorded):
    assert outputs[case] == recorded[case], f"{case}: output differs from tests/golden/outputs.json"
