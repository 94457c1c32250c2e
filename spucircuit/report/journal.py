"""The crash-safe record of a study's finished tasks, so that an interrupted study loses nothing.

A journal is a JSON-lines file: a header naming the study it belongs to (its digest,
:func:`spucircuit.studies.sweep.study_digest`: knobs, sweep, matrices and task count; ``tngd
compare`` journals its runs the same way), then one line per finished task, ``{"index": i, "row": {...}}``,
appended and flushed to disk (fsync) as each task ends. A crash can only cut the last line short;
reading skips a cut-short last line. Floats are written with Python's shortest round-trip repr
(NaN and inf as JSON's NaN / Infinity extension), so rows read back are the same numbers: a resumed
study's results are identical to an uninterrupted one's.
"""
from __future__ import annotations

import json
import os

from spucircuit._util.jsonable import to_jsonable
from spucircuit.errors import StudyError

VERSION = 1


class Journal:
    """Append-only record of finished tasks in ``path`` for the study with digest ``digest``.

    ``resume=False`` refuses an existing journal (it holds another run's results: say --resume or
    remove it); ``resume=True`` reads it (and refuses one written by a different study) or starts a
    new one. :attr:`done` maps task index -> row. ``what`` names the work in the messages (a
    "study", a "comparison"), ``options`` what must be the same to resume it."""

    def __init__(self, path: str, digest: str, resume: bool, *, what: str = "study",
                 options: str = "knobs, sweep or matrices"):
        self.path = str(path)
        self.digest = digest
        self.what, self.options = what, options
        self.done: dict[int, dict] = {}
        if os.path.exists(self.path):
            if not resume:
                raise StudyError(f"{self.path} holds the finished tasks of an interrupted {what}: rerun with --resume "
                                 "to complete it, or remove the file to start over")
            self._read()
        else:
            parent = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(parent):
                raise StudyError(f"journal folder does not exist: {parent}")
            self._write_line({"spu_study_journal": VERSION, "digest": digest})

    def _read(self) -> None:
        with open(self.path, "rb") as f:
            lines = f.read().split(b"\n")
        complete = lines[:-1]  # the part after the last newline, if any, was cut short by a crash
        try:
            head = json.loads(complete[0]) if complete else None
        except ValueError:
            head = None
        if not isinstance(head, dict) or head.get("spu_study_journal") != VERSION:
            raise StudyError(f"{self.path} is not a {self.what} journal (or is damaged in its first line): remove it")
        if head.get("digest") != self.digest:
            raise StudyError(f"{self.path} was written by a different {self.what} ({self.options} differ): "
                             "give the same options to resume it, or remove it to start over")
        for k, line in enumerate(complete[1:], start=2):
            try:
                rec = json.loads(line)
                self.done[int(rec["index"])] = rec["row"]
            except (ValueError, KeyError, TypeError):
                raise StudyError(f"{self.path}, line {k}: damaged record: remove the file to start over") from None
        if lines[-1]:  # drop the cut-short tail so that appends start on a fresh line
            with open(self.path, "rb+") as f:
                f.truncate(sum(len(x) + 1 for x in complete))

    def _write_line(self, obj) -> None:
        data = (json.dumps(to_jsonable(obj, strict=False)) + "\n").encode()
        with open(self.path, "ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def append(self, index: int, row: dict) -> None:
        """Record task ``index``'s row (flushed to disk before returning)."""
        self._write_line({"index": int(index), "row": row})
        self.done[int(index)] = row

    def remove(self) -> None:
        """Delete the journal (after the study's outputs are written)."""
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass
