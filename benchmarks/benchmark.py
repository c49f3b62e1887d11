"""Seconds per training epoch: the NumPy reference (solution/) against the same models in PyTorch,
at equal precision.

    python benchmarks/benchmark.py [--json benchmarks/results.json] [--threads N] [--repeat R]
                                   [--batches B] [--openblas both|as-set|unset]

Both frameworks train the same architecture from the same initial weights on the same
batches (batch 128, the same shuffle order, plain SGD with the same learning rate), one
epoch each (or its first B batches: --batches 120 is 15,360 samples) after a warm-up, with the
same number of threads, in both precisions:
- float64, judged: the reference as the contract has it (float64) against PyTorch in float64.
  Target: NumPy / PyTorch <= 1.0 for both models.
- float32, information: the reference's own code run on float32 parameters and images (which the
  contract forbids a submission to hand in) against PyTorch in its default float32.
A comparison across precisions would measure float32 against float64, not NumPy against PyTorch.
Also measured: the data overhead, one epoch of just iterate_minibatches + one_hot, and a floor
under any float64 MLP epoch: only the batching and the MLP's two big float64 matrix products.

Every timing runs in a fresh process that loads only its own framework: run in one
process, each framework inherits the other's allocator state (a NumPy CNN epoch after a
few PyTorch CNN batches page-faults several hundred times per batch and takes ~1.5x as
long). The processes of one repeat run back to back, so all see the same machine load.

Two OpenBLAS configurations, where the environment sets OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE
(some of the course machines have set OPENBLAS_CORETYPE=Haswell, which on an AVX-512 processor
makes NumPy's OpenBLAS run its older AVX2 kernel, about 1.5x slower on these products; a NumPy
installed on a student's machine picks its own kernel). NumPy is then timed once with the
environment as it is ("as set") and once with both variables removed ("unset", NumPy's own kernel
choice); where neither is set, the one configuration is "unset". Each process reports the OpenBLAS
kernel it ran (threadpoolctl, in the torch extra). PyTorch does its linear algebra with MKL and
oneDNN, which read neither variable; its timings serve both. The targets are judged on "unset",
the kinder of the two to NumPy; "as set" is shown beside it.

What the threads buy differs: NumPy runs only its matrix products on OpenBLAS's threads, every
elementwise step (im2col's copy, bias, ReLU and its mask, softmax, sums) on one core; PyTorch runs
those on all its threads too. So the CNN, whose batch-128 products are small, gains less from a
second core in NumPy than in PyTorch; `--threads 1` shows the two on one core each.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "solution"))

BATCH_SIZE = 128
LR = {"mlp": 0.1, "cnn": 0.05}          # the seed report's settings, as in solution/train.py
TARGET = {"mlp": 1.0, "cnn": 1.0}       # NumPy seconds / PyTorch seconds, both in float64
PRECISIONS = ("float64", "float32")     # float64 is judged; float32 is shown as information
WARMUP_BATCHES = 20
SEED = 0
OPENBLAS_WORKAROUND = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")   # removed together for "unset"
JUDGED = "unset"                        # the configuration the targets are judged on (see above)
QUIET_CORES = 0.1                       # other processes using more cores than this make timings unreliable


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the table to this JSON file")
    parser.add_argument("--threads", type=int,
                        help="threads for both frameworks (default: OPENBLAS_NUM_THREADS if set, "
                             "else the number of CPUs)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="time R epochs per framework, model and OpenBLAS configuration, report "
                             "the median (default 3)")
    parser.add_argument("--batches", type=int,
                        help="time only the first B batches of the epoch (default: the whole epoch, 469 batches; "
                             "120 batches are 15,360 samples)")
    parser.add_argument("--openblas", choices=("both", "as-set", "unset"), default="both",
                        help="which OpenBLAS configuration(s) to time NumPy in (default both)")
    parser.add_argument("--data-root", help="passed to load_mnist(root=...)")
    # internal: run as one timing process of this framework, write the timings to this file
    parser.add_argument("--one-run", nargs=2, metavar=("FRAMEWORK", "JSON"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


ARGS = parse_args() if __name__ == "__main__" else None
# OpenBLAS sizes its thread pool when numpy is imported, so the count is fixed before the import.
THREADS = (ARGS and ARGS.threads) or int(os.environ.get("OPENBLAS_NUM_THREADS", os.cpu_count()))
for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[name] = str(THREADS)

import numpy as np                                                      # noqa: E402

from cnn import CNN                                                     # noqa: E402
from data import iterate_minibatches, load_mnist                        # noqa: E402
from functional import one_hot                                          # noqa: E402
from mlp import MLP                                                     # noqa: E402

torch = nn = None       # imported by load_torch(), only in the processes that time PyTorch


def load_torch():
    global torch, nn
    import torch
    from torch import nn
    torch.set_num_threads(THREADS)


# ----------------------------------------------------------------------------- the models

def numpy_model(kind):
    return MLP(seed=0) if kind == "mlp" else CNN(seed=0)


def torch_model(kind, reference, dtype=None):
    """The same architecture as the NumPy model, starting from a copy of its weights."""
    dtype = dtype or torch.float32
    p = {name: torch.tensor(value, dtype=dtype) for name, value in reference.params.items()}
    if kind == "mlp":
        model = nn.Sequential(nn.Linear(784, 128), nn.Sigmoid(), nn.Linear(128, 10))
        weights = [p["W1"].T, p["b1"], p["W2"].T, p["b2"]]
    else:
        F, C, k, _ = p["conv_W"].shape
        model = nn.Sequential(nn.Conv2d(C, F, k), nn.ReLU(), nn.Flatten(),
                              nn.Linear(p["fc_W"].shape[0], 10))
        weights = [p["conv_W"], p["conv_b"], p["fc_W"].T, p["fc_b"]]
    model.to(dtype)
    with torch.no_grad():
        for param, value in zip(model.parameters(), weights):
            param.copy_(value)
    return model


def model_input(kind, X):
    """The MLP takes flat rows (N, 784), the CNN images (N, 1, 28, 28); arrays or tensors."""
    return X.reshape(len(X), -1) if kind == "mlp" else X


# ----------------------------------------------------------------------------- one epoch

def numpy_epoch(model, X, y, lr, max_batches=None, dtype=np.float64):
    """Seconds for one epoch (or max_batches batches) of SGD on the NumPy model."""
    batches = iterate_minibatches(X, y, BATCH_SIZE, shuffle=True, rng=np.random.default_rng(SEED))
    start = time.perf_counter()
    for i, (Xb, yb) in enumerate(batches):
        if i == max_batches:
            break
        model.forward(Xb)
        model.step(model.backward(one_hot(yb).astype(dtype, copy=False)), lr)
    return time.perf_counter() - start


def mlp_products_epoch(X, y, max_batches=None):
    """Seconds for one epoch of only the batching and the MLP's two big float64 matrix products,
    X_b W1 (forward) and X_b^T delta1 (backward, dW1): a floor no float64 MLP step can go under."""
    W1 = MLP(seed=0).params["W1"]
    delta1 = np.random.default_rng(SEED).normal(size=(BATCH_SIZE, W1.shape[1]))
    start = time.perf_counter()
    for i, (Xb, yb) in enumerate(iterate_minibatches(X, y, BATCH_SIZE, shuffle=True, rng=np.random.default_rng(SEED))):
        if i == max_batches:
            break
        one_hot(yb)
        Xb @ W1
        Xb.T @ delta1[:len(Xb)]
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


def data_epoch(X, y, max_batches=None):
    """Seconds for one epoch of just the batching: iterate_minibatches + one_hot."""
    start = time.perf_counter()
    for i, (Xb, yb) in enumerate(iterate_minibatches(X, y, BATCH_SIZE, shuffle=True, rng=np.random.default_rng(SEED))):
        if i == max_batches:
            break
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


# ----------------------------------------------------------------------------- one timing process

def thread_info(framework):
    if framework == "torch":
        return {"requested": THREADS, "torch": torch.get_num_threads(),
                "torch_interop": torch.get_num_interop_threads()}
    info = {"requested": THREADS}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        info["numpy_blas"] = (f"{os.environ['OPENBLAS_NUM_THREADS']} "
                              "(from OPENBLAS_NUM_THREADS; threadpoolctl is not installed)")
        info["openblas_kernel"] = "unknown"          # pip install threadpoolctl to see it
    else:
        keys = ("internal_api", "num_threads", "version", "architecture")
        info["numpy_blas"] = [{k: pool.get(k) for k in keys} for pool in threadpool_info()]
        kernels = [pool["architecture"] for pool in info["numpy_blas"]
                   if pool.get("internal_api") == "openblas" and pool.get("architecture")]
        info["openblas_kernel"] = ", ".join(kernels) or "not OpenBLAS"
    return info


def machine_info(framework):
    return {
        "python": platform.python_version(),
        framework: torch.__version__ if framework == "torch" else np.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": thread_info(framework),
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


def time_numpy(kind, data, dtype):
    """Warm up, then time one epoch (or --batches batches) of the NumPy reference with its parameters
    and images in dtype; its test accuracy afterwards."""
    X_train, y_train, X_test, y_test = data

    def model():
        m = numpy_model(kind)
        m.params = {name: value.astype(dtype) for name, value in m.params.items()}
        return m
    X = model_input(kind, X_train.astype(dtype, copy=False))
    numpy_epoch(model(), X, y_train, LR[kind], max_batches=WARMUP_BATCHES, dtype=dtype)
    trained = model()
    seconds = numpy_epoch(trained, X, y_train, LR[kind], max_batches=ARGS.batches, dtype=dtype)
    return {"seconds": seconds, "test_acc": numpy_accuracy(trained, model_input(kind, X_test.astype(dtype)), y_test)}


def time_torch(kind, tensors, dtype):
    """Warm up, then time one epoch (or --batches batches) of the torch model (the NumPy model's
    initial weights); tensors' images are in dtype."""
    X, y = model_input(kind, tensors["X_train"]), tensors["y_train"]
    torch_epoch(torch_model(kind, numpy_model(kind), dtype), X, y, LR[kind], max_batches=WARMUP_BATCHES)
    model = torch_model(kind, numpy_model(kind), dtype)
    seconds = torch_epoch(model, X, y, LR[kind], max_batches=ARGS.batches)
    return {"seconds": seconds,
            "test_acc": torch_accuracy(model, model_input(kind, tensors["X_test"]), tensors["y_test"])}


def one_run(framework, out):
    """In a timing process: one epoch of each model in `framework`, in both precisions; write what was
    measured as JSON, keyed "<model>_<precision>"."""
    # the NumPy reader: backend "auto" would import torchvision, and so torch, into NumPy's process too
    data = load_mnist(root=ARGS.data_root, backend="numpy")
    X_train, y_train, X_test, y_test = data
    if framework == "torch":
        load_torch()
        check_same_order(X_train, y_train)
    start, cpu_before = time.perf_counter(), cpu_seconds()
    models = {}
    for precision in PRECISIONS:
        if framework == "torch":
            dtype = getattr(torch, precision)
            # copies: load_mnist's arrays are read-only, torch wants writable ones
            tensors = {"X_train": torch.tensor(X_train, dtype=dtype), "y_train": torch.tensor(y_train),
                       "X_test": torch.tensor(X_test, dtype=dtype), "y_test": torch.tensor(y_test)}
            for kind in ("mlp", "cnn"):
                models[f"{kind}_{precision}"] = time_torch(kind, tensors, dtype)
            del tensors
        else:
            for kind in ("mlp", "cnn"):
                models[f"{kind}_{precision}"] = time_numpy(kind, data, np.dtype(precision))
    if framework == "numpy":
        models["data_overhead"] = {"seconds": data_epoch(model_input("mlp", X_train), y_train, ARGS.batches)}
        models["mlp_products_only"] = {"seconds": mlp_products_epoch(model_input("mlp", X_train), y_train,
                                                                     ARGS.batches)}
    result = {"machine": machine_info(framework), "models": models,
              "other_processes_cores": other_load(cpu_before, cpu_seconds(), time.perf_counter() - start)}
    Path(out).write_text(json.dumps(result))


# ----------------------------------------------------------------------------- the benchmark

def configurations(choice):
    """Name -> environment of the NumPy timing processes, for the OpenBLAS configuration(s) asked for."""
    present = [name for name in OPENBLAS_WORKAROUND if name in os.environ]
    unset = {k: v for k, v in os.environ.items() if k not in OPENBLAS_WORKAROUND}
    if not present:             # nothing to remove: the environment as it is is the "unset" one
        return {"unset": unset}
    both = {"unset": unset, "as set": dict(os.environ)}
    return both if choice == "both" else {choice.replace("-", " "): both[choice.replace("-", " ")]}


def timing_process(framework, env, args):
    """Run one timing process and return what it measured."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--one-run", framework, str(out),
                   "--threads", str(THREADS)]
        if args.data_root:
            command += ["--data-root", args.data_root]
        if args.batches:
            command += ["--batches", str(args.batches)]
        subprocess.run(command, env=env, check=True)
        return json.loads(out.read_text())


def median_of(runs, key):
    return statistics.median(run["models"][key]["seconds"] for run in runs)


def summarize(name, numpy_runs, torch_runs):
    """The runs of one OpenBLAS configuration (and PyTorch's) -> its rows of the table: per model,
    float64 (judged against the target) and float32 (information)."""
    rows = []
    for kind in ("mlp", "cnn"):
        for precision in PRECISIONS:
            key = f"{kind}_{precision}"
            numpy_s, torch_s = median_of(numpy_runs, key), median_of(torch_runs, key)
            judged = precision == "float64"
            rows.append({"model": kind, "precision": precision, "openblas": name,
                         "openblas_kernel": numpy_runs[-1]["machine"]["threads"]["openblas_kernel"],
                         "numpy_s": numpy_s, "torch_s": torch_s, "ratio": numpy_s / torch_s,
                         "target": TARGET[kind] if judged else None,
                         "met": numpy_s / torch_s <= TARGET[kind] if judged else None,
                         "judged": judged and name == JUDGED,
                         "numpy_runs_s": [run["models"][key]["seconds"] for run in numpy_runs],
                         "torch_runs_s": [run["models"][key]["seconds"] for run in torch_runs],
                         # same weights, same batches: after one epoch both should agree to ~0.1%
                         "numpy_test_acc": numpy_runs[-1]["models"][key]["test_acc"],
                         "torch_test_acc": torch_runs[-1]["models"][key]["test_acc"]})
    overhead_s = median_of(numpy_runs, "data_overhead")
    mlp64 = rows[0]
    floor = {"what": "mlp: only batching + the two big float64 products (X W1, X^T delta1)",
             "numpy_s": median_of(numpy_runs, "mlp_products_only"), "torch_s": mlp64["torch_s"]}
    floor["ratio"] = floor["numpy_s"] / floor["torch_s"]
    loads = [run["other_processes_cores"] for run in numpy_runs + torch_runs]
    return {"rows": rows, "mlp_floor": floor, "machine": numpy_runs[-1]["machine"],
            "data_overhead": {"seconds": overhead_s, "fraction_of_numpy_mlp_epoch": overhead_s / mlp64["numpy_s"]},
            "other_processes_cores": loads,
            "quiet": all(load <= QUIET_CORES for load in loads) if None not in loads else None}


def print_table(summaries):
    print(f"\n{'model':<6} {'precision':<9} {'openblas':<9} {'kernel':<12} {'numpy s':>9} {'torch s':>9} "
          f"{'numpy/torch':>12} {'target':>8}  {'test acc numpy / torch':>22}")
    for kind in ("mlp", "cnn"):
        for precision in PRECISIONS:
            for summary in summaries.values():
                r = next(row for row in summary["rows"] if row["model"] == kind and row["precision"] == precision)
                if r["target"] is None:
                    verdict, target = "(information)", ""
                else:
                    verdict = ("ok" if r["met"] else "MISSED") if r["judged"] else "(not judged)"
                    target = f"<= {r['target']}"
                if summary["quiet"] is False and r["judged"]:
                    verdict += " (unreliable: busy machine)"
                accuracies = f"{100 * r['numpy_test_acc']:.2f}% / {100 * r['torch_test_acc']:.2f}%"
                print(f"{r['model']:<6} {precision:<9} {r['openblas']:<9} {r['openblas_kernel'][:12]:<12} "
                      f"{r['numpy_s']:>9.3f} {r['torch_s']:>9.3f} {r['ratio']:>12.2f} {target:>8}  "
                      f"{accuracies:>22}  {verdict}")
    for name, summary in summaries.items():
        floor, overhead = summary["mlp_floor"], summary["data_overhead"]
        print(f"openblas {name}: {floor['what']}: {floor['numpy_s']:.3f} s, ratio {floor['ratio']:.2f} to PyTorch's "
              f"float64 MLP; data overhead (iterate_minibatches + one_hot) {overhead['seconds']:.3f} s "
              f"= {100 * overhead['fraction_of_numpy_mlp_epoch']:.1f}% of the NumPy float64 MLP epoch")
    if len(summaries) > 1:
        print(f"openblas 'unset' runs NumPy without {' and '.join(OPENBLAS_WORKAROUND)} (its own kernel choice), "
              f"'as set' with them as this machine's environment sets them; the targets are judged on "
              f"'{JUDGED}'. PyTorch (MKL, oneDNN) reads neither variable: the same torch runs serve both.")
    loads = [x for s in summaries.values() for x in s["other_processes_cores"] if x is not None]
    if loads:
        print(f"other processes used {min(loads):.2f} to {max(loads):.2f} of {os.cpu_count()} cores on average "
              f"during the timing processes"
              + ("; the timings are unreliable, rerun on a quiet machine" if max(loads) > QUIET_CORES else ""))


def main(args):
    configs = configurations(args.openblas)
    load_before = os.getloadavg()
    numpy_runs, torch_runs = {name: [] for name in configs}, []
    for i in range(args.repeat):
        for name, env in configs.items():
            numpy_runs[name].append(timing_process("numpy", env, args))
        torch_runs.append(timing_process("torch", dict(os.environ), args))
        print(f"run {i + 1}/{args.repeat}: "
              + "; ".join(f"numpy, openblas {name} ({runs[-1]['machine']['threads']['openblas_kernel']}): "
                          + ", ".join(f"{key} {seconds['seconds']:.3f} s" for key, seconds in runs[-1]["models"].items()
                                      if key.endswith(PRECISIONS))
                          for name, runs in numpy_runs.items())
              + "; torch: " + ", ".join(f"{key} {seconds['seconds']:.3f} s"
                                         for key, seconds in torch_runs[-1]["models"].items()), flush=True)
    summaries = {name: summarize(name, runs, torch_runs) for name, runs in numpy_runs.items()}
    numpy_machine, torch_machine = next(iter(summaries.values()))["machine"], torch_runs[-1]["machine"]
    batches = f"the first {args.batches} batches ({args.batches * BATCH_SIZE:,} samples)" if args.batches \
        else "one whole epoch"
    print(f"\nnumpy {numpy_machine['numpy']} / torch {torch_machine['torch']}, each in float64 (judged) and float32 "
          f"(information), {batches} each; {THREADS} threads each (torch: {torch_machine['threads']['torch']} "
          f"intra-op, {torch_machine['threads']['torch_interop']} inter-op)")
    for name, summary in summaries.items():
        print(f"openblas {name}: NumPy ran OpenBLAS kernel {summary['machine']['threads']['openblas_kernel']} "
              f"({summary['machine']['threads']['numpy_blas']}), environment {summary['machine']['env']}")
    print_table(summaries)
    print("load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}, after: {:.2f} {:.2f} {:.2f}".format(
        *load_before, *os.getloadavg()))
    if args.json:
        settings = {"batch_size": BATCH_SIZE, "lr": LR, "epochs_timed_per_model_framework_and_openblas": args.repeat,
                    "batches_timed": args.batches or "whole epoch",
                    "warmup_batches": WARMUP_BATCHES, "shuffle_seed": SEED, "threads": THREADS,
                    "judged_precision": "float64 (NumPy and PyTorch)", "information_precision": "float32",
                    "processes": "one fresh process per framework (and OpenBLAS configuration) and repeat"}
        judged = summaries.get(JUDGED)
        result = {"settings": settings,
                  "judged_openblas": JUDGED if judged else None,
                  "why_judged": f"{' and '.join(OPENBLAS_WORKAROUND)}, where an environment sets them, "
                                "make OpenBLAS run an older kernel than NumPy picks by itself elsewhere; "
                                "the targets are judged with both removed, the kinder choice for NumPy",
                  "results": judged["rows"] if judged else None,
                  "torch_machine": torch_machine,
                  "openblas": {name: {"environment_removed": [] if name == "as set" else list(OPENBLAS_WORKAROUND),
                                      **summary} for name, summary in summaries.items()}}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    one_run(*ARGS.one_run) if ARGS.one_run else main(ARGS)
