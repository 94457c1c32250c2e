"""Bad input, table-driven (issue 17): tngd train and tngd compare (data sets, every numeric
option, the model and device options, optimizer names and learning rates, output paths). Each case
ends in tngd's own one-line error with exit status 2 before any training, with no traceback and
nothing written (the harness is tests.helpers.check_bad_input); the good data set is the built-in
'digits'."""
import io

import numpy as np
import pytest

from tests.helpers import check_bad_input, write_bad_input_files
from tngd.cli import main as tngd


def npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


# .npz data sets with one mistake each, written into {d}
FILES = {
    "nox.npz": npz(a=np.ones(3)),
    "mismatch.npz": npz(x_train=np.ones((10, 4)), y_train=np.ones(5, int)),
    "nanx.npz": npz(x_train=np.full((10, 4), np.nan), y_train=np.arange(10) % 2),
    "neglabel.npz": npz(x_train=np.ones((10, 4)), y_train=-np.ones(10, int)),
    "oneclass.npz": npz(x_train=np.ones((10, 4)), y_train=np.zeros(10, int)),
    "testshape.npz": npz(x_train=np.ones((10, 4)), y_train=np.arange(10) % 2, x_test=np.ones((3, 5)), y_test=np.zeros(3, int)),
    "strx.npz": npz(x_train=np.array([["a"] * 4] * 10), y_train=np.arange(10) % 2),
    "floaty.npz": npz(x_train=np.ones((10, 4)), y_train=(np.arange(10) % 2) + 0.5),
    "notest_y.npz": npz(x_train=np.ones((10, 4)), y_train=np.arange(10) % 2, x_test=np.ones((3, 4))),
    "flat.npz": npz(x_train=np.ones((10, 4)), y_train=np.arange(10) % 2),
}


# (command, argv, text the last stderr line must contain); placeholders as in test_bad_inputs.py.
# One training step and one comparison run, which each bad value must stop before they start.
T = "train --dataset digits --steps 1 --no-progress --out {out}/r.json "
P = "compare --dataset digits --steps 1 --no-progress --seeds 0 --optimizers sgd --out-dir {out}/c "
CASES = [
    (tngd, T + '--n-train 0', 'n_train must be >= 1, got 0'),
    (tngd, T + '--n-train -1', 'n_train must be >= 1, got -1'),
    (tngd, T + '--n-train abc', "argument --n-train: invalid int value: 'abc'"),
    (tngd, T + '--n-train 1e308', "argument --n-train: invalid int value: '1e308'"),
    (tngd, T + '--n-test 0', 'n_test must be >= 1, got 0'),
    (tngd, T + '--n-test abc', "argument --n-test: invalid int value: 'abc'"),
    (tngd, T + '--cg-iters 0', '--cg-iters must be an integer >= 1, got 0'),
    (tngd, T + '--cg-iters -1', '--cg-iters must be an integer >= 1, got -1'),
    (tngd, T + '--cg-iters abc', "argument --cg-iters: invalid int value: 'abc'"),
    (tngd, T + '--t -1', '--t must be >= 0 (tau units), got -1.0'),
    (tngd, T + '--t nan', '--t must be finite, got nan (ngd is the t -> infinity limit)'),
    (tngd, T + '--t inf', '--t must be finite, got inf (ngd is the t -> infinity limit)'),
    (tngd, T + '--t abc', "argument --t: invalid float value: 'abc'"),
    (tngd, T + '--td -1', '--td must be in [0, --t], got -1.0'),
    (tngd, T + '--td nan', '--td must be in [0, --t], got nan'),
    (tngd, T + '--td abc', "argument --td: invalid float value: 'abc'"),
    (tngd, T + '--td 100', '--td must be in [0, --t], got 100.0'),
    (tngd, T + '--kappa0 -1', '--kappa0 must be finite and >= 0, got -1.0'),
    (tngd, T + '--kappa0 nan', '--kappa0 must be finite and >= 0, got nan'),
    (tngd, T + '--kappa0 inf', '--kappa0 must be finite and >= 0, got inf'),
    (tngd, T + '--kappa0 abc', "argument --kappa0: invalid float value: 'abc'"),
    (tngd, T + '--euler-dt 0', '--euler-dt must be finite and > 0 (tau units), got 0.0'),
    (tngd, T + '--euler-dt -1', '--euler-dt must be finite and > 0 (tau units), got -1.0'),
    (tngd, T + '--euler-dt nan', '--euler-dt must be finite and > 0 (tau units), got nan'),
    (tngd, T + '--euler-dt abc', "argument --euler-dt: invalid float value: 'abc'"),
    (tngd, T + '--damping 0', '--damping must be finite and > 0, got 0.0'),
    (tngd, T + '--damping -1', '--damping must be finite and > 0, got -1.0'),
    (tngd, T + '--damping nan', '--damping must be finite and > 0, got nan'),
    (tngd, T + '--damping inf', '--damping must be finite and > 0, got inf'),
    (tngd, T + '--damping abc', "argument --damping: invalid float value: 'abc'"),
    (tngd, T + '--momentum -1', '--momentum must be in [0, 1), got -1.0'),
    (tngd, T + '--momentum 1', '--momentum must be in [0, 1), got 1.0'),
    (tngd, T + '--momentum nan', '--momentum must be in [0, 1), got nan'),
    (tngd, T + '--momentum inf', '--momentum must be in [0, 1), got inf'),
    (tngd, T + '--momentum abc', "argument --momentum: invalid float value: 'abc'"),
    (tngd, T + '--lr 0', 'learning rate must be finite and > 0, got 0.0'),
    (tngd, T + '--lr -1', 'learning rate must be finite and > 0, got -1.0'),
    (tngd, T + '--lr nan', 'learning rate must be finite and > 0, got nan'),
    (tngd, T + '--lr inf', 'learning rate must be finite and > 0, got inf'),
    (tngd, T + '--lr abc', "argument --lr: invalid float value: 'abc'"),
    (tngd, T + '--hidden 3,x', "--hidden must be comma-separated integers, got '3,x'"),
    (tngd, T + '--hidden 0', "--hidden widths must be >= 1, got '0'"),
    (tngd, T + '--hidden -3', "--hidden widths must be >= 1, got '-3'"),
    (tngd, T + '--hidden ,', "--hidden widths must be >= 1, got ','"),
    (tngd, T + '--hidden 1e9', "--hidden must be comma-separated integers, got '1e9'"),
    (tngd, T + '--hidden abc', "--hidden must be comma-separated integers, got 'abc'"),
    (tngd, T + '--hidden 3.5', "--hidden must be comma-separated integers, got '3.5'"),
    (tngd, T + '--batch-size 0', 'argument --batch-size: must be an integer >= 1, got 0'),
    (tngd, T + '--batch-size -1', 'argument --batch-size: must be an integer >= 1, got -1'),
    (tngd, T + '--batch-size abc', "argument --batch-size: not an integer: 'abc'"),
    (tngd, T + '--steps -1', 'argument --steps: must be an integer >= 1, got -1'),
    (tngd, T + '--steps abc', "argument --steps: not an integer: 'abc'"),
    (tngd, T + '--steps 2.5', "argument --steps: not an integer: '2.5'"),
    (tngd, T + '--eval-every -1', 'argument --eval-every: must be an integer >= 1, got -1'),
    (tngd, T + '--eval-every abc', "argument --eval-every: not an integer: 'abc'"),
    (tngd, T + '--seed abc', "argument --seed: not an integer: 'abc'"),
    (tngd, T + '--seed 2.5', "argument --seed: not an integer: '2.5'"),
    (tngd, T + '--optimizer bogus', "unknown optimizer 'bogus': use one of sgd, adam, ngd, ngd-cg,"),
    (tngd, T + '--optimizer NGD', "unknown optimizer 'NGD': use one of sgd, adam, ngd, ngd-cg,"),
    (tngd, T + '--model rnn', "argument --model: invalid choice: 'rnn' (choose from 'mlp', 'cnn')"),
    (tngd, T + '--activation gelu', "argument --activation: invalid choice: 'gelu' (choose from 'relu',"),
    (tngd, T + '--loss hinge', "argument --loss: invalid choice: 'hinge' (choose from 'ce', 'mse')"),
    (tngd, T + '--solver bogus', "argument --solver: invalid choice: 'bogus' (choose from 'exact',"),
    (tngd, T + '--x0 bogus', "argument --x0: invalid choice: 'bogus' (choose from 'warm',"),
    (tngd, T + '--init glorot', "argument --init: invalid choice: 'glorot' (choose from 'he', 'pytorch')"),
    (tngd, T + '--solver factored --bits 0', 'bits (resistor precision) must be None or an integer >= 1, got 0'),
    (tngd, T + '--solver factored --bits -1', 'bits (resistor precision) must be None or an integer >= 1, got -1'),
    (tngd, T + '--solver factored --bits abc', "argument --bits: invalid int value: 'abc'"),
    (tngd, T + '--solver factored --dac-bits 0', 'dac_bits must be None or an integer >= 2, got 0'),
    (tngd, T + '--solver factored --dac-bits 1', 'dac_bits must be None or an integer >= 2, got 1'),
    (tngd, T + '--solver factored --dac-bits abc', "argument --dac-bits: invalid int value: 'abc'"),
    (tngd, T + '--solver factored --adc-bits 0', 'adc_bits must be None or an integer >= 2, got 0'),
    (tngd, T + '--solver factored --adc-bits abc', "argument --adc-bits: invalid int value: 'abc'"),
    (tngd, T + '--solver factored --mitigation 0', 'mitigation (number of devices K) must be an integer >= 1, got 0'),
    (tngd, T + '--solver factored --mitigation -1', 'mitigation (number of devices K) must be an integer >= 1, got -1'),
    (tngd, T + '--solver factored --mitigation abc', "argument --mitigation: invalid int value: 'abc'"),
    (tngd, T + '--solver factored --tolerance -1', '--tolerance must be finite and >= 0, got -1.0'),
    (tngd, T + '--solver factored --tolerance nan', '--tolerance must be finite and >= 0, got nan'),
    (tngd, T + '--solver factored --tolerance inf', '--tolerance must be finite and >= 0, got inf'),
    (tngd, T + '--solver factored --tolerance abc', "argument --tolerance: invalid float value: 'abc'"),
    (tngd, T + '--solver factored --rails 0', 'rail_v must be > 0 V (inf: no rails), got 0.0'),
    (tngd, T + '--solver factored --rails -1', 'rail_v must be > 0 V (inf: no rails), got -1.0'),
    (tngd, T + '--solver factored --rails nan', 'rail_v must be > 0 V (inf: no rails), got nan'),
    (tngd, T + '--solver factored --rails abc', "argument --rails: invalid float value: 'abc'"),
    (tngd, T + '--solver factored --rounding bogus', "argument --rounding: invalid choice: 'bogus' (choose from"),
    (tngd, T + '--model cnn --channels 0', 'convolution channels, kernel and stride must be >= 1'),
    (tngd, T + '--model cnn --channels -1', 'convolution channels, kernel and stride must be >= 1'),
    (tngd, T + '--model cnn --channels abc', "argument --channels: invalid int value: 'abc'"),
    (tngd, T + '--model cnn --kernel 0', 'convolution channels, kernel and stride must be >= 1'),
    (tngd, T + '--model cnn --kernel abc', "argument --kernel: invalid int value: 'abc'"),
    (tngd, T + '--model cnn --kernel 100', 'images 8x8 are smaller than the 100x100 kernel'),
    (tngd, T + '--model cnn --stride 0', 'convolution channels, kernel and stride must be >= 1'),
    (tngd, T + '--model cnn --stride -1', 'convolution channels, kernel and stride must be >= 1'),
    (tngd, T + '--model cnn --stride abc', "argument --stride: invalid int value: 'abc'"),
    (tngd, T + '--model cnn --hidden 3,4', "--model cnn takes one --hidden width (its dense layer), got '3,4'"),
    (tngd, T + '--model cnn --hidden 0', "--hidden widths must be >= 1, got '0'"),
    (tngd, 'train --dataset {d}/missing.npz --steps 1 --no-progress --out {out}/r.json', '{d}/missing.npz: no such file'),
    (tngd, 'train --dataset {d}/nox.npz --steps 1 --no-progress --out {out}/r.json', '{d}/nox.npz: missing array(s) x_train, y_train (found: a)'),
    (tngd, 'train --dataset {d}/mismatch.npz --steps 1 --no-progress --out {out}/r.json', '{d}/mismatch.npz: x_train has 10 examples but y_train has 5'),
    (tngd, 'train --dataset {d}/nanx.npz --steps 1 --no-progress --out {out}/r.json', '{d}/nanx.npz: x_train: inputs contain NaN or inf'),
    (tngd, 'train --dataset {d}/neglabel.npz --steps 1 --no-progress --out {out}/r.json', '{d}/neglabel.npz: y_train: labels must be >= 0, found -1'),
    (tngd, 'train --dataset {d}/oneclass.npz --steps 1 --no-progress --out {out}/r.json', 'oneclass: need at least 2 classes, labels only contain [0]'),
    (tngd, 'train --dataset {d}/testshape.npz --steps 1 --no-progress --out {out}/r.json', '{d}/testshape.npz: x_test examples have shape (5,), x_train (4,)'),
    (tngd, 'train --dataset {d}/strx.npz --steps 1 --no-progress --out {out}/r.json', '{d}/strx.npz: x_train: inputs must be numeric, got dtype <U1'),
    (tngd, 'train --dataset {d}/floaty.npz --steps 1 --no-progress --out {out}/r.json', '{d}/floaty.npz: y_train: labels must be integers (class indices), got'),
    (tngd, 'train --dataset {d}/notest_y.npz --steps 1 --no-progress --out {out}/r.json', '{d}/notest_y.npz: give both x_test and y_test, or neither'),
    (tngd, 'train --dataset {A} --steps 1 --no-progress --out {out}/r.json', "unknown data set '{d}/A.npy': use 'digits', 'mnist', 'fashion-mnist', a .npz"),
    (tngd, 'train --dataset {d}/text.txt --steps 1 --no-progress --out {out}/r.json', "unknown data set '{d}/text.txt': use 'digits', 'mnist', 'fashion-mnist', a"),
    (tngd, 'train --dataset {d} --steps 1 --no-progress --out {out}/r.json', '{d}: missing train-images-idx3-ubyte[.gz]'),
    (tngd, 'train --dataset mnist --n-train 0 --steps 1 --no-progress --out {out}/r.json', 'n_train must be >= 1, got 0'),
    (tngd, 'train --dataset mnist --n-test -1 --steps 1 --no-progress --out {out}/r.json', 'n_test must be >= 1, got -1'),
    (tngd, 'train --dataset mnist --model cnn --kernel 29 --steps 1 --no-progress --out {out}/r.json', 'images 28x28 are smaller than the 29x29 kernel'),
    (tngd, 'train --dataset MNIST --steps 1 --no-progress --out {out}/r.json', "unknown data set 'MNIST': use 'digits', 'mnist', 'fashion-mnist', a"),
    (tngd, 'train --dataset bogus --steps 1 --no-progress --out {out}/r.json', "unknown data set 'bogus': use 'digits', 'mnist', 'fashion-mnist', a .npz file"),
    (tngd, 'train --dataset {d}/adir.npy --steps 1 --no-progress --out {out}/r.json', '{d}/adir.npy: missing train-images-idx3-ubyte[.gz]'),
    (tngd, 'train --dataset {d}/flat.npz --steps 1 --no-progress --out {out}/r.json --model cnn', '--model cnn needs image inputs (n, C, H, W) or (n, H, W); this data'),
    (tngd, T + '--bits 8', "--bits model the factored circuit twin's devices: use them with"),
    (tngd, T + '--rails 1', "--rails model the factored circuit twin's devices: use them with"),
    (tngd, T + '--calibrate', "--calibrate model the factored circuit twin's devices: use them with"),
    (tngd, T + '--mitigation 2 --solver euler', "--mitigation model the factored circuit twin's devices: use them with"),
    (tngd, T + '--solver twin --hidden 200', 'the twin maps the dense 15010 x 15010 matrix onto ~225300100'),
    (tngd, T + '--solver euler --euler-dt 60', 'Euler step 50 tau is unstable for lambda_max(A) = 1.25: use dt < 1.6'),
    (tngd, 'train --dataset digits --steps 1 --no-progress --out {out}', '{out} is a directory: give a file path'),
    (tngd, 'train --dataset digits --steps 1 --no-progress --out {out}/nodir/r.json', '{out}/nodir: output directory does not exist'),
    (tngd, 'train --dataset digits --steps 1 --no-progress --out {A}/r.json', '{d}/A.npy: not a directory'),
    (tngd, 'bogus', "argument cmd: invalid choice: 'bogus' (choose from 'train', 'compare')"),
    (tngd, '', 'the following arguments are required: cmd'),
    (tngd, 'train --bogus 1', 'unrecognized arguments: --bogus 1'),
    (tngd, P + '--optimizers bogus', "unknown optimizer(s) ['bogus']: use sgd, adam, ngd, ngd-cg,"),
    (tngd, P + '--optimizers ,', "unknown optimizer(s) ',': use sgd, adam, ngd, ngd-cg, ngd-woodbury,"),
    (tngd, P + '--optimizers sgd,bogus', "unknown optimizer(s) ['bogus']: use sgd, adam, ngd, ngd-cg,"),
    (tngd, P + '--seeds x', "--seeds must be comma-separated integers, got 'x'"),
    (tngd, P + '--seeds ,', '--seeds is empty'),
    (tngd, P + '--seeds 1.5', "--seeds must be comma-separated integers, got '1.5'"),
    (tngd, P + '--seeds 1e30', "--seeds must be comma-separated integers, got '1e30'"),
    (tngd, P + '--lr abc', "--lr must be a number or NAME=VALUE,..., got 'abc'"),
    (tngd, P + '--lr adam=0.1', "--lr names 'adam', which is not among --optimizers"),
    (tngd, P + '--lr sgd=abc', "--lr 'sgd=abc': not a number"),
    (tngd, P + '--lr -1', "--lr must be finite and > 0, got '-1'"),
    (tngd, P + '--lr nan', "--lr must be finite and > 0, got 'nan'"),
    (tngd, P + '--lr sgd=inf', "--lr 'sgd=inf': must be finite and > 0"),
    (tngd, P + '--lr sgd=0', "--lr 'sgd=0': must be finite and > 0"),
    (tngd, P + '--hidden 3,x', "--hidden must be comma-separated integers, got '3,x'"),
    (tngd, P + '--n-train 0', 'n_train must be >= 1, got 0'),
    (tngd, P + '--damping -1', '--damping must be finite and > 0, got -1.0'),
    (tngd, P + '--momentum 1', '--momentum must be in [0, 1), got 1.0'),
    (tngd, P + '--t nan', '--t must be finite, got nan (ngd is the t -> infinity limit)'),
    (tngd, P + '--td 100', '--td must be in [0, --t], got 100.0'),
    (tngd, P + '--cg-iters 0', '--cg-iters must be an integer >= 1, got 0'),
    (tngd, P + '--dataset {d}/text.txt', "unknown data set '{d}/text.txt': use 'digits', 'mnist', 'fashion-mnist', a"),
    (tngd, P + '--dataset {d}/nanx.npz', '{d}/nanx.npz: x_train: inputs contain NaN or inf'),
    (tngd, P + '--bits 8', "--bits model the factored circuit twin's devices: use them with"),
    (tngd, P + '--solver factored --tolerance -1', '--tolerance must be finite and >= 0, got -1.0'),
    (tngd, 'compare --dataset digits --steps 1 --no-progress --seeds 0 --optimizers sgd --out-dir {A}/c', 'cannot create --out-dir {d}/A.npy/c: Not a directory'),
    (tngd, P + '--steps 0', 'argument --steps: must be an integer >= 1, got 0'),
    (tngd, P + '--batch-size -1', 'argument --batch-size: must be an integer >= 1, got -1'),
    (tngd, P + '--eval-every abc', "argument --eval-every: not an integer: 'abc'"),
    (tngd, P + '--model cnn --hidden 3,4', "--model cnn takes one --hidden width (its dense layer), got '3,4'"),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return write_bad_input_files(tmp_path_factory.mktemp("inputs"), FILES)


@pytest.mark.parametrize("main, argv, expect", CASES, ids=[a for _, a, _ in CASES])
def test_bad_tngd_input_is_one_line_exit_2_and_writes_nothing(inputs, tmp_path, capsys, main, argv, expect):
    out = tmp_path / "out"
    out.mkdir()
    check_bad_input(main, argv, expect, inputs, out, capsys)
