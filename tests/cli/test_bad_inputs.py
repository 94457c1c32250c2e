"""Bad input, table-driven (issue 17's suite, growing with every command): each ends in the
package's own one-line error with exit status 2, before any work, with no traceback and no file
written."""
import os

import numpy as np
import pytest

from spucircuit.cli import main as spu
from tngd.cli import main as tngd

NETLIST = os.path.join(os.path.dirname(__file__), "..", "..", "netlists", "capacitive8.cir")

# (command, argv with {A}, {b}, {out} placeholders, text the error must contain)
CASES = [
    (spu, "solve --matrix {A} --rhs {b} --seed=-1", "seed must be >= 0"),
    (spu, "inv --matrix {A} --seed=-1", "seed must be >= 0"),
    (spu, f"simulate {NETLIST} --seed=-1 --out {{out}}/x.npz", "seed must be >= 0"),
    (spu, f"simulate {NETLIST} --max-samples 0 --out {{out}}/x.npz", "--max-samples"),
    (spu, f"simulate {NETLIST} --max-samples -5 --out {{out}}/x.npz", "--max-samples"),
    (spu, "export --matrix {A} --max-points 0 -o {out}/x.cir", "--max-points"),
    (spu, "export --matrix {A} --seed -3 -o {out}/x.cir", "seed must be >= 0"),
    (spu, "demo --seed -1 --out {out}/demo", "seed must be >= 0"),
    (spu, "solve --matrix {A} --rhs {b} --chains 2.5", "not an integer"),
    (spu, "solve --matrix {A} --rhs {b} --chains 0", "--chains"),
    (spu, "solve --matrix {A} --rhs {b} --converters precision --converter-bits 1", "bits"),
    (spu, "study --n 4 --draws 1 --matrices 1 --out {A}", "not a folder"),
    (spu, "inv --matrix {A} --noise-psd 0 --temperature 0 --out {out}/i.npy", "has no noise"),
    (spu, "map --matrix {A}", "give -o FILE"),
    (spu, "map --matrix {A} --json --kappa-max 0", "kappa_max must be finite and >= 1"),
    (spu, "map --matrix {A} --json --kappa-max nan", "kappa_max must be finite and >= 1"),
    (spu, "map --matrix {A} --json --scale exact", "invalid choice"),
    (spu, "solve --matrix {A} --rhs {b} --dt 1e-18", "above the limit of 600 s"),
    (spu, "solve --matrix {A} --rhs {b} --time 1e9tau --scheme euler", "above the limit of 600 s"),
    (spu, "solve --matrix {A} --rhs {b} --max-run-time 1e-9", "above the limit of 1e-09 s"),
    (spu, "solve --matrix {A} --rhs {b} --max-run-time -1", "--max-run-time must be > 0"),
    (spu, f"simulate {NETLIST} --time 1 --dt 1e-15 --out {{out}}/x.npz", "above the limit"),
    (spu, "study --n 4 --draws 1 --matrices 1 --out {out}/s --name a/b", "--name"),
    (spu, "solve --matrix {A} --rhs {b} --chains 30000000", "need about 5.76 GB (30000000 chains x 3 states"),
    (spu, "inv --matrix {A} --chains 30000 --max-memory 1M", "above the limit of 0.001 GB"),
    (spu, "solve --matrix {A} --rhs {b} --max-memory 0", "must be finite and > 0"),
    (spu, "solve --matrix {A} --rhs {b} --max-memory lots", "not a size in bytes"),
    (spu, f"simulate {NETLIST} --max-memory 100 --out {{out}}/x.npz", "above the limit of 1e-07 GB"),
    (spu, f"simulate {NETLIST} --max-elements 10 --out {{out}}/x.npz", "above the limit of 10: raise it with"),
    (spu, f"check {NETLIST} --max-elements 0", "--max-elements"),
    (spu, "study --n 4 --draws 1000000000 --matrices 1 --out {out}/s", "1,000,000,000 tasks"),
    (spu, "study --n 4 --draws 8 --matrices 2 --sweep bits=4,8 --max-tasks 31 --out {out}/s", "32 tasks"),
    (spu, "study --n 4 --sweep bits=log:1:16:1000000000 --out {out}/s", "at most 10,000 values"),
    (spu, "study --n 4 --max-tasks 0 --out {out}/s", "--max-tasks"),
    (tngd, "train --seed -1 --out {out}/r.json", "seed must be >= 0"),
    (tngd, "train --steps 0 --out {out}/r.json", "--steps"),
    (tngd, "train --batch-size 0 --out {out}/r.json", "--batch-size"),
    (tngd, "train --eval-every 0 --out {out}/r.json", "--eval-every"),
    (tngd, "train --solver factored --rails -1 --steps 1 --out {out}/r.json", "rail_v"),
    (tngd, "compare --seeds 0,-1 --out-dir {out}/cmp", "--seeds must be >= 0"),
    (tngd, "compare --eval-every 0 --out-dir {out}/cmp", "--eval-every"),
    (tngd, "compare --dataset {out}/missing.npz --out-dir {out}/cmp", "missing.npz"),
    (tngd, "compare --out-dir {A}", "not a folder"),
    (tngd, "train --dataset digits --model mlp --hidden 3 --optimizer ngd --damping 1e-320 --steps 2 --no-progress "
           "--out {out}/r.json", "not numerically positive definite"),
]


@pytest.mark.parametrize("main, argv, expect", CASES, ids=[f"{m.__module__.split('.')[0]} {a}" for m, a, _ in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, main, argv, expect):
    np.save(tmp_path / "A.npy", np.eye(3) * 2.0)
    np.save(tmp_path / "b.npy", np.ones(3))
    out = tmp_path / "out"
    out.mkdir()
    args = argv.format(A=tmp_path / "A.npy", b=tmp_path / "b.npy", out=out).split()
    try:
        rc = main(args)
    except SystemExit as exc:  # argparse's usage errors
        rc = exc.code
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1] if err.strip() else ""
    assert rc == 2, err
    assert expect in last and "Traceback" not in err
    assert not any(out.rglob("*")), f"wrote {list(out.rglob('*'))}"


def test_complex_input_is_refused_not_truncated(tmp_path, capsys):
    """A cast to float would drop the imaginary parts (the former silent 10 % error)."""
    import spucircuit as sc
    from spucircuit.errors import MatrixError

    A = np.eye(3) * 2.0 + 0j
    A[0, 1] = A[1, 0] = 0.1 + 0.2j
    np.save(tmp_path / "Ac.npy", A)
    np.save(tmp_path / "b.npy", np.ones(3))
    np.save(tmp_path / "bc.npy", np.ones(3) * (1 + 1j))
    np.save(tmp_path / "Ar.npy", np.eye(3) * 2.0 + 0j)  # complex dtype, real values: fine
    for argv in (["solve", "--matrix", str(tmp_path / "Ac.npy"), "--rhs", str(tmp_path / "b.npy")],
                 ["solve", "--matrix", str(tmp_path / "Ar.npy"), "--rhs", str(tmp_path / "bc.npy")],
                 ["inv", "--matrix", str(tmp_path / "Ac.npy")]):
        assert spu(argv) == 2
        assert "is complex" in capsys.readouterr().err
    with pytest.raises(MatrixError, match="A is complex"):
        sc.solve(A, np.ones(3))
    x = sc.solve(np.eye(3) * 2.0 + 0j, np.ones(3), seed=1)
    assert np.all(np.isfinite(x)) and x.dtype == np.float64


def test_an_unstable_netlist_that_overflows_is_an_error_not_an_inf_file(tmp_path, capsys):
    """Issue 17, item 5: the run that leaves the floating-point range writes nothing and says why;
    a short run of the same unstable circuit is written, with a warning."""
    cir = tmp_path / "u.cir"
    cir.write_text("unstable RC with positive feedback\nR1 a 0 1k\nC1 a 0 1n\nG1 0 a a 0 3m\nV1 in 0 1\n"
                   "R2 in a 1k\n.tran 1u 1m\n.end\n")
    out = tmp_path / "u.npz"
    assert spu(["simulate", str(cir), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not stable" in err and "nothing written" in err and not out.exists()
    assert spu(["simulate", str(cir), "--time", "2e-6", "--out", str(out)]) == 0
    assert "not stable" in capsys.readouterr().err and out.exists()
    with np.load(out) as z:
        assert np.all(np.isfinite(z["v"]))


def test_a_diverging_training_run_is_flagged_and_exits_non_zero(tmp_path, capsys):
    """Issue 17, item 5: tngd train --kappa0 1e308 wrote loss NaN with exit 0. The run is still
    written (a result), with "diverged": true, and the exit status says so."""
    import json

    out = tmp_path / "r.json"
    rc = tngd(["train", "--dataset", "digits", "--model", "mlp", "--hidden", "3", "--optimizer", "tngd",
               "--kappa0", "1e308", "--steps", "5", "--no-progress", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 3 and "diverged" in err and "Traceback" not in err and "RuntimeWarning" not in err
    assert json.loads(out.read_text())["diverged"] is True


@pytest.mark.parametrize("text, expect", [
    ("R1 a b 1k\nC1 b 0 1n\nR2 a 0 1k\nV1 a 0 1\n.end\n", "first line is always its title"),
    ("t\nR1 a 0 1k\nC1 a 0 1n\n.ic v(zz)=1 v(a)=0.5\n.tran 1u 1m\n.end\n", ":4: .ic sets v(zz) but the netlist has no node"),
])
def test_netlist_mistakes_are_named(tmp_path, capsys, text, expect):
    """Issue 17, item 9: a netlist without a title line lost its first element and blamed a dangling
    node; .ic of a missing node was ignored."""
    cir = tmp_path / "n.cir"
    cir.write_text(text)
    assert spu(["check", str(cir)]) == 2
    err = capsys.readouterr().err
    assert expect in err and len(err.strip().splitlines()) == 1


def test_a_huge_token_is_not_echoed_whole(tmp_path, capsys):
    """Issue 17, item 9: a 10 MB token became a 10 MB error line."""
    cir = tmp_path / "h.cir"
    cir.write_text("t\nR1 a 0 " + "x" * 10_000_000 + "\nC1 a 0 1n\n.end\n")
    assert spu(["check", str(cir)]) == 2
    err = capsys.readouterr().err
    assert len(err) < 1000 and "characters]" in err and err.count("\n") == 1


def test_api_bad_values_raise_the_packages_own_errors():
    """Issue 17, item 7 (API): each of these was a foreign traceback or a silent oddity."""
    import spucircuit as sc
    from spucircuit.circuit.netlist import Netlist
    from spucircuit.errors import SPUError
    from spucircuit.io.spice import read_spice
    from spucircuit.statespace.mna import compile_netlist

    A = sc.random_spd(4, 10, seed=1)
    spu_ = sc.SPU(sc.integrator_array(A, np.ones(4)), seed=1)
    cases = [
        (lambda: compile_netlist(None), "needs a Netlist"),
        (lambda: read_spice(None), "needs a file path"),
        (lambda: spu_.reset(np.ones(3)), "x0 must be finite with shape (4,)"),
        (lambda: spu_.run(1e-4, save_every=0), "save_every"),
        (lambda: sc.solve(A, np.ones(4), chains=2.5), "chains"),
        (lambda: sc.random_spd(4, cond=np.inf), "finite"),
        (lambda: Netlist("t").add_resistor("R1", "a", None, 1e3), "invalid node name None"),
    ]
    for f, msg in cases:
        with pytest.raises(SPUError, match=msg.replace("(", r"\(").replace(")", r"\)")):
            f()


def test_map_json_records_how_the_scale_was_chosen(tmp_path, capsys):
    """Issue 12, item 6: spu map --json / -o records the scale and how it was chosen; the default
    scale does not know x* (the same for b and a permutation of b), the oracle's does."""
    import json

    import spucircuit as sc

    A = sc.random_spd(6, 20, seed=2)
    b = np.random.default_rng(1).standard_normal(6)
    np.save(tmp_path / "A.npy", A)
    got = {}
    for name, rhs in (("b", b), ("perm", b[::-1].copy())):
        np.save(tmp_path / f"{name}.npy", rhs)
        for scale in ("bound", "oracle"):
            assert spu(["map", "--matrix", str(tmp_path / "A.npy"), "--rhs", str(tmp_path / f"{name}.npy"), "--json",
                        "--scale", scale, "--kappa-max", "100"]) == 0
            got[name, scale] = json.loads(capsys.readouterr().out)["scales"]
    assert got["b", "bound"]["scale_method"] == "bound" and got["b", "bound"]["scale_kappa_max"] == 100
    assert got["b", "bound"]["v_unit_V"] == got["perm", "bound"]["v_unit_V"]
    assert got["b", "oracle"]["scale_method"] == "oracle"
    assert got["b", "oracle"]["v_unit_V"] != got["perm", "oracle"]["v_unit_V"]


@pytest.mark.parametrize("main, prog, argv", [
    (spu, "spu solve", "solve --matrix {A} --rhs {b}"),
    (tngd, "tngd", "train --steps 1 --no-progress --out {out}/r.json"),
])
def test_an_unexpected_exception_is_one_line_with_a_debug_hint(tmp_path, capsys, monkeypatch, main, prog, argv):
    """Issue 17, item 6: an exception the package did not raise on purpose prints one line naming
    its type and the --debug switch (exit 1); with --debug, before or after the subcommand, the
    traceback is shown (the exception propagates)."""
    import spucircuit.cli.linalg
    import tngd.cli

    def boom(*a, **k):
        raise ZeroDivisionError("a planted bug")

    monkeypatch.setattr(spucircuit.cli.linalg, "solve", boom)
    monkeypatch.setattr(tngd.cli, "train", boom)
    np.save(tmp_path / "A.npy", np.eye(3) * 2.0)
    np.save(tmp_path / "b.npy", np.ones(3))
    args = argv.format(A=tmp_path / "A.npy", b=tmp_path / "b.npy", out=tmp_path).split()
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"{prog}: internal error: ZeroDivisionError: a planted bug")
    assert "--debug" in err
    for where in (["--debug"] + args, args + ["--debug"]):
        with pytest.raises(ZeroDivisionError, match="planted"):
            main(where)
