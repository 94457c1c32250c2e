"""Reader of SPICE rawfiles (ngspice / SPICE3 format), binary and ASCII.

A rawfile holds one or more *plots*. Each starts with an ASCII header::

    Title: <circuit title>
    Date: <date>
    Plotname: Transient Analysis
    Flags: real                    (or complex; 'padded' is accepted)
    No. Variables: 3
    No. Points: 501
    Variables:
    \\t0\\ttime\\ttime
    \\t1\\tv(x0)\\tvoltage
    \\t2\\tv(s0)\\tvoltage
    Binary:                        (or Values:)

followed by the data: for ``Binary:`` points x variables float64 (complex128 when complex),
little-endian, row-major (time first); for ``Values:`` one block per point, the point index then
one value per line. Variable names come back lower-case from ngspice (``v(x0)``, ``l1#branch``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from spucircuit.errors import SPUError


class RawFileError(SPUError, ValueError):
    """A rawfile is missing, truncated or not in the SPICE rawfile format."""


@dataclass
class RawPlot:
    """One plot of a rawfile.

    title, plotname, flags : header strings
    names : variable names in file order (``time`` first for a transient)
    types : variable types (``time``, ``voltage``, ``current``)
    data : (points, variables) array, float64 (complex128 for complex plots)
    """

    title: str
    plotname: str
    flags: str
    names: list
    types: list
    data: np.ndarray
    header: dict = field(default_factory=dict)

    def index(self, name: str) -> int:
        low = name.strip().lower()
        for i, nm in enumerate(self.names):
            if nm.lower() == low:
                return i
        raise RawFileError(f"rawfile plot {self.plotname!r} has no variable {name!r}; it has {self.names}")

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[:, self.index(name)]

    def __contains__(self, name: str) -> bool:
        low = name.strip().lower()
        return any(nm.lower() == low for nm in self.names)

    @property
    def time(self) -> np.ndarray:
        """The scale vector (first variable): time in s for a transient."""
        return self.data[:, 0].real if np.iscomplexobj(self.data) else self.data[:, 0]

    def node_voltage(self, node: str) -> np.ndarray:
        """Voltage of ``node`` (V), from the variable ``v(node)`` (case-insensitive)."""
        return self[f"v({node})"]


def read_rawfile(path) -> list[RawPlot]:
    """Every plot in the rawfile at ``path`` (binary or ASCII)."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            buf = f.read()
    except OSError as exc:
        raise RawFileError(f"cannot read rawfile {path}: {exc.strerror or exc}") from None
    plots, pos = [], 0
    while pos < len(buf):
        if not buf[pos:].strip():
            break
        plot, pos = _read_plot(buf, pos, path)
        plots.append(plot)
    if not plots:
        raise RawFileError(f"rawfile {path} is empty")
    return plots


def read_raw(path, plot: int | str = -1) -> RawPlot:
    """One plot of a rawfile: by index (default the last one written) or by plot-name substring."""
    plots = read_rawfile(path)
    if isinstance(plot, str):
        for p in plots:
            if plot.lower() in p.plotname.lower():
                return p
        raise RawFileError(f"rawfile {path} has no plot named like {plot!r}: {[p.plotname for p in plots]}")
    try:
        return plots[plot]
    except IndexError:
        raise RawFileError(f"rawfile {path} has {len(plots)} plot(s), no plot {plot}") from None


def _readline(buf: bytes, pos: int, path: str) -> tuple[str, int]:
    end = buf.find(b"\n", pos)
    if end < 0:
        end = len(buf)
    try:
        line = buf[pos:end].decode("utf-8", errors="replace").rstrip("\r")
    except Exception:  # pragma: no cover - decode with errors='replace' does not raise
        raise RawFileError(f"rawfile {path}: undecodable header") from None
    return line, end + 1


def _read_plot(buf: bytes, pos: int, path: str):
    header: dict = {}
    names, types = [], []
    nvars = npts = None
    mode = None
    while True:
        if pos >= len(buf):
            raise RawFileError(f"rawfile {path}: header ends before 'Binary:' or 'Values:'")
        line, pos = _readline(buf, pos, path)
        if not line.strip():
            continue
        key, sep, val = line.partition(":")
        k = key.strip().lower()
        if not sep:
            raise RawFileError(f"rawfile {path}: unexpected header line {line[:60]!r}")
        if k == "variables":
            if nvars is None:
                raise RawFileError(f"rawfile {path}: 'Variables:' before 'No. Variables:'")
            for i in range(nvars):
                vline, pos = _readline(buf, pos, path)
                parts = vline.split()
                if len(parts) < 3 or parts[0] != str(i):
                    raise RawFileError(f"rawfile {path}: bad variable line {vline[:60]!r} (expected index {i})")
                names.append(parts[1])
                types.append(parts[2])
            continue
        if k in ("binary", "values"):
            mode = k
            break
        header[k] = val.strip()
        if k == "no. variables":
            nvars = _int(val, path, k)
        elif k == "no. points":
            npts = _int(val, path, k)
    if nvars is None or npts is None:
        raise RawFileError(f"rawfile {path}: header lacks 'No. Variables' or 'No. Points'")
    if len(names) != nvars:
        raise RawFileError(f"rawfile {path}: header lists {len(names)} variables, expected {nvars}")
    flags = header.get("flags", "real").lower()
    cplx = "complex" in flags
    if mode == "binary":
        dt = np.dtype("<c16") if cplx else np.dtype("<f8")
        nbytes = npts * nvars * dt.itemsize
        if pos + nbytes > len(buf):
            have = (len(buf) - pos) // (nvars * dt.itemsize) if nvars else 0
            raise RawFileError(f"rawfile {path} is truncated: header promises {npts} points, "
                               f"the file holds {have}")
        data = np.frombuffer(buf, dtype=dt, count=npts * nvars, offset=pos).reshape(npts, nvars).copy()
        pos += nbytes
    else:
        data, pos = _read_ascii(buf, pos, npts, nvars, cplx, path)
    plot = RawPlot(title=header.get("title", ""), plotname=header.get("plotname", ""), flags=flags,
                   names=names, types=types, data=data, header=header)
    return plot, pos


def _int(val: str, path: str, what: str) -> int:
    try:
        v = int(val.strip())
    except ValueError:
        raise RawFileError(f"rawfile {path}: {what!r} is not an integer: {val.strip()!r}") from None
    if v < 0:
        raise RawFileError(f"rawfile {path}: {what!r} is negative")
    return v


def _read_ascii(buf, pos, npts, nvars, cplx, path):
    data = np.zeros((npts, nvars), dtype=complex if cplx else float)
    toks: list[str] = []
    need = npts * (nvars + 1)
    while len(toks) < need and pos < len(buf):
        line, pos = _readline(buf, pos, path)
        toks.extend(line.split())
    if len(toks) < need:
        raise RawFileError(f"rawfile {path} is truncated: header promises {npts} points")
    try:
        k = 0
        for p in range(npts):
            k += 1  # point index
            for v in range(nvars):
                t = toks[k]
                k += 1
                if cplx:
                    re_, _, im = t.partition(",")
                    data[p, v] = complex(float(re_), float(im or 0.0))
                else:
                    data[p, v] = float(t)
    except ValueError as exc:
        raise RawFileError(f"rawfile {path}: bad ASCII value ({exc})") from None
    return data, pos
