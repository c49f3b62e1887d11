"""`mnist-grader batch SUBMISSIONS_DIR --out OUT_DIR --scheduler ADDRESS` (or `--cluster local:N`):
the batch's gradings run on a Dask cluster instead of the local pool of worker processes.

Why Dask: a course of 1,000 students is hours of CPU, and departments already have a cluster (Slurm,
Kubernetes, a few lab machines); `dask-jobqueue`, `dask-kubernetes` and `dask ssh` start Dask workers
on all of these, and Dask's scheduler already runs a task again when its worker dies and shows the
progress on its dashboard. We build no scheduler of our own.

Only the grading moves; the batch process (the driver) does everything else exactly as in a local
batch (grader/batch.py): it finds the submissions, decides who is graded again (batch.json), owns
OUT_DIR, writes each student's files as the results arrive and grades.csv after each. So:
- a task carries the submission itself: the driver reads it with the same reader as a local run
  (grader/submission.py: the bytes of the three files, at most 1 MB each, and the sentence for every
  file it refused), and the rubric's text rides in the configuration, so no shared file system is
  needed and the worker grades exactly what a local worker would;
- the worker grades it with grader.grade.grade (the same sandbox as a local run, on a temporary
  folder), writes the feedback report into a temporary folder, and returns data: the student's
  state, the report as a dict and the feedback files as bytes (drawing them there keeps the driver
  light when a hundred workers report to it);
- the driver writes results.json, report.json and the feedback from that data, batch.json last.

A worker needs the kit installed (the same version as the driver's: checked on every worker before
the batch starts, and again in every task for workers that join later) and, when the accuracy checks
run, MNIST: found where the kit finds it (--data-root, $MNIST_ROOT, the kit's data/) or else fetched
once per worker process with data_scripts/fetch_mnist.py; SHA-256 verified either way.

At most one task per worker process is in flight, more being submitted as results arrive (as the
local pool does), so a worker that dies takes only the grading it was running, which Dask runs again
on another worker. Dask gives up on a task after `distributed.scheduler.allowed-failures` worker
deaths (3 by default, a setting of the scheduler); that student then gets an error row saying so. A
worker process grades one submission at a time whatever its thread count (grader.cases keeps the
input salt in a process-wide global): start workers with one thread each.
"""
import argparse
import asyncio
import functools
import hashlib
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import deque
from pathlib import Path

from grader import tempfolders
from grader.errors import GraderError

KIT_ROOT = Path(__file__).resolve().parent.parent
LOCAL_DASHBOARD = "127.0.0.1:8787"
CONNECT_SECONDS = 30
WAIT_NOTE_SECONDS = 10         # how long without workers before the driver says it is waiting for them
WORKER_DIED = ("The Dask worker grading this submission died {times} times, each time on another try "
               "(killed from outside, or out of memory); Dask gave up on it.")
INSTALL_HINT = ("Every worker needs this kit installed, the same version as the machine running the batch: "
                "the same commit of the kit, `bash scripts/setup.sh` in it, and `pip install -e '.[cluster]'`.")


# ------------------------------------------------------------------------------------ the options

def add_arguments(parser):
    """The batch command's two options for grading on a cluster (grader/cli.py adds them)."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="grade on the Dask cluster whose scheduler is at ADDRESS (tcp://HOST:8786, or a "
                            "scheduler file); the workers need the kit installed (see the README)")
    where.add_argument("--cluster", metavar="local:N", type=local_workers,
                       help="grade on a Dask cluster of N worker processes started on this machine "
                            "(its dashboard on 127.0.0.1)")


def local_workers(text):
    count = text[len("local:"):] if text.startswith("local:") else ""
    if not count.isdigit() or int(count) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give local:N, N the number of worker processes (e.g. local:4)")
    return int(count)


def requested(args):
    return bool(getattr(args, "scheduler", None) or getattr(args, "cluster", None))


# ------------------------------------------------------------------------------------ the driver

def connect(args):
    """A Grading connected to the cluster the options name, with at least one worker that runs this
    kit; GraderError with the fix when there is none."""
    if args.workers is not None:
        raise GraderError("--workers sets the size of the local pool; on a Dask cluster its workers grade, one "
                          "submission per worker process at a time. Drop --workers (or --scheduler/--cluster).")
    try:
        import distributed
    except ImportError:
        raise GraderError("Grading on a Dask cluster needs the package `distributed`: in the kit's folder, run "
                          ".venv/bin/python -m pip install -e '.[cluster]'.")
    logging.getLogger("distributed").setLevel(logging.CRITICAL)   # a lost worker or scheduler is ours to report
    if args.cluster:
        try:
            cluster = distributed.LocalCluster(n_workers=args.cluster, threads_per_worker=1, processes=True,
                                               host="127.0.0.1", scheduler_port=0, dashboard_address=LOCAL_DASHBOARD,
                                               silence_logs=logging.ERROR)
        except Exception as exc:
            raise GraderError(f"Could not start a local Dask cluster ({type(exc).__name__}: {exc}); grade with the "
                              "local pool instead (drop --cluster).")
        client = distributed.Client(cluster, set_as_default=False)
        grading = Grading(client, cluster, f"a local Dask cluster of {args.cluster} worker process"
                                           f"{'es' if args.cluster > 1 else ''}")
    else:
        named = Path(args.scheduler)
        target = {"scheduler_file": str(named)} if named.is_file() else {"address": args.scheduler}
        try:
            client = distributed.Client(**target, timeout=CONNECT_SECONDS, set_as_default=False)
        except (OSError, TimeoutError, asyncio.TimeoutError, ValueError) as exc:
            raise GraderError(f"Cannot reach the Dask scheduler at {args.scheduler} ({type(exc).__name__}: {exc}). "
                              "Give the address the scheduler prints as `Scheduler at: tcp://HOST:PORT` (or its "
                              "scheduler file), and check that this machine can reach it.")
        grading = Grading(client, None, f"the Dask cluster at {args.scheduler}")
    try:
        grading.check_workers()
        grading.client.register_plugin(children_stopper())
    except BaseException:
        grading.close()
        raise
    return grading


class Grading:
    """A client of the cluster (and the local cluster it started, if any)."""

    def __init__(self, client, cluster, where):
        self.client, self.cluster, self.where = client, cluster, where
        self.unsandboxed = set()      # workers already warned about

    def workers(self):
        """{worker address: threads} now."""
        return self.client.nthreads()

    def check_workers(self):
        """Wait for a first worker, then make sure every worker there runs this very kit."""
        if not self.workers():
            print(f"Waiting for a Dask worker to join {self.where}...", file=sys.stderr, flush=True)
            while not self.workers():
                try:
                    self.client.wait_for_workers(1, timeout=WAIT_NOTE_SECONDS)
                except (TimeoutError, asyncio.TimeoutError):
                    pass
        try:
            seen = self.client.run(kit_fingerprint)
        except Exception as exc:
            raise GraderError(f"The Dask workers cannot run the grader ({type(exc).__name__}: {exc}). {INSTALL_HINT}")
        ours = kit_fingerprint()
        others = sorted(address for address, fingerprint in seen.items() if fingerprint != ours)
        if others:
            raise GraderError(f"These Dask workers run another version of the grader than this machine: "
                              f"{', '.join(others)}. {INSTALL_HINT}")

    def description(self):
        workers = self.workers()
        threads = sum(workers.values())
        text = self.where if self.cluster else f"{self.where} ({len(workers)} worker{'s' if len(workers) != 1 else ''})"
        link = self.dashboard()
        if threads > len(workers):
            text += (f"; its workers have {threads} threads, but each worker process grades one submission at a time "
                     "(start them with --nthreads 1 and more --nworkers)")
        return text + (f"; progress also on Dask's dashboard, {link}" if link else "")

    def dashboard(self):
        """The link to the scheduler's dashboard (Dask gives one even for a scheduler started with
        --no-dashboard: its HTTP server runs anyway, without the pages)."""
        try:
            return self.client.dashboard_link
        except Exception:
            return ""

    def grade_all(self, tasks, config, on_done, work=None):
        """Grade every task on the cluster; on_done(task, state) as each finishes, after its files are
        written. work(payload, config) -> answer runs on the workers (default: grade_on_worker)."""
        from distributed import as_completed
        work = work or grade_on_worker
        remote_config = dict(config, rubric_text=Path(config["rubric"]).read_text(encoding="utf-8"),
                             kit=kit_fingerprint())
        pending, running = deque(tasks), {}
        arrivals = as_completed(loop=self.client.loop)

        def submit_more():
            room = max(1, len(self.workers())) - len(running)
            while pending and room > 0:
                task = pending.popleft()
                try:
                    payload = pack(task)
                except GraderError as exc:        # gone since the batch started, say
                    on_done(task, write_error(task, str(exc)))
                    continue
                future = self.client.submit(work, payload, remote_config, key=f"grade-{uuid.uuid4().hex}",
                                            pure=False, retries=0)
                running[future] = task
                arrivals.add(future)
                room -= 1

        try:
            submit_more()
            for future in arrivals:
                task = running.pop(future)
                state = self.settle(future, task)
                future.release()
                on_done(task, state)
                submit_more()
        except BaseException:         # Ctrl-C, SIGTERM, a lost scheduler: take back what is still queued
            try:
                self.client.cancel(list(running), reason="the batch stopped")
            except Exception:
                pass
            raise

    def settle(self, future, task):
        """The student's state, its files written; an error row when the grading could not finish."""
        from distributed import KilledWorker
        from distributed.client import FutureCancelledError
        try:
            answer = future.result()
        except KilledWorker as exc:
            return write_error(task, WORKER_DIED.format(times=exc.allowed_failures + 1))
        except FutureCancelledError as exc:
            raise GraderError(f"Lost the Dask cluster ({exc}). The students graded so far are saved; run the same "
                              "command again to grade the rest.")
        except Exception as exc:
            return write_error(task, f"The grader hit an internal error on the Dask cluster: {type(exc).__name__}: {exc}")
        state = write_student(task, answer)
        if state.get("sandbox") == "none" and state.get("worker") not in self.unsandboxed:
            self.unsandboxed.add(state.get("worker"))
            print(f"\nwarning: the Dask worker {state.get('worker')} runs student code UNSANDBOXED: it has no working "
                  "bubblewrap and does not run as root (see the README's cluster section).", file=sys.stderr)
        return state

    def close(self):
        for closable in (self.client, self.cluster):
            if closable is not None:
                try:
                    closable.close()
                except Exception:
                    pass


def pack(task):
    """What a worker needs of one submission: the three files as the grader's reader found them (their
    bytes) and the sentence for each file it refused or missed."""
    from grader.submission import FILES, load_submission
    submission = load_submission(task["path"])
    try:
        files = {name: (submission.folder / name).read_bytes() for name in FILES
                 if submission.sources.get(name) is not None}
    finally:
        submission.cleanup()
    return {"student": task["student"], "path": task["path"], "files": files, "problems": dict(submission.problems)}


def write_student(task, answer):
    """Write what a worker sent back into students/<id>/, batch.json last (as batch.grade_student does)."""
    from grader import batch
    from grader.formats import write_atomically
    from grader.formats.gradescope import write_gradescope
    from grader.formats.report_json import report_from_dict

    state = dict(answer["state"], key=task["key"], submission=task["path"])
    out = Path(task["out"])
    if state["status"] == "graded":
        write_gradescope(report_from_dict(answer["report"]), out / "results.json")
        write_atomically(out / "report.json", json.dumps(answer["report"], indent=1) + "\n")
        write_feedback_files(out, answer.get("feedback") or {})
    else:
        batch.clear_results(out)
    write_atomically(out / batch.STATE, json.dumps(state, indent=1) + "\n")
    return state


def write_error(task, message):
    from grader import batch
    from grader.formats import write_atomically
    state = batch.error_state(task, message)
    batch.clear_results(task["out"])
    write_atomically(Path(task["out"]) / batch.STATE, json.dumps(state, indent=1) + "\n")
    return state


def write_feedback_files(out, files):
    """The feedback files a worker drew, by name (only names the feedback report uses); an earlier
    run's picture that this one did not draw is removed, as grader.feedback.write_feedback does."""
    from grader.formats import write_atomically
    names = feedback_names()
    for name, data in files.items():
        if name in names and isinstance(data, bytes):
            write_atomically(out / name, data)
    if files:
        for name in names - set(files):
            (out / name).unlink(missing_ok=True)


def feedback_names():
    try:
        from grader.feedback import FIGURE_KINDS, MODELS, picture_name
    except Exception:                 # no feedback module here: keep only the two reports' names
        return {"feedback.md", "feedback.html"}
    return {"feedback.md", "feedback.html"} | {picture_name(model, kind) for model in MODELS for kind in FIGURE_KINDS}


# ------------------------------------------------------------------------------------ on a worker

GRADING = threading.Lock()      # one grading per worker process at a time: grader.cases' salt is a global
PREPARED = {}                   # (rubric text, data root, needs MNIST) -> (rubric, data root) or GraderError
PREPARING = threading.Lock()


def grade_on_worker(payload, config):
    """Grade one packed submission on a Dask worker; returns {"state": ..., and when graded "report":
    the report as a dict, "feedback": {file name: bytes}}. Never raises for a bad submission."""
    with GRADING:
        keep_freed_memory()
        return grade_payload(payload, config)


# glibc's mallopt parameters, and the values its adaptive thresholds reach for the grader's arrays (up to
# its 32 MB ceiling for the mmap threshold, the trim threshold twice that)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_BYTES, TRIM_THRESHOLD_BYTES = 32 * 2**20, 64 * 2**20


@functools.cache
def keep_freed_memory():
    """Undo in this worker process the MALLOC_TRIM_THRESHOLD_ that Dask's nanny gives its workers
    (distributed.nanny.pre-spawn-environ), once. Setting it also turns off glibc's adaptive mmap
    threshold, so every NumPy temporary over 128 kB is mapped afresh and page-faulted in again: the
    grader's own work in a grading (reference answers, the replayed training chunks, the test-set
    predictions) took 1.45x the CPU and the reference's two accuracy checks 1.3x the wall time
    (4.2 vs 2.9 CPU s, 21.9 vs 16.9 s). Student code is not concerned: its processes get an
    environment of their own. Does nothing where the variable is unset or the C library is not glibc."""
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ or not sys.platform.startswith("linux"):
        return
    import ctypes
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    except (OSError, AttributeError):       # another C library: nothing to undo there
        pass


def grade_payload(payload, config):
    from grader import batch
    from grader.formats.report_json import report_to_dict
    from grader.grade import grade

    task = {"student": payload["student"], "path": payload["path"]}
    try:
        if config["kit"] != kit_fingerprint():
            raise GraderError(f"The Dask worker {worker_address()} runs another version of the grader than the "
                              f"machine running the batch. {INSTALL_HINT}")
        rubric, data_root = prepared(config["rubric_text"], config["data_root"], config["needs_mnist"])
        start = time.monotonic()
        submission = unpack(payload)
        try:
            report = grade(payload["path"], rubric, config["only"], config["skip"], config["public"], data_root,
                           submission=submission)
        finally:
            submission.cleanup()
        folder = Path(tempfile.mkdtemp(prefix="mnist-feedback-"))
        try:
            feedback, feedback_note = batch.write_student_feedback(report, folder, data_root,
                                                                   config.get("feedback_stage", "open"))
            files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} if feedback == "written" else {}
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        state = dict(batch.graded_state(payload["student"], report, feedback, feedback_note, None, payload["path"],
                                        time.monotonic() - start), worker=worker_address())
        return {"state": state, "report": report_to_dict(report), "feedback": files}
    except GraderError as exc:
        return {"state": batch.error_state(task, str(exc))}
    except Exception as exc:
        detail = traceback.format_exc()
        print(f"grader error while grading {payload['student']}:\n{detail}", file=sys.stderr)
        return {"state": batch.error_state(task, f"The grader hit an internal error: {type(exc).__name__}: {exc}",
                                           detail)}


def unpack(payload):
    """The Submission a local run would have read (grader/submission.py), from a packed one."""
    from grader.submission import FILES, Submission, store
    submission = Submission(Path(payload["path"]), tempfolders.make("mnist-submission-"))
    for name, data in payload["files"].items():
        if name in FILES:
            store(submission, name, data)
    for name, problem in payload["problems"].items():
        if name in FILES and submission.sources.get(name) is None:
            submission.problems.setdefault(name, problem)
    for name in FILES:
        submission.sources.setdefault(name, None)
    return submission


def prepared(rubric_text, data_root, needs_mnist):
    """(the rubric, the MNIST root to use) on this worker, made once per process; a failure is kept
    too, so every submission this worker takes says why rather than trying again each time."""
    key = (rubric_text, data_root, needs_mnist)
    with PREPARING:
        if key not in PREPARED:
            try:
                PREPARED[key] = (rubric_from_text(rubric_text), mnist_on_worker(data_root) if needs_mnist else data_root)
            except GraderError as exc:
                PREPARED[key] = GraderError(f"The grader could not start on the Dask worker {worker_address()}: {exc}")
        found = PREPARED[key]
    if isinstance(found, GraderError):
        raise found
    return found


def rubric_from_text(text):
    from grader.rubric import load_rubric
    folder = Path(tempfile.mkdtemp(prefix="mnist-rubric-"))
    try:
        (folder / "rubric.toml").write_text(text, encoding="utf-8")
        return load_rubric(folder / "rubric.toml")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def mnist_on_worker(data_root):
    """The MNIST root for this worker, read into memory once: where the kit finds it, if its four files
    pass their SHA-256; else fetched (data_scripts/fetch_mnist.py) into --data-root, $MNIST_ROOT or the
    kit's data/, one worker process of a machine at a time."""
    from data_scripts import fetch_mnist
    from grader.grade import mnist_loader
    from grader.reference import load_data_module

    try:
        root = load_data_module().find_root(Path(data_root) if data_root else None)
        if not fetch_mnist.verify(root):
            mnist_loader(root)()
            return str(root)
    except FileNotFoundError:
        pass
    root = Path(data_root or os.environ.get("MNIST_ROOT") or KIT_ROOT / "data")
    try:
        root.mkdir(parents=True, exist_ok=True)
        with open(root / ".mnist-fetch.lock", "a") as lock:
            import fcntl
            fcntl.flock(lock, fcntl.LOCK_EX)
            fetch_mnist.fetch_mnist(root)
    except (fetch_mnist.FetchError, OSError) as exc:
        raise GraderError(f"MNIST is not on this worker and could not be fetched into {root}: {exc}")
    mnist_loader(root)()
    return str(root)


def children_stopper():
    """A Dask worker plugin: a worker that closes (its nanny restarts it, the cluster shrinks, the
    batch's local cluster stops) kills the sandboxed children of the grading it is running, as a local
    pool's worker does on SIGTERM (batch.stop_worker). In bubblewrap they die with the worker anyway;
    run as another user (no bubblewrap), student code stuck in a loop would outlive it."""
    from distributed import WorkerPlugin

    class StopChildren(WorkerPlugin):
        name = "mnist-grader-stop-children"
        idempotent = True             # once per worker, however many batches use the cluster

        def teardown(self, worker):
            stop_sandbox_children()

    return StopChildren()


def stop_sandbox_children():
    """SIGKILL every child of this process that leads its own session (the sandbox's children do,
    grader/sandbox/process.py), with its process group."""
    from grader.sandbox.procfs import children_of
    for pid in children_of(os.getpid()):
        try:
            if os.getsid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


def worker_address():
    try:
        from distributed import get_worker
        return get_worker().address
    except Exception:
        return f"pid {os.getpid()}"


def kit_fingerprint():
    """What two machines must share to grade alike: the grader's code and data files, the reference
    solution and numpy's version (a hash, computed once per process)."""
    if not FINGERPRINT:
        import numpy
        digest = hashlib.sha256(f"numpy {numpy.__version__}\n".encode())
        files = sorted(p for p in (KIT_ROOT / "grader").rglob("*")
                       if p.suffix in (".py", ".toml", ".json", ".npz") and "__pycache__" not in p.parts and p.is_file())
        files += sorted((KIT_ROOT / "solution").glob("*.py"))
        for path in files:
            digest.update(f"\0{path.relative_to(KIT_ROOT).as_posix()}\0".encode() + path.read_bytes())
        FINGERPRINT.append(digest.hexdigest()[:16])
    return FINGERPRINT[0]


FINGERPRINT = []
