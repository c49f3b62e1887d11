"""Calibrate the accuracy bars of grader/rubric.toml: train the reference with the grader's own loop
(the same code path as mlp.accuracy / cnn.accuracy) for several shuffle seeds and print the table.

    python benchmarks/calibrate_accuracy.py [--seeds 0 1 2 3 4] [--json benchmarks/calibration.json]
"""
import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from threadpoolctl import threadpool_limits  # noqa: E402

from grader.checks.accuracy import SETTINGS, train_and_score  # noqa: E402
from grader.grade import GROUP_MODULES, mnist_loader  # noqa: E402
from grader.reference import SOLUTION_DIR  # noqa: E402
from grader.sandbox.session import Session  # noqa: E402


def run(item, seed, mnist):
    with Session(SOLUTION_DIR, GROUP_MODULES[f"{item}.accuracy"]) as session:
        accuracy, record = train_and_score(session, mnist, item, timeout=3600, seed=seed)
    return item, seed, accuracy, sum(record["epoch_seconds"]) / len(record["epoch_seconds"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    threadpool_limits(limits=1)        # as in grading: BLAS in threads that start children must not use a pool
    mnist = mnist_loader(None)()
    jobs = [(item, seed) for seed in args.seeds for item in SETTINGS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        rows = list(pool.map(lambda job: run(*job, mnist), jobs))
    print(f"{'model':<6}{'seed':>5}{'test accuracy':>15}{'s/epoch':>9}")
    for item, seed, accuracy, seconds in sorted(rows):
        print(f"{item:<6}{seed:>5}{100 * accuracy:>14.2f}%{seconds:>9.2f}")
    for item in SETTINGS:
        accs = [a for i, _, a, _ in rows if i == item]
        print(f"{item}: worst {100 * min(accs):.2f}%, best {100 * max(accs):.2f}%, "
              f"suggested bar (worst - 1.5 points) {100 * min(accs) - 1.5:.1f}%")
    if args.json:
        Path(args.json).write_text(json.dumps([dict(zip(("model", "seed", "accuracy", "seconds_per_epoch"), r))
                                               for r in sorted(rows)], indent=2) + "\n")


if __name__ == "__main__":
    main()
