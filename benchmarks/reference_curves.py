"""Record the reference's training curves for the feedback report: train solution/ with the grader's
own loop (the same code path as mlp.accuracy / cnn.accuracy: train_and_score in a Session) for a few
shuffle seeds and write grader/reference_training.json, which grader/feedback.py draws against the
student's curves. Run it again (and commit the file) whenever solution/ or the accuracy SETTINGS change.

    python benchmarks/reference_curves.py [--seeds 0 1 2] [--out grader/reference_training.json]
"""
import argparse
import json
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from threadpoolctl import threadpool_limits  # noqa: E402

from grader.checks.accuracy import SETTINGS, train_and_score  # noqa: E402
from grader.feedback import REFERENCE_CURVES, comparable_settings  # noqa: E402
from grader.formats import write_atomically  # noqa: E402
from grader.grade import GROUP_MODULES, mnist_loader  # noqa: E402
from grader.reference import SOLUTION_DIR  # noqa: E402
from grader.sandbox.session import Session  # noqa: E402


def run(item, seed, mnist):
    with Session(SOLUTION_DIR, GROUP_MODULES[f"{item}.accuracy"]) as session:
        accuracy, record = train_and_score(session, mnist, item, timeout=3600, seed=seed)
    return {"seed": seed, "accuracy": round(accuracy, 6),
            "epoch_loss": [round(x, 6) for x in record["epoch_loss"]],
            "epoch_seconds": [round(x, 3) for x in record["epoch_seconds"]]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="seeds of the relabelling and shuffle (grading draws secret ones)")
    parser.add_argument("--out", default=str(REFERENCE_CURVES))
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args()
    threadpool_limits(limits=1)        # as in grading: BLAS in threads that start children must not use a pool
    mnist = mnist_loader(args.data_root)()
    jobs = [(item, seed) for seed in args.seeds for item in SETTINGS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda job: (job[0], run(*job, mnist)), jobs))
    models = {item: {"settings": comparable_settings(item),
                     "runs": sorted((r for i, r in runs if i == item), key=lambda r: r["seed"])}
              for item in SETTINGS}
    document = {
        "about": "The reference (solution/) trained by the grader's own loop, as in mlp.accuracy and cnn.accuracy; "
                 "epoch_loss is the mean training loss of each epoch. Written by benchmarks/reference_curves.py.",
        "recorded": time.strftime("%Y-%m-%d"),
        "models": models,
    }
    text = json.dumps(document, indent=2)
    text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)  # lists of numbers on one line
    write_atomically(args.out, text + "\n")
    for item, model in models.items():
        for r in model["runs"]:
            print(f"{item} seed {r['seed']}: accuracy {100 * r['accuracy']:.2f}%, "
                  f"loss {r['epoch_loss'][0]:.4f} -> {r['epoch_loss'][-1]:.4f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
