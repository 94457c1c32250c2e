"""Bad input, table-driven (issue 17's suite, growing with every command): each ends in the
package's own one-line error with exit status 2, before any work, with no traceback and no file
written. This file: spu solve, inv, map and demo (and the first cases of every command); the
netlist commands, study and cost, tngd and the public API have their own files (test_bad_inputs_*.py,
tests/test_bad_inputs_api.py); tests/test_bad_inputs_count.py keeps the total from shrinking."""
import os

import numpy as np
import pytest

from spucircuit.cli import main as spu
from tests.helpers import check_bad_input, write_bad_input_files
from tngd.cli import main as tngd

NETLIST = os.path.join(os.path.dirname(__file__), "..", "..", "netlists", "capacitive8.cir")

# (command, argv, text the last stderr line must contain). Placeholders: {d} the folder of input
# files (tests.helpers.write_bad_input_files: A.npy, b.npy and bad ones), {A} and {b} its good
# matrix and right-hand side, {out} an empty folder that must stay empty.
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
    (spu, f"simulate {NETLIST} --time 1 --dt 1e-15 --out {{out}}/x.npz", "needs 1e+15 internal steps of <= 1e-15 s over 1 s, more than"),
    (spu, "study --n 4 --draws 1 --matrices 1 --out {out}/s --name a/b", "--name"),
    (spu, "solve --matrix {A} --rhs {b} --chains 30000000", "need about 5.76 GB (30000000 chains x 3 states"),
    (spu, "inv --matrix {A} --chains 30000 --max-memory 1M", "above the limit of 0.001 GB"),
    (spu, "solve --matrix {A} --rhs {b} --max-memory 0", "must be finite and > 0"),
    (spu, "solve --matrix {A} --rhs {b} --max-memory lots", "not a size in bytes"),
    (spu, f"simulate {NETLIST} --max-memory 100 --out {{out}}/x.npz", "above the limit of 1e-07 GB"),
    (spu, f"simulate {NETLIST} --max-elements 10 --out {{out}}/x.npz", "above the limit of 10: raise it with"),
    (spu, f"check {NETLIST} --max-elements 0", "--max-elements"),
    (spu, "study --n 4 --draws 1000000000 --matrices 1 --out {out}/s", "draws: must be >= 1 and <= 1e+06"),
    (spu, "study --n 4 --draws 1000000 --matrices 1000 --out {out}/s", "1,000,000,000 tasks"),
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


# spu solve, inv, map, demo: bad files, bad numbers for every option, bad choices and paths
CASES += [
    (spu, 'solve --matrix {d}/missing.npy --rhs {d}/b.npy --no-progress', 'matrix file not found: {d}/missing.npy'),
    (spu, 'solve --matrix {d}/plain.npz --rhs {d}/b.npy --no-progress', 'cannot read matrix file {d}/plain.npz as a scipy.sparse .npz'),
    (spu, 'solve --matrix {d}/bad.mtx --rhs {d}/b.npy --no-progress', 'cannot read matrix file {d}/bad.mtx as a Matrix Market .mtx'),
    (spu, 'solve --matrix {d}/missing.mtx --rhs {d}/b.npy --no-progress', 'matrix file not found: {d}/missing.mtx'),
    (spu, 'solve --matrix {d}/missing.npz --rhs {d}/b.npy --no-progress', 'matrix file not found: {d}/missing.npz'),
    (spu, 'solve --matrix {d}/rect.mtx --rhs {d}/b.npy --no-progress', 'A has wrong shape (3, 2)'),
    (spu, 'solve --matrix {d}/nonsym.npz --rhs {d}/b.npy --no-progress', 'A is not symmetric: A[0,1] = 1.0 but A[1,0] = 0.0'),
    (spu, 'solve --matrix {d}/A.npz --rhs {d}/b2.npy --no-progress', 'b has wrong shape (2,)'),
    (spu, 'solve --matrix {d}/nan.npz --rhs {d}/b.npy --no-progress', 'A contains NaN or inf (first at A[0,0] = nan)'),
    (spu, 'inv --matrix {d}/indef.mtx --no-progress', 'A is not positive definite: diagonal entry A[1,1] = -1'),
    (spu, 'inv --matrix {d}/rect.npz --no-progress', 'A has wrong shape (3, 2)'),
    (spu, 'solve --matrix {d}/text.npy --rhs {d}/b.npy --no-progress', 'cannot read matrix file {d}/text.npy: This file contains pickled'),
    (spu, 'solve --matrix {d}/text.txt --rhs {d}/b.npy --no-progress', 'cannot read matrix file {d}/text.txt: This file contains pickled'),
    (spu, 'solve --matrix {d}/obj.npy --rhs {d}/b.npy --no-progress', 'cannot read matrix file {d}/obj.npy: Object arrays cannot be loaded'),
    (spu, 'solve --matrix {d}/empty.npy --rhs {d}/b.npy --no-progress', 'A has wrong shape (0, 0): expected a non-empty square (n, n) matrix'),
    (spu, 'solve --matrix {d}/empty1.npy --rhs {d}/b.npy --no-progress', 'A has wrong shape (0,): expected a non-empty square (n, n) matrix'),
    (spu, 'solve --matrix {d}/vec.npy --rhs {d}/b.npy --no-progress', 'A has wrong shape (3,): expected a non-empty square (n, n) matrix'),
    (spu, 'solve --matrix {d}/scalar.npy --rhs {d}/b.npy --no-progress', 'A has wrong shape (): expected a non-empty square (n, n) matrix'),
    (spu, 'solve --matrix {d}/rect.npy --rhs {d}/b.npy --no-progress', 'A has wrong shape (3, 2): expected a non-empty square (n, n) matrix'),
    (spu, 'solve --matrix {d}/A3d.npy --rhs {d}/b.npy --no-progress', 'A has wrong shape (2, 2, 2): expected a non-empty square (n, n) matrix'),
    (spu, 'solve --matrix {d}/nonsym.npy --rhs {d}/b.npy --no-progress', 'A is not symmetric: A[0,1] = 1.0 but A[1,0] = 0.0'),
    (spu, 'solve --matrix {d}/indef.npy --rhs {d}/b.npy --no-progress', 'A is not positive definite: smallest eigenvalue -1 <= 0'),
    (spu, 'solve --matrix {d}/singular.npy --rhs {d}/b.npy --no-progress', 'A is not positive definite: smallest eigenvalue 0 <= 0'),
    (spu, 'solve --matrix {d}/nan.npy --rhs {d}/b.npy --no-progress', 'A contains NaN or inf (first at A[0,0] = nan)'),
    (spu, 'solve --matrix {d}/inf.npy --rhs {d}/b.npy --no-progress', 'A contains NaN or inf (first at A[1,1] = inf)'),
    (spu, 'solve --matrix {d}/str.npy --rhs {d}/b.npy --no-progress', 'A is not a numeric array: could not convert string to float:'),
    (spu, 'solve --matrix {d}/adir.npy --rhs {d}/b.npy --no-progress', 'cannot read matrix file {d}/adir.npy: [Errno 21] Is a directory:'),
    (spu, 'solve --matrix {d}/trunc.npy --rhs {d}/b.npy --no-progress', 'cannot read matrix file {d}/trunc.npy: EOF: reading array header,'),
    (spu, 'solve --matrix {d}/illcond.npy --rhs {d}/b.npy --no-progress', '1 entries of A need a resistance above r_max = 1e+06 Ohm (|A_ij| <'),
    (spu, 'solve --matrix {d}/A.npy --rhs {d}/missing.npy --no-progress', 'right-hand side file not found: {d}/missing.npy'),
    (spu, 'solve --matrix {d}/A.npy --rhs {d}/text.npy --no-progress', 'cannot read right-hand side file {d}/text.npy: This file contains'),
    (spu, 'solve --matrix {d}/A.npy --rhs {d}/obj.npy --no-progress', 'cannot read right-hand side file {d}/obj.npy: Object arrays cannot be'),
    (spu, 'solve --matrix {d}/A.npy --rhs {d}/b2.npy --no-progress', 'b has wrong shape (2,): expected (3,) to match the matrix'),
    (spu, 'solve --matrix {d}/A.npy --rhs {d}/bnan.npy --no-progress', 'b contains NaN or inf (first at b[1] = nan)'),
    (spu, 'solve --matrix {d}/A.npy --rhs {d}/bmat.npy --no-progress', 'b has wrong shape (3, 3): expected (3,) to match the matrix'),
    (spu, 'solve --matrix {d}/A.npy --rhs {d}/empty1.npy --no-progress', 'b has wrong shape (0,): expected (3,) to match the matrix'),
    (spu, 'solve --matrix {d}/A.npy --rhs {d}/scalar.npy --no-progress', 'b has wrong shape (): expected (3,) to match the matrix'),
    (spu, 'solve --matrix {d}/A.npy --rhs {d}/str.npy --no-progress', 'b is not a numeric array: could not convert string to float:'),
    (spu, 'solve --matrix {d}/A.npy --rhs {d}/adir.npy --no-progress', 'cannot read right-hand side file {d}/adir.npy: [Errno 21] Is a'),
    (spu, 'inv --no-progress --matrix {d}/missing.npy', 'matrix file not found: {d}/missing.npy'),
    (spu, 'inv --no-progress --matrix {d}/obj.npy', 'cannot read matrix file {d}/obj.npy: Object arrays cannot be loaded'),
    (spu, 'inv --no-progress --matrix {d}/empty.npy', 'A has wrong shape (0, 0): expected a non-empty square (n, n) matrix'),
    (spu, 'inv --no-progress --matrix {d}/vec.npy', 'A has wrong shape (3,): expected a non-empty square (n, n) matrix'),
    (spu, 'inv --no-progress --matrix {d}/rect.npy', 'A has wrong shape (3, 2): expected a non-empty square (n, n) matrix'),
    (spu, 'inv --no-progress --matrix {d}/nonsym.npy', 'A is not symmetric: A[0,1] = 1.0 but A[1,0] = 0.0'),
    (spu, 'inv --no-progress --matrix {d}/indef.npy', 'A is not positive definite: smallest eigenvalue -1 <= 0'),
    (spu, 'inv --no-progress --matrix {d}/singular.npy', 'A is not positive definite: smallest eigenvalue 0 <= 0'),
    (spu, 'inv --no-progress --matrix {d}/nan.npy', 'A contains NaN or inf (first at A[0,0] = nan)'),
    (spu, 'inv --no-progress --matrix {d}/str.npy', 'A is not a numeric array: could not convert string to float:'),
    (spu, 'inv --no-progress --matrix {d}/adir.npy', 'cannot read matrix file {d}/adir.npy: [Errno 21] Is a directory:'),
    (spu, 'map --json --matrix {d}/missing.npy', 'matrix file not found: {d}/missing.npy'),
    (spu, 'map --json --matrix {d}/text.npy', 'cannot read matrix file {d}/text.npy: This file contains pickled'),
    (spu, 'map --json --matrix {d}/empty.npy', 'A has wrong shape (0, 0): expected a non-empty square (n, n) matrix'),
    (spu, 'map --json --matrix {d}/vec.npy', 'A has wrong shape (3,): expected a non-empty square (n, n) matrix'),
    (spu, 'map --json --matrix {d}/nonsym.npy', 'A is not symmetric: A[0,1] = 1.0 but A[1,0] = 0.0'),
    (spu, 'map --json --matrix {d}/indef.npy', 'A is not positive definite: smallest eigenvalue -1 <= 0'),
    (spu, 'map --json --matrix {d}/inf.npy', 'A contains NaN or inf (first at A[1,1] = inf)'),
    (spu, 'map --json --matrix {d}/str.npy', 'A is not a numeric array: could not convert string to float:'),
    (spu, 'map --json --matrix {d}/trunc.npy', 'cannot read matrix file {d}/trunc.npy: EOF: reading array header,'),
    (spu, 'map --json --matrix {A} --rhs {d}/b2.npy', 'b has wrong shape (2,): expected (3,) to match the matrix'),
    (spu, 'map --json --matrix {A} --rhs {d}/bnan.npy', 'b contains NaN or inf (first at b[1] = nan)'),
    (spu, 'map --json --matrix {A} --rhs {d}/bmat.npy', 'b has wrong shape (3, 3): expected (3,) to match the matrix'),
    (spu, 'map --json --matrix {A} --rhs {d}/obj.npy', 'cannot read right-hand side file {d}/obj.npy: Object arrays cannot be'),
    (spu, 'map --json --matrix {A} --rhs {d}/missing.npy', 'right-hand side file not found: {d}/missing.npy'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --dt 0', 'time step must be finite and > 0 s, got 0.0'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --dt -1', 'time step must be finite and > 0 s, got -1.0'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --dt nan', 'time step must be finite and > 0 s, got nan'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --dt inf', 'time step must be finite and > 0 s, got inf'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --dt abc', "argument --dt: invalid float value: 'abc'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --dt 1e308', 'time step 1e+308 s is longer than the averaging window (0.2 s, the'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --temperature -1', 'temperature must be finite and >= 0 K, got -1.0'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --temperature nan', 'temperature must be finite and >= 0 K, got nan'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --temperature inf', 'temperature must be finite and >= 0 K, got inf'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --temperature abc', "argument --temperature: invalid float value: 'abc'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --kappa-max -1', 'kappa_max must be finite and >= 1, got -1.0'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --kappa-max inf', 'kappa_max must be finite and >= 1, got inf'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --kappa-max abc', "argument --kappa-max: invalid float value: 'abc'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --kappa-max 1e308', 'kappa_max 1e+308 is above 1e+15: a matrix that ill-conditioned is'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --r-min 0', 'r_min must be finite and > 0, got 0.0'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --r-min -1', 'r_min must be finite and > 0, got -1.0'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --r-min nan', 'r_min must be finite and > 0, got nan'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --r-min inf', 'r_min must be finite and > 0, got inf'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --r-min abc', "argument --r-min: invalid float value: 'abc'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --r-min 1e308', 'r_max (1000000.0 Ohm) is below r_min (1e+308 Ohm)'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --r-max 0', 'r_max must be finite and > 0, got 0.0'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --r-max -1', 'r_max must be finite and > 0, got -1.0'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --r-max nan', 'r_max must be finite and > 0, got nan'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --r-max inf', 'r_max must be finite and > 0, got inf'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --r-max abc', "argument --r-max: invalid float value: 'abc'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --c 0', 'c must be finite and > 0, got 0.0'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --c -1', 'c must be finite and > 0, got -1.0'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --c nan', 'c must be finite and > 0, got nan'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --c inf', 'c must be finite and > 0, got inf'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --c abc', "argument --c: invalid float value: 'abc'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --v-swing 0', 'v_swing must be finite and > 0, got 0.0'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --v-swing -1', 'v_swing must be finite and > 0, got -1.0'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --v-swing nan', 'v_swing must be finite and > 0, got nan'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --v-swing inf', 'v_swing must be finite and > 0, got inf'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --v-swing abc', "argument --v-swing: invalid float value: 'abc'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --max-run-time 0', '--max-run-time must be > 0 s, got 0.0'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --max-run-time nan', '--max-run-time must be > 0 s, got nan'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --max-run-time abc', "argument --max-run-time: invalid float value: 'abc'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --time abc', "cannot parse time 'abc': use e.g. '50tau', '10us', '2e-5' (seconds)"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --time=-5tau', "time must be finite and > 0, got '-5tau'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --time 1e400', "time must be finite and > 0, got '1e400'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --time nan', "cannot parse time 'nan': use e.g. '50tau', '10us', '2e-5' (seconds)"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --time 0', "time must be finite and > 0, got '0'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --time -1', "time must be finite and > 0, got '-1'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --time inf', "cannot parse time 'inf': use e.g. '50tau', '10us', '2e-5' (seconds)"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --time 5parsecs', "cannot parse time '5parsecs': use e.g. '50tau', '10us', '2e-5'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --time tau', "cannot parse time 'tau': use e.g. '50tau', '10us', '2e-5' (seconds)"),
    (spu, "solve --matrix {A} --rhs {b} --no-progress --time=''", "cannot parse time '': use e.g. '50tau', '10us', '2e-5' (seconds)"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --burn-in abc', "cannot parse time 'abc': use e.g. '50tau', '10us', '2e-5' (seconds)"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --burn-in=-5tau', "time must be finite and > 0, got '-5tau'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --burn-in 1e400', "time must be finite and > 0, got '1e400'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --burn-in nan', "cannot parse time 'nan': use e.g. '50tau', '10us', '2e-5' (seconds)"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --burn-in 0', "time must be finite and > 0, got '0'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --burn-in 1e308', 'burn-in (1e+308 s) must be shorter than the analog time (0.22 s)'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --chains -1', 'argument --chains: must be an integer >= 1, got -1'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --chains 1e9', "(1000000000 chains x 3 states x 8 arrays of 8 bytes), above the limit of 4 GB"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --chains abc', "argument --chains: not an integer: 'abc'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --seed abc', "argument --seed: not an integer: 'abc'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --seed 2.5', "argument --seed: not an integer: '2.5'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --scheme rk4', "argument --scheme: invalid choice: 'rk4' (choose from 'auto', 'exponential',"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --profile bogus', "argument --profile: invalid choice: 'bogus' (choose from 'ideal',"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --converters bogus', "argument --converters: invalid choice: 'bogus' (choose from 'ideal',"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --scale exact', "argument --scale: invalid choice: 'exact' (choose from 'autorange',"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --profile precision-cmos --rails 0', 'rail_v must be finite and > 0 V, got 0.0'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --profile precision-cmos --rails -1', 'rail_v must be finite and > 0 V, got -1.0'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --profile precision-cmos --rails nan', 'rail_v must be finite and > 0 V, got nan'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --profile precision-cmos --rails inf', 'rail_v must be finite and > 0 V, got inf'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --profile precision-cmos --rails abc', "argument --rails: invalid float value: 'abc'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --converters precision --converter-bits -1', 'converter needs at least 2 bits, got -1'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --converters precision --converter-bits nan', "argument --converter-bits: invalid int value: 'nan'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --converters precision --converter-bits abc', "argument --converter-bits: invalid int value: 'abc'"),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --converters precision --converter-bits 64', 'converter DNL is modelled per code with nearest rounding up to 20'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --time 10tau --burn-in 20tau', 'burn-in (4e-05 s) must be shorter than the analog time (2e-05 s)'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --out {out}', '--out {out} is a folder: give a file path'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --out {A}/x.npy', '--out {d}/A.npy/x.npy: {d}/A.npy is not a folder'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --r-min 1e6 --r-max 1e3', 'r_max (1000.0 Ohm) is below r_min (1000000.0 Ohm)'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --scheme euler --dt 1', 'time step 1 s is unstable for Euler-Maruyama: |1 + h*lambda| = 1e+06'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --profile general-purpose --dt 1e308', 'time step 1e+308 s is longer than the averaging window (0.2 s, the'),
    (spu, 'solve --matrix {A} --rhs {b} --no-progress --rhs {d}/b2.npy', 'b has wrong shape (2,): expected (3,) to match the matrix'),
    (spu, 'inv --matrix {A} --no-progress --noise-psd -1', 'noise_psd must be finite and >= 0 A^2/Hz, got -1.0'),
    (spu, 'inv --matrix {A} --no-progress --noise-psd nan', 'noise_psd must be finite and >= 0 A^2/Hz, got nan'),
    (spu, 'inv --matrix {A} --no-progress --noise-psd inf', 'noise_psd must be finite and >= 0 A^2/Hz, got inf'),
    (spu, 'inv --matrix {A} --no-progress --noise-psd abc', "argument --noise-psd: invalid float value: 'abc'"),
    (spu, 'inv --matrix {A} --no-progress --temperature -1', 'temperature must be finite and >= 0 K, got -1.0'),
    (spu, 'inv --matrix {A} --no-progress --temperature nan', 'temperature must be finite and >= 0 K, got nan'),
    (spu, 'inv --matrix {A} --no-progress --temperature abc', "argument --temperature: invalid float value: 'abc'"),
    (spu, 'inv --matrix {A} --no-progress --dt 0', 'time step must be finite and > 0 s, got 0.0'),
    (spu, 'inv --matrix {A} --no-progress --dt nan', 'time step must be finite and > 0 s, got nan'),
    (spu, 'inv --matrix {A} --no-progress --dt abc', "argument --dt: invalid float value: 'abc'"),
    (spu, 'inv --matrix {A} --no-progress --dt 1e308', 'time step 1e+308 s is longer than the averaging window (1.99 s, the'),
    (spu, 'inv --matrix {A} --no-progress --dt 1', 'the run kept 1 samples per chain, fewer than the 4 batches of the'),
    (spu, 'inv --matrix {A} --no-progress --time abc', "cannot parse time 'abc': use e.g. '50tau', '10us', '2e-5' (seconds)"),
    (spu, 'inv --matrix {A} --no-progress --time 0', "time must be finite and > 0, got '0'"),
    (spu, 'inv --matrix {A} --no-progress --chains 0', 'argument --chains: must be an integer >= 1, got 0'),
    (spu, 'inv --matrix {A} --no-progress --chains -2', 'argument --chains: must be an integer >= 1, got -2'),
    (spu, 'inv --matrix {A} --no-progress --kappa-max 0.5', 'kappa_max must be finite and >= 1, got 0.5'),
    (spu, 'inv --matrix {A} --no-progress --scale bogus', "argument --scale: invalid choice: 'bogus' (choose from 'autorange',"),
    (spu, 'inv --matrix {A} --no-progress --out {out}', '--out {out} is a folder: give a file path'),
    (spu, 'inv --matrix {A} --no-progress --out {A}/x.npy', '--out {d}/A.npy/x.npy: {d}/A.npy is not a folder'),
    (spu, 'inv --matrix {A} --no-progress --profile precision-bipolar --dt 1', 'the run kept 1 samples per chain, fewer than the 4 batches of the'),
    (spu, 'inv --matrix {A} --no-progress --converters general-purpose --converter-bits 1', 'converter needs at least 2 bits, got 1'),
    (spu, 'map --matrix {A} --rhs {b} --json --noise-psd -1', 'noise_psd must be finite and >= 0 A^2/Hz, got -1.0'),
    (spu, 'map --matrix {A} --rhs {b} --json --noise-psd nan', 'noise_psd must be finite and >= 0 A^2/Hz, got nan'),
    (spu, 'map --matrix {A} --rhs {b} --json --noise-psd inf', 'noise_psd must be finite and >= 0 A^2/Hz, got inf'),
    (spu, 'map --matrix {A} --rhs {b} --json --noise-psd abc', "argument --noise-psd: invalid float value: 'abc'"),
    (spu, 'map --matrix {A} --rhs {b} --json --kappa-max -1', 'kappa_max must be finite and >= 1, got -1.0'),
    (spu, 'map --matrix {A} --rhs {b} --json --kappa-max inf', 'kappa_max must be finite and >= 1, got inf'),
    (spu, 'map --matrix {A} --rhs {b} --json --kappa-max abc', "argument --kappa-max: invalid float value: 'abc'"),
    (spu, 'map --matrix {A} --rhs {b} --json --kappa-max 1e308', 'kappa_max 1e+308 is above 1e+15: a matrix that ill-conditioned is'),
    (spu, 'map --matrix {A} --rhs {b} --json --r-min 0', 'r_min must be finite and > 0, got 0.0'),
    (spu, 'map --matrix {A} --rhs {b} --json --r-min nan', 'r_min must be finite and > 0, got nan'),
    (spu, 'map --matrix {A} --rhs {b} --json --r-min abc', "argument --r-min: invalid float value: 'abc'"),
    (spu, 'map --matrix {A} --rhs {b} --json --r-max -1', 'r_max must be finite and > 0, got -1.0'),
    (spu, 'map --matrix {A} --rhs {b} --json --r-max inf', 'r_max must be finite and > 0, got inf'),
    (spu, 'map --matrix {A} --rhs {b} --json --c 0', 'c must be finite and > 0, got 0.0'),
    (spu, 'map --matrix {A} --rhs {b} --json --c nan', 'c must be finite and > 0, got nan'),
    (spu, 'map --matrix {A} --rhs {b} --json --v-swing -1', 'v_swing must be finite and > 0, got -1.0'),
    (spu, 'map --matrix {A} --rhs {b} --json --v-swing inf', 'v_swing must be finite and > 0, got inf'),
    (spu, 'map --matrix {A} --rhs {b} --json --scale autorange', "argument --scale: invalid choice: 'autorange' (choose from 'bound',"),
    (spu, 'map --matrix {A} -o {out}', '-o {out} is a folder: give a file path'),
    (spu, 'map --matrix {A} -o {A}/c.json', '-o {d}/A.npy/c.json: {d}/A.npy is not a folder'),
    (spu, 'map --matrix {A} --r-min 1e6 --r-max 1e3 --json', 'r_max (1000.0 Ohm) is below r_min (1000000.0 Ohm)'),
    (spu, 'demo --out {out}/demo --n 0', 'n must be >= 1, got 0'),
    (spu, 'demo --out {out}/demo --n -1', 'n must be >= 1, got -1'),
    (spu, 'demo --out {out}/demo --n nan', "argument --n: invalid int value: 'nan'"),
    (spu, 'demo --out {out}/demo --n abc', "argument --n: invalid int value: 'abc'"),
    (spu, 'demo --out {out}/demo --n 2.5', "argument --n: invalid int value: '2.5'"),
    (spu, 'demo --out {out}/demo --n 100000', 'n = 100000 is above 8192: a dense random n x n matrix and its QR'),
    (spu, 'demo --out {out}/demo --cond 0', 'condition number must be finite and >= 1, got 0.0'),
    (spu, 'demo --out {out}/demo --cond -1', 'condition number must be finite and >= 1, got -1.0'),
    (spu, 'demo --out {out}/demo --cond nan', 'condition number must be finite and >= 1, got nan'),
    (spu, 'demo --out {out}/demo --cond inf', 'condition number must be finite and >= 1, got inf'),
    (spu, 'demo --out {out}/demo --cond abc', "argument --cond: invalid float value: 'abc'"),
    (spu, 'demo --out {out}/demo --cond 1e308', 'condition number 1e+308 is above 1e+15: such a matrix is singular in'),
    (spu, 'demo --out {out}/demo --cond 1e20', 'condition number 1e+20 is above 1e+15: such a matrix is singular in'),
    (spu, 'demo --out {out}/demo --seed abc', "argument --seed: not an integer: 'abc'"),
    (spu, 'demo --out {out}/demo --seed -3', 'argument --seed: a seed must be >= 0, got -3'),
    (spu, 'demo --out {A}', '--out {d}/A.npy exists and is not a folder'),
    (spu, 'sample --no-progress --matrix {d}/missing.npy --samples 100', 'matrix file not found: {d}/missing.npy'),
    (spu, 'sample --no-progress --matrix {A} --samples 100 --architecture analog', "invalid choice: 'analog'"),
    (spu, 'sample --no-progress --matrix {A} --samples 100 --architecture capacitive --r-min 10 --c 1e-9', '--r-min, --c: the integrator array\'s mapping options'),
    (spu, 'sample --no-progress --matrix {d}/indef.npy --samples 100 --architecture capacitive', 'P is not positive definite: smallest eigenvalue -1 <= 0'),
    (spu, 'sample --no-progress --matrix {d}/nonsym.npy --samples 100 --architecture capacitive', 'P is not symmetric'),
    (spu, 'sample --no-progress --matrix {d}/rect.npy --samples 100', 'P has wrong shape (3, 2): expected a non-empty square (n, n) matrix'),
    (spu, 'sample --no-progress --matrix {d}/nonsym.npy --samples 100', 'P is not symmetric: P[0,1] = 1.0 but P[1,0] = 0.0'),
    (spu, 'sample --no-progress --matrix {d}/indef.npy --samples 100', 'P is not positive definite: smallest eigenvalue -1 <= 0'),
    (spu, 'sample --no-progress --matrix {d}/indef.npy --given covariance --samples 100', 'Sigma is not positive definite: smallest eigenvalue -1'),
    (spu, 'sample --no-progress --matrix {d}/nan.npy --samples 100', 'P contains NaN or inf (first at P[0,0] = nan)'),
    (spu, 'sample --no-progress --matrix {A} --mean {d}/b2.npy --samples 100', 'mean has wrong shape (2,): expected (3,) to match the matrix'),
    (spu, 'sample --no-progress --matrix {A} --mean {d}/bnan.npy --samples 100', 'mean contains NaN or inf (first at mean[1] = nan)'),
    (spu, 'sample --no-progress --matrix {A} --mean {d}/missing.npy --samples 100', 'mean file not found: {d}/missing.npy'),
    (spu, 'sample --no-progress --matrix {A} --samples 10', 'n_samples must be an integer >= 64, got 10'),
    (spu, 'sample --no-progress --matrix {A} --samples 0', 'argument --samples: must be an integer >= 1, got 0'),
    (spu, 'sample --no-progress --matrix {A}', 'the following arguments are required: --samples'),
    (spu, 'sample --no-progress --matrix {A} --samples 100 --given both', "argument --given: invalid choice: 'both'"),
    (spu, 'sample --no-progress --matrix {A} --samples 100 --spacing abc', "cannot parse time 'abc'"),
    (spu, 'sample --no-progress --matrix {A} --samples 100 --chains 0', 'argument --chains: must be an integer >= 1, got 0'),
    (spu, 'sample --no-progress --matrix {A} --samples 100 --temperature -1', 'temperature must be finite and >= 0 K, got -1.0'),
    (spu, 'sample --no-progress --matrix {A} --samples 100 --noise-psd nan', 'noise_psd must be finite and >= 0 A^2/Hz, got nan'),
    (spu, 'sample --no-progress --matrix {A} --samples 100 --kappa-max 0', 'kappa_max must be finite and >= 1, got 0.0'),
    (spu, 'sample --no-progress --matrix {A} --samples 100 --out {out}', '--out {out} is a folder: give a file path'),
    (spu, 'lyap --no-progress --matrix {d}/missing.npy --q {A}', 'matrix file not found: {d}/missing.npy'),
    (spu, 'lyap --no-progress --matrix {d}/rect.npy --q {A}', 'F has wrong shape (3, 2): expected a non-empty square (n, n) matrix'),
    (spu, 'lyap --no-progress --matrix {A} --q {A}', 'F is not stable: its largest eigenvalue real part is 2 >= 0'),
    (spu, 'lyap --no-progress --matrix {d}/indef.npy --q {A}', 'F is not stable: its largest eigenvalue real part is 2 >= 0'),
    (spu, 'lyap --no-progress --matrix {d}/nan.npy --q {A}', 'F contains NaN or inf (first at F[0,0] = nan)'),
    (spu, 'lyap --no-progress --matrix {d}/F.npy --q {d}/missing.npy', 'Q file not found: {d}/missing.npy'),
    (spu, 'lyap --no-progress --matrix {d}/F.npy --q {d}/indef.npy', 'Q is not positive semi-definite: smallest eigenvalue -1 < 0'),
    (spu, 'lyap --no-progress --matrix {d}/F.npy --q {d}/nonsym.npy', 'Q is not symmetric: Q[0,1] = 1.0 but Q[1,0] = 0.0'),
    (spu, 'lyap --no-progress --matrix {d}/F.npy --q {d}/rect.npy', 'Q has wrong shape (3, 2): expected a non-empty square (n, n) matrix'),
    (spu, 'lyap --no-progress --matrix {d}/F.npy --q {d}/A1.npy', 'Q has wrong shape (1, 1): expected (3, 3) to match the matrix'),
    (spu, 'lyap --no-progress --matrix {d}/F.npy --q {d}/nan.npy', 'Q contains NaN or inf (first at Q[0,0] = nan)'),
    (spu, 'lyap --no-progress --matrix {d}/F.npy --q {d}/zero.npy', 'Q is zero: a covariance needs noise to drive it'),
    (spu, 'lyap --no-progress --matrix {d}/F.npy', 'the following arguments are required: --q'),
    (spu, 'lyap --no-progress --matrix {d}/F.npy --q {A} --time abc', "cannot parse time 'abc'"),
    (spu, 'lyap --no-progress --matrix {d}/F.npy --q {A} --dt 0', 'time step must be finite and > 0 s, got 0.0'),
    (spu, 'lyap --no-progress --matrix {d}/F.npy --q {A} --kappa-max nan', 'kappa_max must be finite and >= 1, got nan'),
    (spu, 'lyap --no-progress --matrix {d}/F.npy --q {A} --noise-psd 0 --temperature 0', 'lyap reads P from the stationary fluctuations'),
    (spu, 'lyap --no-progress --matrix {d}/F.npy --q {A} --out {out}', '--out {out} is a folder: give a file path'),
    (spu, 'expm --no-progress --matrix {d}/missing.npy', 'matrix file not found: {d}/missing.npy'),
    (spu, 'expm --no-progress --matrix {d}/rect.npy', 'A has wrong shape (3, 2): expected a non-empty square (n, n) matrix'),
    (spu, 'expm --no-progress --matrix {A}', 'expm(A) on the twin needs a stable A: the circuit\'s drift A has an eigenvalue with real part 2 >= 0'),
    (spu, 'expm --no-progress --matrix {d}/F.npy --negative', 'expnegm(A) needs every eigenvalue of A with a positive real part: the circuit\'s drift -A has an eigenvalue with real part 2 >= 0'),
    (spu, 'expm --no-progress --matrix {d}/nan.npy', 'A contains NaN or inf (first at A[0,0] = nan)'),
    (spu, 'expm --no-progress --matrix {d}/inf.npy --negative', 'A contains NaN or inf (first at A[1,1] = inf)'),
    (spu, 'expm --no-progress --matrix {d}/Ac.npy', 'A is complex'),
    (spu, 'expm --no-progress --matrix {d}/F.npy --time abc', "cannot parse time 'abc'"),
    (spu, 'expm --no-progress --matrix {d}/F.npy --kappa-max 0', 'kappa_max must be finite and >= 1, got 0.0'),
    (spu, 'expm --no-progress --matrix {d}/F.npy --noise-psd 0 --temperature 0', 'expm reads the exponential from the stationary fluctuations, and this circuit has no noise'),
    (spu, 'expm --no-progress --matrix {d}/F.npy --out {out}', '--out {out} is a folder: give a file path'),
    (spu, 'expm --no-progress', 'the following arguments are required: --matrix'),
    (spu, 'expm --no-progress --matrix {d}/F.npy --target 0', 'target must be a relative error bound > 0, got 0.0'),
    (spu, 'expm --no-progress --matrix {d}/F.npy --max-time abc', "cannot parse time 'abc'"),
    (spu, 'logdet --no-progress --matrix {d}/missing.npy', 'matrix file not found: {d}/missing.npy'),
    (spu, 'logdet --no-progress --matrix {d}/rect.npy', 'A has wrong shape (3, 2): expected a non-empty square (n, n) matrix'),
    (spu, 'logdet --no-progress --matrix {d}/indef.npy', 'A is not positive definite: smallest eigenvalue -1'),
    (spu, 'logdet --no-progress --matrix {d}/nonsym.npy', 'A is not symmetric: A[0,1] = 1.0 but A[1,0] = 0.0'),
    (spu, 'logdet --no-progress --matrix {d}/nan.npy', 'A contains NaN or inf (first at A[0,0] = nan)'),
    (spu, 'logdet --no-progress --matrix {d}/singular.npy', 'A is not positive definite: smallest eigenvalue 0'),
    (spu, 'logdet --no-progress --matrix {A} --time 0', "time must be finite and > 0, got '0'"),
    (spu, 'logdet --no-progress --matrix {A} --chains 0', '--chains'),
    (spu, 'logdet --no-progress --matrix {A} --kappa-max nan', 'kappa_max must be finite and >= 1, got nan'),
    (spu, 'logdet --no-progress --matrix {A} --noise-psd 0 --temperature 0', 'inv reads A^-1 from the stationary fluctuations'),
    (spu, 'logdet --no-progress', 'the following arguments are required: --matrix'),
    (spu, 'conditional --no-progress --matrix {d}/missing.npy --observed 0 --values {d}/v1.npy', 'matrix file not found: {d}/missing.npy'),
    (spu, 'conditional --no-progress --matrix {d}/nonsym.npy --observed 0 --values {d}/v1.npy', 'P is not symmetric: P[0,1] = 1.0 but P[1,0] = 0.0'),
    (spu, 'conditional --no-progress --matrix {d}/indef.npy --observed 0 --values {d}/v1.npy', 'P is not positive definite: smallest eigenvalue -1'),
    (spu, 'conditional --no-progress --matrix {A} --observed 5 --values {d}/v1.npy', 'observed index 5 is outside 0..2'),
    (spu, 'conditional --no-progress --matrix {A} --observed 0,0 --values {d}/b2.npy', 'observed indices must not repeat'),
    (spu, 'conditional --no-progress --matrix {A} --observed 0,1,2 --values {d}/b.npy', 'observe between 1 and n - 1 = 2 coordinates, got 3'),
    (spu, 'conditional --no-progress --matrix {A} --observed x --values {d}/v1.npy', '--observed must be comma-separated integer indices'),
    (spu, 'conditional --no-progress --matrix {A} --observed 0 --values {d}/b2.npy', 'values has wrong shape (2,): expected (1,) to match the matrix'),
    (spu, 'conditional --no-progress --matrix {A} --observed 0 --values {d}/nan.npy', 'values has wrong shape (3, 3): expected (1,)'),
    (spu, 'conditional --no-progress --matrix {A} --observed 0 --values {d}/missing.npy', 'values file not found: {d}/missing.npy'),
    (spu, 'conditional --no-progress --matrix {A} --mean {d}/bnan.npy --observed 0 --values {d}/v1.npy', 'mean contains NaN or inf (first at mean[1] = nan)'),
    (spu, 'conditional --no-progress --matrix {A} --observed 0 --values {d}/v1.npy --out-cov {out}', '--out-cov {out} is a folder: give a file path'),
    (spu, 'conditional --no-progress --matrix {A} --values {d}/v1.npy', 'the following arguments are required: --observed'),
    (spu, 'bogus', "argument COMMAND: invalid choice: 'bogus' (choose from 'solve',"),
    (spu, '', 'the following arguments are required: COMMAND'),
    (spu, 'solve --rhs {b}', 'the following arguments are required: --matrix'),
    (spu, 'solve --matrix {A}', 'the following arguments are required: --rhs'),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return write_bad_input_files(tmp_path_factory.mktemp("inputs"))


@pytest.mark.parametrize("main, argv, expect", CASES, ids=[f"{m.__module__.split('.')[0]} {a}" for m, a, _ in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(inputs, tmp_path, capsys, main, argv, expect):
    out = tmp_path / "out"
    out.mkdir()
    check_bad_input(main, argv, expect, inputs, out, capsys)


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
