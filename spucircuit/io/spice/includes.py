"""``.include`` / ``.inc``: other files' lines read in place, as ngspice does before anything else.

    .include path        .include "path with spaces"        .inc 'path'

A relative path is taken from the directory of the file that names it (the current directory for
text without a file). The included file's lines replace the card (it has no title line; a ``.end``
in it is dropped, as ngspice drops it); includes nest up to :data:`MAX_DEPTH` deep, and a file that
includes itself, directly or not, is refused. Errors name the file and line where they are, in the
included file too: the expanded text's line numbers map back through an :class:`Origin`.
"""
from __future__ import annotations

import os
import re

import numpy as np

from spucircuit.errors import SpiceError

__all__ = ["Origin", "expand_includes", "MAX_DEPTH"]

MAX_DEPTH = 16
MAX_INCLUDED_BYTES = 2_000_000_000
_INCLUDE = re.compile(r"(?i)^\s*\.inc(?:lude)?(?:\s+(.*?))?\s*$")


class Origin:
    """Line k (1-based) of the expanded text is line ``line[k - 1]`` of file ``files[file[k - 1]]``."""

    __slots__ = ("files", "file", "line")

    def __init__(self, files: list, file: np.ndarray, line: np.ndarray):
        self.files, self.file, self.line = list(files), np.asarray(file, np.int32), np.asarray(line, np.int32)

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self

    def where(self, lineno) -> tuple:
        """(file name, line) of line ``lineno`` of the expanded text; (None, lineno) when out of range."""
        if lineno is None or not 1 <= int(lineno) <= len(self.line):
            return None, lineno
        k = int(lineno) - 1
        return self.files[int(self.file[k])], int(self.line[k])

    def __repr__(self) -> str:
        return f"<Origin: {len(self.line)} lines from {len(self.files)} files>"


def _path_of(arg: str, filename: str, lineno: int) -> str:
    arg = (arg or "").strip()
    if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "\"'":
        arg = arg[1:-1]
    elif arg and arg.split() != [arg]:
        raise SpiceError(f".include: one path expected, got {arg!r} (quote a path with spaces)", filename, lineno)
    if not arg:
        raise SpiceError(".include needs a file path", filename, lineno)
    base = os.path.dirname(filename) if filename and not filename.startswith("<") else os.getcwd()
    return os.path.normpath(os.path.join(base, os.path.expanduser(arg)))


def _read(path: str, filename: str, lineno: int) -> str:
    try:
        if os.path.getsize(path) > MAX_INCLUDED_BYTES:
            raise SpiceError(f".include {path}: the file is larger than {MAX_INCLUDED_BYTES / 1e9:g} GB",
                             filename, lineno)
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise SpiceError(f".include {path}: cannot read it ({exc.strerror or exc})", filename, lineno) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpiceError("not a UTF-8 text file (undecodable byte)", path, raw[: exc.start].count(b"\n") + 1) from None


def expand_includes(text: str, filename: str):
    """``(text, None)`` when ``text`` has no ``.include`` card, else ``(expanded text, Origin)``."""
    low = text.lower()
    if ".inc" not in low or not re.search(r"(?im)^\s*\.inc", text):
        return text, None
    files: list = [filename]
    out: list = []
    fidx: list = []
    lidx: list = []

    def walk(src: str, fi: int, stack: tuple, is_main: bool):
        name = files[fi]
        for k, raw in enumerate(src.split("\n"), start=1):
            m = _INCLUDE.match(raw) if ".inc" in raw.lower() else None
            if m and not (is_main and k == 1):  # the main file's first line is its title
                path = _path_of(m.group(1), name, k)
                real = os.path.realpath(path)
                if real in stack:
                    raise SpiceError(f".include {path}: the file includes itself (through "
                                     f"{' -> '.join(os.path.basename(s) for s in stack)})", name, k)
                if len(stack) > MAX_DEPTH:
                    raise SpiceError(f".include {path}: includes nest more than {MAX_DEPTH} deep", name, k)
                files.append(path)
                walk(_read(path, name, k), len(files) - 1, stack + (real,), False)
                continue
            if not is_main and raw.strip().lower() in (".end", ".end\r"):
                continue  # an included file's .end ends nothing (ngspice drops it)
            out.append(raw)
            fidx.append(fi)
            lidx.append(k)

    main_real = os.path.realpath(filename) if filename and not filename.startswith("<") else "<main>"
    walk(text, 0, (main_real,), True)
    return "\n".join(out), Origin(files, np.array(fidx), np.array(lidx))
