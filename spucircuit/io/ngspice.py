"""Run a netlist in ngspice (batch mode) from Python and return the parsed rawfile.

ngspice is the independent cross-check of the twin (see ``spucircuit/io/spice/writer.py`` for the export and
the shared ngspice notes for what works in 39.3). Usage::

    from spucircuit.io.ngspice import run_ngspice
    res = run_ngspice(mc, tran=(1e-8, 50e-6))          # Netlist / MappedCircuit: exported, then run
    res.t, res.voltages(["x0", "x1"])                    # s, (points, 2) V on the .tran step grid
    res = run_ngspice("netlists/integrator16.cir")       # a file as it is

Each run happens in a fresh temporary directory (nothing is left behind unless ``keep_dir``).
A netlist with a ``.control`` block is run with ``ngspice -b net.cir`` and the rawfile its block
writes is read; one without is run with ``ngspice -b -r out.raw net.cir`` (every internal time
point). The exit code and the log are checked: a non-zero exit, a log line starting with
``Error`` or a missing rawfile raises :class:`NgspiceError` with the end of the log.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np

from spucircuit.circuit.netlist import Netlist
from spucircuit.errors import SPUError
from spucircuit.io.rawfile import RawFileError, RawPlot, read_rawfile
from spucircuit.io.spice import write_spice

DEFAULT_TIMEOUT_S = 600.0


class NgspiceError(SPUError, RuntimeError):
    """ngspice is missing, failed, timed out or wrote no usable rawfile."""


def find_ngspice(executable: str | None = None) -> str:
    """Path of the ngspice executable (``executable`` or ``ngspice`` on PATH), else NgspiceError."""
    exe = executable or os.environ.get("SPU_NGSPICE") or "ngspice"
    path = shutil.which(exe)
    if path is None:
        raise NgspiceError(
            f"ngspice not found ({exe!r} is not on PATH): install it, e.g. 'apt-get install ngspice' "
            "(Debian/Ubuntu), or set SPU_NGSPICE to the executable")
    return path


def ngspice_available(executable: str | None = None) -> bool:
    try:
        find_ngspice(executable)
        return True
    except NgspiceError:
        return False


@dataclass
class NgspiceResult:
    """Output of one ngspice run.

    plot : the (last) plot of the rawfile; plots : all of them
    log : ngspice's stdout + stderr
    netlist : the netlist text that was run
    """

    plot: RawPlot
    plots: list
    log: str
    netlist: str
    returncode: int

    @property
    def t(self) -> np.ndarray:
        """Time points, s."""
        return self.plot.time

    @property
    def names(self) -> list:
        return self.plot.names

    def voltage(self, node: str) -> np.ndarray:
        """V(node) at every time point, V."""
        if str(node).strip().lower() in ("0", "gnd"):
            return np.zeros(len(self.t))
        try:
            return self.plot.node_voltage(node)
        except RawFileError as exc:
            raise NgspiceError(str(exc)) from None

    def voltages(self, nodes) -> np.ndarray:
        """(points, len(nodes)) node voltages, V."""
        return np.stack([self.voltage(n) for n in nodes], axis=1) if len(nodes) else np.zeros((len(self.t), 0))


_ERR_LINE = re.compile(r"^\s*(error|fatal)\b", re.IGNORECASE | re.MULTILINE)


def _tail(log: str, n: int = 12) -> str:
    """The informative part of a log: its error/warning lines (with the line after each), else its end."""
    lines = [ln.rstrip() for ln in log.strip().splitlines() if ln.strip()]
    keep = []
    for i, ln in enumerate(lines):
        if re.search(r"error|warning|can't|cannot|could not|unknown|interrupted|aborted", ln, re.IGNORECASE):
            keep += [ln] + ([lines[i + 1]] if i + 1 < len(lines) and lines[i + 1].startswith((" ", "\t")) else [])
    out = list(dict.fromkeys(keep))[:n] if keep else lines[-n:]
    return "\n".join(out)


def run_ngspice(circuit, *, tran=None, noise=None, save=None, mapping=None,
                timeout: float = DEFAULT_TIMEOUT_S, executable: str | None = None,
                keep_dir=None) -> NgspiceResult:
    """Run ``circuit`` in ngspice and return the parsed results.

    circuit : Netlist or MappedCircuit (exported with :func:`~spucircuit.io.spice.write_spice` using
              ``tran``, ``noise``, ``save``, ``mapping`` and a ``.control`` block that linearizes
              onto the tstep grid), or the path of a netlist file, or netlist text (a str with a
              newline), run as it is.
    timeout : seconds before ngspice is killed (NgspiceError).
    keep_dir: a directory to run in and keep (default: a temporary one, removed).
    """
    exe = find_ngspice(executable)
    if isinstance(circuit, Netlist) or hasattr(circuit, "netlist"):
        if tran is None:
            raise NgspiceError("running a Netlist needs tran=(tstep, tstop[, tmax[, tstart]])")
        text = write_spice(circuit, None, tran=tran, noise=noise, control=True, mapping=mapping,
                           save=save, rawfile="out.raw")
    elif isinstance(circuit, (str, os.PathLike)) and ("\n" in str(circuit)):
        text = str(circuit)
    elif isinstance(circuit, (str, os.PathLike)):
        try:
            with open(os.fspath(circuit), encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise NgspiceError(f"cannot read netlist {circuit}: {getattr(exc, 'strerror', None) or exc}") from None
    else:
        raise NgspiceError(f"cannot run a {type(circuit).__name__} in ngspice")
    has_control = re.search(r"^\s*\.control\b", text, re.IGNORECASE | re.MULTILINE) is not None

    work = keep_dir
    tmp = None
    if work is None:
        tmp = tempfile.mkdtemp(prefix="spu-ngspice-")
        work = tmp
    else:
        os.makedirs(work, exist_ok=True)
    try:
        net = os.path.join(work, "net.cir")
        with open(net, "w", encoding="utf-8") as f:
            f.write(text)
        before = set(glob.glob(os.path.join(work, "*.raw")))
        cmd = [exe, "-b", "net.cir"] if has_control else [exe, "-b", "-r", "out.raw", "net.cir"]
        env = dict(os.environ)
        env.pop("SPICE_ASCIIRAWFILE", None)
        try:
            proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout,
                                  env=env, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise NgspiceError(f"ngspice did not finish within {timeout:g} s (killed)") from None
        except OSError as exc:
            raise NgspiceError(f"cannot start ngspice ({exe}): {exc.strerror or exc}") from None
        log = (proc.stdout or "") + (proc.stderr or "")
        if proc.returncode != 0:
            raise NgspiceError(f"ngspice exited with status {proc.returncode}:\n{_tail(log)}")
        m = _ERR_LINE.search(log)
        if m:
            line = log[m.start():].splitlines()[0].strip()
            raise NgspiceError(f"ngspice reported an error: {line}\n{_tail(log)}")
        raws = sorted(set(glob.glob(os.path.join(work, "*.raw"))) - before, key=os.path.getmtime)
        if not raws:
            raws = sorted(glob.glob(os.path.join(work, "*.raw")), key=os.path.getmtime)
        if not raws:
            raise NgspiceError(f"ngspice wrote no rawfile (does the netlist have a .tran card?):\n{_tail(log)}")
        try:
            plots = read_rawfile(raws[-1])
        except RawFileError as exc:
            raise NgspiceError(f"ngspice wrote an unreadable rawfile: {exc}") from None
        return NgspiceResult(plot=plots[-1], plots=plots, log=log, netlist=text, returncode=proc.returncode)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
