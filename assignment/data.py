# GENERATED from solution/data.py by "mnist-grader release" -- do not edit; edit solution/data.py and regenerate.
"""Load MNIST into NumPy arrays and cut them into minibatches.

Provided code: you don't need to change anything here.

    from data import load_mnist, iterate_minibatches
    X_train, y_train, X_test, y_test = load_mnist()          # (60000, 1, 28, 28), (60000,), ...
    for X_batch, y_batch in iterate_minibatches(X_train, y_train, 128, rng=rng):
        ...

The four raw files come from `python data_scripts/fetch_mnist.py`, which puts them in
data/MNIST/raw/ (the layout torchvision reads).
"""
import os
import struct
from pathlib import Path

import numpy as np

MEAN, STD = 0.1307, 0.3081   # of the training pixels, after scaling to [0, 1]
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FETCH_COMMAND = "python data_scripts/fetch_mnist.py --root {root}"
_CACHE = {}   # (resolved root, backend) -> the four read-only arrays


def read_idx(path):
    """Read one file in the IDX format that MNIST ships in.

    The file is a 4-byte magic number (0, 0, type 0x08 for unsigned bytes, number of
    dimensions), one big-endian uint32 per dimension, then the bytes in C order.

    Inputs:
    - path: path of an uncompressed IDX file

    Returns:
    - array of dtype uint8 whose shape is the dimensions in the header,
      e.g. (60000, 28, 28) for train-images-idx3-ubyte, (60000,) for the labels

    Raises ValueError if the file is not an uncompressed uint8 IDX file or its size
    does not match its header (a truncated download, say).
    """
    with open(path, "rb") as f:
        magic = f.read(4)
        if len(magic) < 4 or magic[:2] != b"\x00\x00" or magic[2] != 0x08:
            raise ValueError(f"{path} is not an uncompressed uint8 IDX file "
                             f"(magic number {magic.hex() or 'missing'}, expected 000008xx); "
                             f"if it ends in .gz, gunzip it first")
        ndim = magic[3]
        header = f.read(4 * ndim)
        if len(header) != 4 * ndim:
            raise ValueError(f"{path}: the file ends inside its header")
        shape = struct.unpack(f">{ndim}I", header)
        data = np.fromfile(f, dtype=np.uint8, count=int(np.prod(shape)))
        extra = len(f.read(1))
    if data.size != np.prod(shape) or extra:
        raise ValueError(f"{path}: the header promises shape {shape} but the file has "
                         f"{'fewer' if not extra else 'more'} bytes; it is corrupt, fetch it "
                         f"again with {FETCH_COMMAND.format(root='DIR')}")
    return data.reshape(shape)


def _has_files(root):
    raw = Path(root) / "MNIST" / "raw"
    return all((raw / name).is_file() for pair in FILES.values() for name in pair)


def find_root(root):
    """Return the first candidate root that holds MNIST/raw/ with the four files."""
    if root is not None:
        candidates = [Path(root)]
    else:
        here = Path(__file__).resolve().parent
        env = os.environ.get("MNIST_ROOT")
        candidates = ([Path(env)] if env else []) + [Path("data"), here / "data", here.parent / "data"]
    for candidate in candidates:
        if _has_files(candidate):
            return candidate.resolve()
    looked = "\n".join(f"  - {c.resolve() / 'MNIST' / 'raw'}" for c in candidates)
    raise FileNotFoundError(
        f"MNIST not found. Looked for {FILES['train'][0]} and the three other files in:\n"
        f"{looked}\n"
        f"Fetch it with:\n  {FETCH_COMMAND.format(root=candidates[0])}\n"
        f"(or set MNIST_ROOT, or call load_mnist(root=...), to point at a folder that has MNIST/raw/)")


def _read_split(root, split, backend):
    """Return (images (N, 28, 28) uint8, labels (N,) int64) of one split."""
    if backend == "torchvision":
        from torchvision.datasets import MNIST
        dataset = MNIST(str(root), train=(split == "train"), download=False)
        return dataset.data.numpy(), dataset.targets.numpy().astype(np.int64)
    images, labels = (read_idx(root / "MNIST" / "raw" / name) for name in FILES[split])
    return images, labels.astype(np.int64)


def _torchvision_available():
    try:
        import torchvision  # noqa: F401
    except Exception:        # not installed, or a broken torch install
        return False
    return True


def load_mnist(root=None, flatten=False, backend="auto"):
    """Load the MNIST train and test sets as normalized float64 arrays.

    Pixels are scaled to [0, 1] and then normalized with the training set's mean and
    standard deviation: x = (pixel / 255 - 0.1307) / 0.3081. The files are read once
    per process; later calls return the same arrays, which are read-only so that no
    caller can change them for the others (use X.copy() if you need to modify one).

    Inputs:
    - root: folder holding MNIST/raw/. If None: $MNIST_ROOT, then ./data, then data/
      next to this file, then data/ in the folder above; the first with the files wins
    - flatten: if True, images come as rows of 784 pixels instead of 1 x 28 x 28
    - backend: "auto" (torchvision if importable, else NumPy), "torchvision" or "numpy";
      both give identical arrays

    Returns a tuple of:
    - X_train: shape (60000, 1, 28, 28), or (60000, 784) if flatten; float64
    - y_train: labels in 0..9, shape (60000,); int64
    - X_test: shape (10000, 1, 28, 28), or (10000, 784) if flatten; float64
    - y_test: labels in 0..9, shape (10000,); int64

    Raises FileNotFoundError, naming the command that fetches the data, if it is missing.
    """
    if backend not in ("auto", "torchvision", "numpy"):
        raise ValueError(f'backend must be "auto", "torchvision" or "numpy", not {backend!r}')
    root = find_root(root)
    if backend == "auto":
        backend = "torchvision" if _torchvision_available() else "numpy"
    key = (str(root), backend)
    if key not in _CACHE:
        arrays = []
        for split in ("train", "test"):
            images, labels = _read_split(root, split, backend)
            X = images.reshape(-1, 1, 28, 28).astype(np.float64)
            X /= 255.0
            X -= MEAN
            X /= STD
            arrays += [X, labels]
        for array in arrays:
            array.flags.writeable = False
        _CACHE[key] = tuple(arrays)
    X_train, y_train, X_test, y_test = _CACHE[key]
    if flatten:
        X_train, X_test = X_train.reshape(-1, 784), X_test.reshape(-1, 784)
    return X_train, y_train, X_test, y_test


def iterate_minibatches(X, y, batch_size=128, shuffle=True, rng=None):
    """Yield the data in minibatches, covering every example once (one epoch).

    With shuffle, the order is rng.permutation(N): pass the same np.random.Generator
    every epoch and each epoch gets a new order, reproducible from the seed.
    The last batch is smaller when batch_size does not divide N.

    Inputs:
    - X: inputs, shape (N, ...)
    - y: labels, shape (N,)
    - batch_size: number of examples per batch
    - shuffle: if False, batches come in the original order
    - rng: np.random.Generator (or a seed) used for the order; None means unseeded

    Yields tuples of:
    - X_batch: shape (B, ...) with B = batch_size, or fewer for the last batch
    - y_batch: shape (B,)
    """
    N = X.shape[0]
    if y.shape[0] != N:
        raise ValueError(f"X has {N} examples but y has {y.shape[0]}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    order = np.random.default_rng(rng).permutation(N) if shuffle else np.arange(N)
    for start in range(0, N, batch_size):
        idx = order[start:start + batch_size]
        yield X[idx], y[idx]
