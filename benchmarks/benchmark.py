"""Seconds per training epoch: the NumPy reference (solution/) against the same models in PyTorch.

    python benchmarks/benchmark.py [--json benchmarks/results.json] [--threads N] [--repeat R]

Both frameworks train the same architecture from the same initial weights on the same
batches (batch 128, the same shuffle order, plain SGD with the same learning rate), one
epoch each after a warm-up, in this process, with the same number of threads. NumPy runs
in float64 (the contract), PyTorch in its default float32. Also measured: the data
overhead, one epoch of just iterate_minibatches + one_hot.

Targets: NumPy / PyTorch <= 0.6 for the MLP, <= 1.0 for the CNN.
"""
import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "solution"))

BATCH_SIZE = 128
LR = {"mlp": 0.1, "cnn": 0.05}          # the seed report's settings, as in solution/train.py
TARGET = {"mlp": 0.6, "cnn": 1.0}       # NumPy seconds / PyTorch seconds
WARMUP_BATCHES = 20
SEED = 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the table to this JSON file")
    parser.add_argument("--threads", type=int,
                        help="threads for both frameworks (default: OPENBLAS_NUM_THREADS if set, "
                             "else the number of CPUs)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time R epochs per framework and model, report the median (default 1)")
    parser.add_argument("--data-root", help="passed to load_mnist(root=...)")
    return parser.parse_args(argv)


ARGS = parse_args() if __name__ == "__main__" else None
# OpenBLAS sizes its thread pool when numpy is imported, so the count is fixed before the import.
THREADS = (ARGS and ARGS.threads) or int(os.environ.get("OPENBLAS_NUM_THREADS", os.cpu_count()))
for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[name] = str(THREADS)

import numpy as np                                                      # noqa: E402
import torch                                                            # noqa: E402
from torch import nn                                                    # noqa: E402

from cnn import CNN                                                     # noqa: E402
from data import iterate_minibatches, load_mnist                        # noqa: E402
from functional import one_hot                                          # noqa: E402
from mlp import MLP                                                     # noqa: E402

torch.set_num_threads(THREADS)


# ----------------------------------------------------------------------------- the models

def numpy_model(kind):
    return MLP(seed=0) if kind == "mlp" else CNN(seed=0)


def torch_model(kind, reference):
    """The same architecture as the NumPy model, starting from a copy of its weights."""
    p = {name: torch.tensor(value, dtype=torch.float32) for name, value in reference.params.items()}
    if kind == "mlp":
        model = nn.Sequential(nn.Linear(784, 128), nn.Sigmoid(), nn.Linear(128, 10))
        weights = [p["W1"].T, p["b1"], p["W2"].T, p["b2"]]
    else:
        F, C, k, _ = p["conv_W"].shape
        model = nn.Sequential(nn.Conv2d(C, F, k), nn.ReLU(), nn.Flatten(),
                              nn.Linear(p["fc_W"].shape[0], 10))
        weights = [p["conv_W"], p["conv_b"], p["fc_W"].T, p["fc_b"]]
    with torch.no_grad():
        for param, value in zip(model.parameters(), weights):
            param.copy_(value)
    return model


def model_input(kind, X):
    """The MLP takes flat rows (N, 784), the CNN images (N, 1, 28, 28); arrays or tensors."""
    return X.reshape(len(X), -1) if kind == "mlp" else X


# ----------------------------------------------------------------------------- one epoch

def numpy_epoch(model, X, y, lr, max_batches=None):
    """Seconds for one epoch (or max_batches batches) of SGD on the NumPy model."""
    batches = iterate_minibatches(X, y, BATCH_SIZE, shuffle=True, rng=np.random.default_rng(SEED))
    start = time.perf_counter()
    for i, (Xb, yb) in enumerate(batches):
        if i == max_batches:
            break
        model.forward(Xb)
        model.step(model.backward(one_hot(yb)), lr)
    return time.perf_counter() - start


def torch_epoch(model, X, y, lr, max_batches=None):
    """Seconds for one epoch of SGD on the torch model, in the order iterate_minibatches uses."""
    order = torch.from_numpy(np.random.default_rng(SEED).permutation(len(X)))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for i, first in enumerate(range(0, len(X), BATCH_SIZE)):
        if i == max_batches:
            break
        idx = order[first:first + BATCH_SIZE]
        optimizer.zero_grad()
        loss_fn(model(X[idx]), y[idx]).backward()
        optimizer.step()
    return time.perf_counter() - start


def data_epoch(X, y):
    """Seconds for one epoch of just the batching: iterate_minibatches + one_hot."""
    start = time.perf_counter()
    for Xb, yb in iterate_minibatches(X, y, BATCH_SIZE, shuffle=True, rng=np.random.default_rng(SEED)):
        one_hot(yb)
    return time.perf_counter() - start


def numpy_accuracy(model, X, y):
    hits = sum(int(np.count_nonzero(np.argmax(model.forward(X[i:i + 1000]), axis=1) == y[i:i + 1000]))
               for i in range(0, len(X), 1000))
    return hits / len(X)


def torch_accuracy(model, X, y):
    with torch.no_grad():
        return int((model(X).argmax(dim=1) == y).sum()) / len(X)


def check_same_order(X, y):
    """The torch loop assumes iterate_minibatches shuffles with one rng.permutation(len(X))."""
    _, yb = next(iterate_minibatches(X, y, BATCH_SIZE, shuffle=True, rng=np.random.default_rng(SEED)))
    expected = y[np.random.default_rng(SEED).permutation(len(X))[:BATCH_SIZE]]
    if not np.array_equal(yb, expected):
        raise SystemExit("iterate_minibatches does not shuffle with rng.permutation(len(X)); "
                         "the torch loop would see other batches")


# ----------------------------------------------------------------------------- report

def thread_info():
    info = {"requested": THREADS, "torch": torch.get_num_threads(),
            "torch_interop": torch.get_num_interop_threads()}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        info["numpy_blas"] = (f"{os.environ['OPENBLAS_NUM_THREADS']} "
                              "(from OPENBLAS_NUM_THREADS; threadpoolctl is not installed)")
    else:
        keys = ("internal_api", "num_threads", "version", "architecture")
        info["numpy_blas"] = [{k: pool.get(k) for k in keys} for pool in threadpool_info()]
    return info


def machine_info():
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": thread_info(),
        "env": {k: v for k, v in sorted(os.environ.items())
                if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))},
    }


def cpu_seconds():
    """(busy CPU seconds of the whole machine, CPU seconds of this process); None off Linux."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = ticks[3] + ticks[4]                                  # idle + iowait
    own = os.times()
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK"), own.user + own.system


def other_load(before, after, seconds):
    """Cores used on average by other processes between two cpu_seconds() readings."""
    if before is None or after is None:
        return None
    return max(0.0, ((after[0] - before[0]) - (after[1] - before[1])) / seconds)


def print_table(rows, overhead):
    print(f"\n{'model':<6} {'numpy s/epoch':>14} {'torch s/epoch':>14} {'numpy/torch':>12} {'target':>8}"
          f"  {'test acc numpy / torch':>22}")
    for r in rows:
        verdict = "ok" if r["met"] else "MISSED"
        accuracies = f"{100 * r['numpy_test_acc']:.2f}% / {100 * r['torch_test_acc']:.2f}%"
        print(f"{r['model']:<6} {r['numpy_s']:>14.3f} {r['torch_s']:>14.3f} {r['ratio']:>12.2f} "
              f"{'<= ' + str(r['target']):>8}  {accuracies:>22}  {verdict}")
    print(f"data overhead (iterate_minibatches + one_hot): {overhead['seconds']:.3f} s per epoch "
          f"= {100 * overhead['fraction_of_numpy_mlp_epoch']:.1f}% of the NumPy MLP epoch")


def time_model(kind, data, tensors, repeat):
    """Warm up, then time `repeat` epochs of each framework, alternating; one row of the table."""
    X_train, y_train, X_test, y_test = data
    X, X_t, y_t = model_input(kind, X_train), model_input(kind, tensors["X_train"]), tensors["y_train"]
    lr = LR[kind]
    # warm-up on throwaway models: BLAS threads, the allocator, torch's kernel choice
    numpy_epoch(numpy_model(kind), X, y_train, lr, max_batches=WARMUP_BATCHES)
    torch_epoch(torch_model(kind, numpy_model(kind)), X_t, y_t, lr, max_batches=WARMUP_BATCHES)
    numpy_times, torch_times = [], []
    for _ in range(repeat):
        np_model = numpy_model(kind)
        t_model = torch_model(kind, np_model)
        numpy_times.append(numpy_epoch(np_model, X, y_train, lr))
        torch_times.append(torch_epoch(t_model, X_t, y_t, lr))
        print(f"{kind}: numpy {numpy_times[-1]:.3f} s, torch {torch_times[-1]:.3f} s", flush=True)
    numpy_s, torch_s = float(np.median(numpy_times)), float(np.median(torch_times))
    return {"model": kind, "numpy_s": numpy_s, "torch_s": torch_s, "ratio": numpy_s / torch_s,
            "target": TARGET[kind], "met": numpy_s / torch_s <= TARGET[kind],
            "numpy_runs_s": numpy_times, "torch_runs_s": torch_times,
            # same weights, same batches: after one epoch both should agree to ~0.1%
            "numpy_test_acc": numpy_accuracy(np_model, model_input(kind, X_test), y_test),
            "torch_test_acc": torch_accuracy(t_model, model_input(kind, tensors["X_test"]),
                                             tensors["y_test"])}


def main(args):
    data = load_mnist(root=args.data_root)
    X_train, y_train, X_test, y_test = data
    check_same_order(X_train, y_train)
    # copies: load_mnist's arrays are read-only, torch wants writable ones
    tensors = {"X_train": torch.tensor(X_train, dtype=torch.float32), "y_train": torch.tensor(y_train),
               "X_test": torch.tensor(X_test, dtype=torch.float32), "y_test": torch.tensor(y_test)}
    info = machine_info()
    print(f"numpy {info['numpy']} / torch {info['torch']}; threads: numpy {info['threads']['numpy_blas']}, "
          f"torch {info['threads']['torch']}; environment {info['env']}")

    start, cpu_before = time.perf_counter(), cpu_seconds()
    rows = [time_model(kind, data, tensors, args.repeat) for kind in ("mlp", "cnn")]
    data_s = float(np.median([data_epoch(model_input("mlp", X_train), y_train)
                              for _ in range(max(3, args.repeat))]))
    overhead = {"seconds": data_s, "fraction_of_numpy_mlp_epoch": data_s / rows[0]["numpy_s"]}
    others = other_load(cpu_before, cpu_seconds(), time.perf_counter() - start)

    print_table(rows, overhead)
    if others is not None:
        print(f"other processes used {others:.2f} of {os.cpu_count()} cores on average during the timings"
              + ("; both timings are unreliable, rerun on a quiet machine" if others > 0.1 else ""))
    if args.json:
        settings = {"batch_size": BATCH_SIZE, "lr": LR, "epochs_timed_per_model_and_framework": args.repeat,
                    "warmup_batches": WARMUP_BATCHES, "shuffle_seed": SEED,
                    "numpy_dtype": "float64", "torch_dtype": "float32"}
        result = {"machine": info, "settings": settings, "results": rows, "data_overhead": overhead,
                  "other_processes_cores": others}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main(ARGS)
