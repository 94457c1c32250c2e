"""Helpers shared by the tests (as diffrax's test/helpers.py): statistics and small circuits."""
import shutil
import sys
import warnings

import numpy as np
import pytest

import spucircuit as sc


def zscores(est, ref, se):
    """(est - ref) / se elementwise; every standard error must be positive."""
    se = np.asarray(se, float)
    assert np.all(se > 0), "standard errors must be positive"
    return (np.asarray(est) - np.asarray(ref)) / se


def rc_netlist(R=1e3, C=1e-9):
    """One resistor and one capacitor to ground at node 'a'."""
    nl = sc.Netlist("single RC node")
    nl.add_resistor("R1", "a", "0", R)
    nl.add_capacitor("C1", "a", "0", C)
    return nl


# ------------------------------------------------------------------ bad inputs (issue 17)
def write_bad_input_files(folder, extra=None):
    """The input files the bad-input tables refer to (``{d}/name``), written into ``folder``: a good
    3 x 3 matrix A.npy and b.npy, and bad ones (text, pickles, wrong shapes, NaN, ...); ``extra``
    maps more file names to their text (netlists, JSON) or bytes."""
    import pathlib

    d = pathlib.Path(folder)
    arrays = {
        "A": np.eye(3) * 2.0, "b": np.ones(3), "empty": np.zeros((0, 0)), "empty1": np.zeros(0), "vec": np.ones(3),
        "scalar": np.float64(2.0), "rect": np.ones((3, 2)), "A3d": np.ones((2, 2, 2)), "A1": np.array([[2.0]]),
        "nonsym": np.array([[2.0, 1, 0], [0, 2, 0], [0, 0, 2]]), "indef": np.diag([1.0, -1, 2]),
        "singular": np.diag([1.0, 0, 2]), "nan": np.diag([np.nan, 2, 2]), "inf": np.diag([2, np.inf, 2]),
        "illcond": np.diag([1.0, 1e-12, 1.0]), "str": np.array([["a", "b"], ["c", "d"]]), "b2": np.ones(2),
        "bnan": np.array([1, np.nan, 1]), "bmat": np.ones((3, 3)), "bhuge": np.full(3, 1e300),
        "Ac": np.eye(3) * 2.0 + np.diag([0.5j, 0, 0]),
        "F": -np.eye(3) * 2.0 + np.diag([0.5, 0.5], 1), "v1": np.array([0.5]), "zero": np.zeros((3, 3)),
    }
    for name, a in arrays.items():
        np.save(d / f"{name}.npy", a)
    np.save(d / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    (d / "text.npy").write_text("hello\n")
    (d / "text.txt").write_text("1 2 3\n")
    (d / "trunc.npy").write_bytes((d / "A.npy").read_bytes()[:100])
    (d / "adir.npy").mkdir(exist_ok=True)
    import scipy.io
    import scipy.sparse as sp

    sparse = {"A": np.eye(3) * 2.0, "nonsym": arrays["nonsym"], "indef": arrays["indef"], "rect": np.ones((3, 2)),
              "nan": arrays["nan"]}
    for name, a in sparse.items():  # scipy.sparse .npz and Matrix Market .mtx versions
        sp.save_npz(d / f"{name}.npz", sp.csr_matrix(a))
        scipy.io.mmwrite(str(d / f"{name}.mtx"), sp.coo_matrix(a))
    np.savez(d / "plain.npz", A=np.eye(3))  # numpy's own .npz: not a sparse matrix
    (d / "bad.mtx").write_text("%%MatrixMarket matrix coordinate real general\nnot numbers\n")
    for name, content in (extra or {}).items():
        (d / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return d


def check_bad_input(main, argv: str, expect: str, inputs, out, capsys) -> None:
    """Run ``main`` (spu or tngd) on ``argv`` (placeholders {d}: the inputs folder, {A}, {b}: its
    good matrix and rhs, {out}: an empty folder) and check issue 17's contract: exit status 2, the
    last stderr line holds ``expect`` (same placeholders), it is the only line (or argparse's usage
    error), no traceback, nothing written in {out}."""
    import shlex

    names = dict(d=inputs, A=inputs / "A.npy", b=inputs / "b.npy", out=out)
    args = [a.format(**names) for a in shlex.split(argv)]
    try:
        rc = main(args)
    except SystemExit as exc:  # argparse's usage errors
        rc = exc.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc == 2, err
    assert lines and "Traceback" not in err, err
    assert len(lines) == 1 or lines[0].startswith("usage:"), f"more than the one error line:\n{err}"
    assert "error:" in lines[-1] and expect.format(**names) in lines[-1], err
    assert not any(out.rglob("*")), f"wrote {list(out.rglob('*'))}"


def instance_line(name, k, n, err, se, bound, info, wall_s):
    """One printed line per instance of the agreement/coverage tests (pytest -s shows them): the relative
    error, the relative standard error (|se|_F / |ref|_F, or se / n for log det), the bound, whether it
    covers, the analog time in tau and the wall time of the call."""
    print(f"{name} k={k} n={n}: error {err:.3g} se {se:.3g} bound {bound:.3g} covered {err <= bound} "
          f"analog {info.analog_time_s / info.tau_s:.0f} tau wall {wall_s:.2f} s")


def ngspice_or_skip(what: str) -> None:
    """Skip, loudly (a banner on stderr and a warning), when the ngspice executable is missing: ``what``
    names the cross-check that is skipped."""
    if shutil.which("ngspice") is None:  # pragma: no cover - depends on the machine
        msg = (f"ngspice is NOT installed: {what} against ngspice is SKIPPED. "
               "Install it (apt-get install ngspice, or run scripts/sysdeps.sh as root).")
        print("\n" + "!" * 100 + "\n" + msg + "\n" + "!" * 100, file=sys.stderr)
        warnings.warn(msg)
        pytest.skip(msg)


# shared netlist bodies (elements only: each test adds its title, sources' AC fields and cards)
RLC_LADDER = ("R1 in n1 50\nL1 n1 n2 10u\nC1 n2 0 1n\nR2 n2 0 1k\nL2 n2 n3 10u\nC2 n3 0 1n\n"
              "R3 n3 0 200\n")  # a two-section RLC ladder driven at node in
EFH_SOURCES = ("V1 in 0 DC 1\nR1 in a 1k\nVs a b 0\nR2 b 0 2k\nE1 c d b 0 3\nR3 c 0 1k\nR4 d 0 1k\n"
               "F1 0 f Vs 2\nR5 f 0 500\nH1 h 0 Vs 1k\nR6 h 0 1k\n")  # a floating E, an F and an H sensing Vs
