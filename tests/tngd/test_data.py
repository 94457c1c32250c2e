"""Data loaders on small generated files: IDX (raw and gzip), MNIST-layout directories, .npz,
malformed inputs of each kind; the real Fashion-MNIST and digits when installed."""
import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from tngd import DataError, TNGDError, load_dataset, load_idx_dir, load_npz, read_idx, write_idx
from tngd.data import FASHION_MNIST_DIR


def make_idx_dir(d: Path, n=12, nt=5, gz=True, rng=None):
    rng = rng or np.random.default_rng(0)
    sfx = ".gz" if gz else ""
    xi = rng.integers(0, 256, (n, 4, 3)).astype(np.uint8)
    yi = rng.integers(0, 10, n).astype(np.uint8)
    write_idx(d / f"train-images-idx3-ubyte{sfx}", xi)
    write_idx(d / f"train-labels-idx1-ubyte{sfx}", yi)
    xt = rng.integers(0, 256, (nt, 4, 3)).astype(np.uint8)
    yt = rng.integers(0, 10, nt).astype(np.uint8)
    write_idx(d / f"t10k-images-idx3-ubyte{sfx}", xt)
    write_idx(d / f"t10k-labels-idx1-ubyte{sfx}", yt)
    return xi, yi, xt, yt


@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", ">i4", ">f4", ">f8"])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_roundtrip_every_type_raw_and_gzip(tmp_path, dtype, gz):
    a = (np.arange(24).reshape(2, 3, 4) - (0 if dtype[0] == "u" else 7)).astype(dtype)
    p = tmp_path / ("a.idx.gz" if gz else "a.idx")
    write_idx(p, a)
    assert (p.read_bytes()[:2] == b"\x1f\x8b") == gz
    b = read_idx(p)
    assert b.shape == (2, 3, 4) and np.array_equal(b, a)


def test_idx_header_is_big_endian_and_hand_written_bytes_parse(tmp_path):
    raw = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))
    (tmp_path / "h.idx").write_bytes(raw)
    assert np.array_equal(read_idx(tmp_path / "h.idx"), np.arange(6).reshape(2, 3))
    (tmp_path / "h.gz").write_bytes(gzip.compress(raw))  # gzip detected by content, not name
    (tmp_path / "h_gz_named_raw").write_bytes(gzip.compress(raw))
    assert np.array_equal(read_idx(tmp_path / "h_gz_named_raw"), np.arange(6).reshape(2, 3))


@pytest.mark.parametrize("content, msg", [
    (b"", "only 0 bytes"),
    (bytes([1, 2, 8, 1, 0, 0, 0, 1, 5]), "magic"),
    (bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 5]), "unknown IDX data type"),
    (bytes([0, 0, 0x08, 0]), "0 dimensions"),
    (bytes([0, 0, 0x08, 3, 0, 0, 0, 1]), "truncated IDX header"),
    (bytes([0, 0, 0x08, 1, 0, 0, 0, 4, 1, 2]), "truncated"),
    (bytes([0, 0, 0x08, 1, 0, 0, 0, 1, 1, 2]), "trailing bytes"),
    (b"\x1f\x8b\x08\x00garbage-not-gzip", "corrupt gzip"),
])
def test_malformed_idx_files_raise_data_error_naming_the_file(tmp_path, content, msg):
    p = tmp_path / "bad.idx"
    p.write_bytes(content)
    with pytest.raises(DataError, match=msg) as ei:
        read_idx(p)
    assert str(p) in str(ei.value)


def test_missing_files_and_directories(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_idx(tmp_path / "nope.idx")
    with pytest.raises(DataError, match="no such directory"):
        load_idx_dir(tmp_path / "nodir")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="missing train-images-idx3-ubyte"):
        load_idx_dir(tmp_path / "empty")
    with pytest.raises(DataError, match="unknown data set"):
        load_dataset(str(tmp_path / "nothing_here"))
    assert issubclass(DataError, TNGDError)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_directory_loads_scaled_images_and_labels(tmp_path, gz):
    xi, yi, xt, yt = make_idx_dir(tmp_path, gz=gz)
    ds = load_dataset(str(tmp_path))
    assert ds.x_train.shape == (12, 1, 4, 3) and ds.x_train.dtype == np.float64
    assert np.allclose(ds.x_train[:, 0] * 255, xi) and np.array_equal(ds.y_train, yi)
    assert np.allclose(ds.x_test[:, 0] * 255, xt) and np.array_equal(ds.y_test, yt)
    assert ds.n_classes == int(max(yi.max(), yt.max())) + 1
    sub = load_dataset(str(tmp_path), n_train=5, n_test=2)
    assert len(sub.y_train) == 5 and len(sub.y_test) == 2


def test_idx_directory_inconsistencies(tmp_path):
    make_idx_dir(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(11, np.uint8))
    with pytest.raises(DataError, match="12 images but .* 11 labels"):
        load_idx_dir(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros((12, 2), np.uint8))
    with pytest.raises(DataError, match="1-D labels"):
        load_idx_dir(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(12, np.uint8))
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((12, 12), np.uint8))
    with pytest.raises(DataError, match="3-D images"):
        load_idx_dir(tmp_path)


def test_npz_with_and_without_test_set(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(20, 5)), rng.integers(0, 3, 20)
    np.savez(tmp_path / "a.npz", x_train=x, y_train=y)
    ds = load_npz(tmp_path / "a.npz")
    assert ds.x_test is None and ds.n_classes == 3 and np.array_equal(ds.x_train, x)
    np.savez(tmp_path / "b.npz", x_train=rng.normal(size=(20, 6, 6)), y_train=y.astype(float),
             x_test=rng.normal(size=(4, 6, 6)), y_test=np.array([0, 1, 2, 3]))
    ds = load_dataset(str(tmp_path / "b.npz"))
    assert ds.x_train.shape == (20, 1, 6, 6) and ds.y_train.dtype == np.int64 and ds.n_classes == 4


@pytest.mark.parametrize("arrays, msg", [
    ({"x_train": np.zeros((3, 2))}, "missing array.*y_train"),
    ({"y_train": np.zeros(3, int)}, "missing array.*x_train"),
    ({"x_train": np.zeros((3, 2)), "y_train": np.array([0, 1])}, "3 examples but y_train has 2"),
    ({"x_train": np.zeros((3, 2)), "y_train": np.array([0, 1.5, 1])}, "integers"),
    ({"x_train": np.zeros((3, 2)), "y_train": np.array([0, -1, 1])}, ">= 0"),
    ({"x_train": np.zeros((3, 2)), "y_train": np.zeros((3, 2), int)}, "1-D"),
    ({"x_train": np.array([[0, np.nan]] * 3), "y_train": np.array([0, 1, 1])}, "NaN"),
    ({"x_train": np.zeros(3), "y_train": np.array([0, 1, 1])}, "shape"),
    ({"x_train": np.zeros((3, 2)), "y_train": np.zeros(3, int)}, "at least 2 classes"),
    ({"x_train": np.zeros((3, 2)), "y_train": np.array([0, 1, 1]), "x_test": np.zeros((1, 2))}, "both x_test and y_test"),
    ({"x_train": np.zeros((3, 2)), "y_train": np.array([0, 1, 1]), "x_test": np.zeros((1, 3)),
      "y_test": np.array([0])}, "x_test examples have shape"),
    ({"x_train": np.array([["a", "b"]] * 3), "y_train": np.array([0, 1, 1])}, "numeric"),
])
def test_malformed_npz(tmp_path, arrays, msg):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    with pytest.raises(DataError, match=msg):
        load_npz(p)


def test_unreadable_npz(tmp_path):
    p = tmp_path / "junk.npz"
    p.write_bytes(b"this is not a zip file")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_npz(p)
    with pytest.raises(DataError, match="no such file"):
        load_dataset(str(tmp_path / "absent.npz"))


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST_DIR), reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist_from_the_debian_package():
    ds = load_dataset("fashion-mnist", n_train=1000, n_test=500)
    assert ds.x_train.shape == (1000, 1, 28, 28) and ds.x_test.shape == (500, 1, 28, 28)
    assert ds.n_classes == 10 and 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    assert set(np.unique(ds.y_train)) == set(range(10))


def test_digits_from_scikit_learn():
    pytest.importorskip("sklearn")
    ds = load_dataset("digits")
    assert ds.x_train.shape == (1438, 1, 8, 8) and ds.x_test.shape == (359, 1, 8, 8)
    assert ds.n_classes == 10 and ds.x_train.max() == 1.0
    again = load_dataset("digits")
    assert np.array_equal(again.y_test, ds.y_test)  # fixed split
