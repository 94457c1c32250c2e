"""SPICE netlists in and out: :func:`write_spice` (ngspice-compatible export), :func:`read_spice`
and :func:`parse_spice` (import of the writer's output and of common hand-written SPICE).

The modules, each named for what it holds:

* :mod:`~spucircuit.io.spice.writer`: :func:`write_spice`, the file layout, the op-amp
  subcircuits and the TRRANDOM noise block;
* :mod:`~spucircuit.io.spice.reader`: :func:`read_spice`, :func:`parse_spice`: logical lines,
  the block structure (``.subckt``, ``.control``, ``.end``) and dot cards, the SPICE subset read;
* :mod:`~spucircuit.io.spice.elements`: element cards and subcircuit instances, line by line;
* :mod:`~spucircuit.io.spice.bulk_reader`: runs of plain element lines (what the writer emits)
  read in bulk;
* :mod:`~spucircuit.io.spice.expressions`: :func:`parse_value` and the ``.param`` expression
  evaluator; SI-suffix numbers (:func:`format_value`) live in :mod:`spucircuit._util.quantities`;
* :mod:`~spucircuit.io.spice._cards`: the parser state and card helpers the readers share.
"""
from spucircuit._util.quantities import format_value
from spucircuit.io.spice._cards import MAX_ELEMENTS, OPAMP_FINITE, OPAMP_IDEAL
from spucircuit.io.spice.expressions import parse_value
from spucircuit.io.spice.reader import parse_spice, read_spice
from spucircuit.io.spice.writer import write_spice

__all__ = ["write_spice", "read_spice", "parse_spice", "parse_value", "format_value",
           "OPAMP_IDEAL", "OPAMP_FINITE", "MAX_ELEMENTS"]
