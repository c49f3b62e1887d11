"""The grading pipeline, top to bottom: load, scan, run the checks in child processes, report."""
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import lru_cache, partial
from pathlib import Path

from threadpoolctl import threadpool_limits

from grader import cases, lent, reference, static
from grader.checks import GROUPS, Context, GradingRun, load_all, trains
from grader.errors import CheckFailed, GraderError, NotWritten
from grader.sandbox.process import Budget, Limits, sandbox_mode, sandbox_warnings
from grader.report import CheckResult, build_report
from grader.sandbox.session import Session
from grader.submission import load_submission
from grader.timebudget import CHECK_NOT_RUN, NO_LIMIT, TimeBudget

KIT_ROOT = Path(__file__).resolve().parent.parent
GROUP_MODULES = {name: list(group.modules) for name, group in GROUPS.items() if group.modules}  # for scripts


def grade(path, rubric, only=(), skip=(), public=False, data_root=None, submission=None):
    """The report of submission `path` (a folder or a .zip). submission: the same already read, e.g.
    on the machine that holds it (grader/cluster.py grades it elsewhere); path then only names it."""
    start = time.monotonic()
    probing = start_probing()
    rows = rubric.select(only, skip, public)
    registry = load_all()
    checks = [registry[row.id] for row in rows]
    mnist = mnist_loader(data_root) if trains(checks) else None
    try:
        submission = submission if submission is not None else load_submission(path)
    except BaseException:
        probing.result()                # a Python for student code that is unfit is said first, with why
        raise
    try:
        try:
            submission.scan = static.scan(submission.sources, rubric.allowed_imports)
        finally:
            notes = probing.result()    # ... and stops the grading here, before any check
        # One BLAS thread in this process: its threads compute reference answers while others start
        # children, and OpenBLAS stops its thread pool at every fork, which leaves a multi-threaded
        # matrix product in another thread spinning forever (seen here: a grader stuck 30 minutes).
        with cases.salted(rubric.input_salt), threadpool_limits(limits=1):
            results, run = run_checks(checks, submission, rubric, mnist)
    finally:
        submission.cleanup()
    notes += [f"{name}: {problem}" for name, problem in submission.problems.items()]
    results = shown_once(rows, results)
    extras = {f"{item}.accuracy": record["accuracy"] for item, record in run.training.items()}
    extras["training"] = run.training      # per model: accuracy, epoch_loss, epoch_seconds, predictions (, conv_W)
    return build_report(path, rows, results, time.monotonic() - start, sandbox_mode(), notes, extras)


def start_probing():
    """sandbox_warnings() in a thread of its own, from now on (a Future): the Python for student code
    and the sandbox are found (child processes, in the first grading of a process) while this thread
    reads the rubric and the submission. The command line starts it first of all; grade() then waits
    for the same answer (process.found_once), never finding it twice."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="probing")
    future = pool.submit(sandbox_warnings)
    pool.shutdown(wait=False)           # the probe runs on; future.result() waits for it
    return future


def shown_once(rows, results):
    """The results with an error repeated across checks (a file that does not parse fails all of its
    checks alike) shown in full once, at its first check in rubric order; the others keep its first
    line and point there."""
    first = {}
    for row in rows:
        result = results.get(row.id)
        if result is None or result.status == "passed" or "\n" not in result.message:
            continue
        if result.message in first:
            head = result.message.split("\n", 1)[0].rstrip(":")
            results[row.id] = replace(result, message=f'{head} (the whole message is under "{first[result.message]}").')
        else:
            first[result.message] = row.id
    return results


def mnist_loader(data_root):
    """A function returning the MNIST arrays (uint8 images, int64 labels), read once."""
    try:
        data = reference.load_data_module()
    except FileNotFoundError:
        raise GraderError("This copy of the grader has no MNIST reader, so it cannot run the accuracy checks; "
                          "use --skip mlp.accuracy --skip cnn.accuracy.")
    root = Path(data_root) if data_root else None
    try:
        raw = data.find_root(root) / "MNIST" / "raw"
    except FileNotFoundError as exc:
        raise GraderError(f"{exc}\nOr skip the accuracy checks: --skip mlp.accuracy --skip cnn.accuracy")

    return partial(read_mnist, raw)


@lru_cache(maxsize=1)
def read_mnist(raw):
    """The four arrays of folder raw, read once per process (a batch worker grades many submissions
    with them) and read-only, so no check can change what the next submission is graded on."""
    data = reference.load_data_module()
    read = lambda split, which: data.read_idx(raw / data.FILES[split][which])     # which: 0 images, 1 labels
    arrays = {"train_images": read("train", 0).reshape(-1, 784),
              "train_labels": read("train", 1).astype("int64"),
              "test_images": read("test", 0).reshape(-1, 784),
              "test_labels": read("test", 1).astype("int64")}
    for array in arrays.values():
        array.flags.writeable = False
    return arrays


def run_checks(checks, submission, rubric, mnist):
    """Run every selected check; each group talks to its own child, groups run side by side."""
    results = {}
    groups = {}
    for c in checks:
        groups.setdefault(c.group, []).append(c)
    limits = Limits(memory_bytes=rubric.memory_bytes, processes=rubric.processes, disk_bytes=rubric.disk_bytes,
                    cpu_seconds=rubric.cpu_seconds)
    problems = {name[:-3]: problem for name, problem in submission.problems.items()}   # "cnn": "cnn.py is missing..."

    run = GradingRun(mnist, budget=TimeBudget.starting_now(rubric.grading_seconds))     # see timebudget.py

    def run_group(group, lend_functional=False):
        modules = list(GROUPS[group].modules)
        session = Session(submission.folder, modules, limits, lent.answer if lend_functional else None,
                          call_seconds=rubric.call_seconds)
        borrowed = {"functional"} if lend_functional else set()       # the reference's, lent to the models
        session.import_problems.update({m: p for m, p in problems.items() if m in modules and m not in borrowed})
        ctx = Context(session, submission, rubric, run)
        try:
            for c in groups.get(group, []):
                results[c.id] = run_one(c, ctx, NO_LIMIT if GROUPS[group].trains else run.budget)
        finally:
            session.close()
            ctx.close()
            run.banned_attempts += session.banned

    def functional_then_models():
        run_group("functional")
        functional_ok = "functional" in submission.present and not any(
            results[c.id].status != "passed" for c in groups.get("functional", []))
        ran_functional = bool(groups.get("functional"))
        use_reference = static.substitutable(submission.scan) and not (functional_ok and ran_functional)
        if groups.get("models"):
            run_group("models", use_reference and reference.REFERENCE.mode != "replay")

    with Budget(limits) as limits:      # every child of this submission shares these limits
        threads = [threading.Thread(target=functional_then_models)]
        threads += [threading.Thread(target=run_group, args=(g,)) for g in GROUPS if GROUPS[g].trains and g in groups]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    ctx = Context(None, submission, rubric, run)
    for c in groups.get("policy", []):
        results[c.id] = run_one(c, ctx)
    return results, run


def run_one(check, ctx, budget=NO_LIMIT):
    start = time.monotonic()
    if budget.spent(start):
        return CheckResult(check.id, "failed", CHECK_NOT_RUN, 0.0)
    if ctx.student is not None:
        ctx.student.deadline = budget.deadline(check.budget, start)
    try:
        summary = check.function(ctx)
        return CheckResult(check.id, "passed", summary or "", time.monotonic() - start)
    except NotWritten as exc:
        return CheckResult(check.id, "not_implemented", str(exc), time.monotonic() - start)
    except CheckFailed as exc:
        return CheckResult(check.id, "failed", str(exc), time.monotonic() - start)
    except reference.NotRecorded:
        return CheckResult(check.id, "error", "This check needs the full grader (the public grader has no "
                           "reference answers for it); it runs when your course grades your submission.",
                           time.monotonic() - start)
    except Exception:
        print(f"grader error in check {check.id!r}:\n{traceback.format_exc()}", file=sys.stderr)
        return CheckResult(check.id, "error", "The grader hit an internal error in this check (not your fault); "
                           "your instructor can see the details in the grader's log.", time.monotonic() - start)
