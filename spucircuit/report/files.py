"""Result files at the edge: circuit descriptions as JSON (the core builds dicts, this writes them)."""
from __future__ import annotations

from spucircuit._util.files import write_json


def write_circuit_json(circuit, path) -> None:
    """Write ``circuit.to_dict()`` (a mapped integrator array, capacitive board or factored circuit:
    scales, state-to-voltage map, component list) as strict JSON, atomically."""
    write_json(path, circuit.to_dict())
