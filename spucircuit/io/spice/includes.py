"""``.include`` / ``.inc`` and ``.lib``: other files' lines read in place, as ngspice does before anything else.

    .include path        .include "path with spaces"        .inc 'path'
    .lib path section    (the lines between ``.lib section`` and ``.endl`` in that file)

A ``.lib section`` ... ``.endl`` block is a definition: read only when a ``.lib path section`` card asks
for it (from another file or the same one), skipped otherwise.

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
_LIB = re.compile(r"(?i)^\s*\.lib(?:\s+(.*?))?\s*$")
_ENDL = re.compile(r"(?i)^\s*\.endl\b")


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


def _read(path: str, filename: str, lineno: int, what: str) -> str:
    try:
        if os.path.getsize(path) > MAX_INCLUDED_BYTES:
            raise SpiceError(f"{what}: the file is larger than {MAX_INCLUDED_BYTES / 1e9:g} GB", filename, lineno)
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise SpiceError(f"{what}: cannot read it ({exc.strerror or exc})", filename, lineno) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpiceError("not a UTF-8 text file (undecodable byte)", path, raw[: exc.start].count(b"\n") + 1) from None


def _lib_args(arg: str, filename: str, lineno: int) -> tuple:
    """(path or None, section) of a ``.lib`` card's argument: ``section`` (a definition) or ``path section``."""
    arg = (arg or "").strip()
    if not arg:
        raise SpiceError(".lib needs a section name (a definition) or a file path and a section", filename, lineno)
    if arg[0] in "\"'":
        end = arg.find(arg[0], 1)
        if end < 0:
            raise SpiceError(f".lib: unterminated quote in {arg!r}", filename, lineno)
        path, rest = arg[:end + 1], arg[end + 1:].split()
    else:
        toks = arg.split()
        path, rest = toks[0], toks[1:]
        if not rest:
            return None, path.lower()
    if len(rest) != 1:
        raise SpiceError(f".lib needs a file path and one section name, got {arg!r}", filename, lineno)
    return path, rest[0].lower()


def expand_includes(text: str, filename: str):
    """``(text, None)`` when ``text`` has no ``.include`` or ``.lib`` card, else ``(expanded text, Origin)``."""
    if not re.search(r"(?im)^\s*\.(inc|lib)", text):
        return text, None
    files: list = [filename]
    out: list = []
    fidx: list = []
    lidx: list = []

    def walk(src: str, fi: int, stack: tuple, is_main: bool, section: str | None = None):
        """Emit the lines of ``src`` (file ``files[fi]``); with ``section``, only that .lib block's."""
        name = files[fi]
        inside = None  # the .lib definition block being skipped or read, and its line
        found = False
        for k, raw in enumerate(src.split("\n"), start=1):
            if is_main and k == 1:  # the main file's first line is its title
                out.append(raw), fidx.append(fi), lidx.append(k)
                continue
            low = raw.lower()
            if inside is not None:
                if ".endl" in low and _ENDL.match(raw):
                    inside = None
                    continue
                if inside[0] != section:
                    continue  # another section's lines
            m = _LIB.match(raw) if ".lib" in low else None
            if section is not None and inside is None and (m is None or _lib_args(m.group(1), name, k)[0] is not None):
                continue  # outside the blocks of a file read for one section: only definitions count
            if m:
                path, sec = _lib_args(m.group(1), name, k)
                if path is None:  # a definition: '.lib section' ... '.endl'
                    if inside is not None:
                        raise SpiceError(f".lib {sec}: a definition inside the block of .lib {inside[0]} "
                                         f"(line {inside[1]}) before its .endl", name, k)
                    inside = (sec, k)
                    found = found or sec == section
                    continue
                walk_file(path, sec, name, k, stack)
                continue
            m = _INCLUDE.match(raw) if ".inc" in low else None
            if m:
                walk_file(m.group(1), None, name, k, stack)
                continue
            if not is_main and raw.strip().lower() == ".end":
                continue  # an included file's .end ends nothing (ngspice drops it)
            out.append(raw)
            fidx.append(fi)
            lidx.append(k)
        if inside is not None:
            raise SpiceError(f".lib {inside[0]}: no .endl", name, inside[1])
        if section is not None and not found:
            raise SpiceError(f".lib: no section {section!r} in the file", name, None)

    def walk_file(arg, section, name, k, stack):
        path = _path_of(arg, name, k)
        real = os.path.realpath(path)
        what = f".lib {path} {section}" if section is not None else f".include {path}"
        if real in stack and section is None:
            raise SpiceError(f"{what}: the file includes itself (through "
                             f"{' -> '.join(os.path.basename(s) for s in stack)})", name, k)
        if len(stack) > MAX_DEPTH:
            raise SpiceError(f"{what}: includes nest more than {MAX_DEPTH} deep", name, k)
        files.append(path)
        fi = len(files) - 1
        try:
            walk(_read(path, name, k, what), fi, stack + (real,), False, section)
        except SpiceError as exc:
            if section is not None and exc.lineno is None and exc.filename == path:
                raise SpiceError(f"{what}: the file has no section {section!r}", name, k) from None
            raise

    main_real = os.path.realpath(filename) if filename and not filename.startswith("<") else "<main>"
    walk(text, 0, (main_real,), True)
    return "\n".join(out), Origin(files, np.array(fidx), np.array(lidx))
