"""`mnist-grader batch SUBMISSIONS_DIR --out OUT_DIR`: grade every submission of a folder.

Each sub-folder or .zip of SUBMISSIONS_DIR is one student; the student id is its name without
".zip", cleaned once (grader/text.py: no control characters, no lone surrogates, at most 80
characters) and shown the same everywhere: grades.csv, summary.md, students/<id>/, the progress
bar. Every writer still escapes for its format (a CSV cell is never a formula). Hidden entries are
ignored, other files too (with a note); an entry that is a symbolic link is that student's error
row (never followed). Submissions are graded in a pool
of worker processes, each grading one submission at a time with grader.grade.grade() (which runs the
student's code in its own sandboxed children) and reading MNIST once for all the submissions it grades.

OUT_DIR/
  grades.csv                 one row per student: student, score, max_score, status (graded | error),
                             the points of every contract item in rubric order, message (why an error
                             row was not graded; which files a graded one lacked or had refused)
  summary.md                 score statistics, per-item means, the most frequently failed checks, errors,
                             missing or refused files
  score_histogram.png
  students/<id>/results.json Gradescope's format
  students/<id>/report.json  the whole Report (messages, timings, training records)
  students/<id>/feedback.*   the student's feedback report (grader/feedback.py, imported when used), for
                             the course's stage: `mnist-grader publish` records it in feedback_stage.json
  students/<id>/batch.json   written last: the student's row, the failed check ids, and a hash of
                             the submission's bytes, the selection flags and the rubric file

Every file is written atomically as soon as its student is graded, and grades.csv after every
student, so an interrupted batch keeps whatever finished, says so, and prints the command that grades
the rest (the same command again). A student whose batch.json matches the submission and the
selection is not graded again (--force grades everyone again); one whose grading hit an error is.

Workers are spawned (not forked: the batch has threads), ignore Ctrl-C (the batch stops them, and
they kill the children grading student code) and die with the batch even when it is killed. A
worker that dies mid-grading costs nothing but time: see grade_all.
"""
import csv
import ctypes
import hashlib
import io
import json
import os
import signal
import statistics
import sys
import threading
import time
import traceback
import zipfile
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

from grader.errors import GraderError
from grader.formats import write_atomically
from grader.formats.escape import markdown, markdown_code, spreadsheet, terminal
from grader.rubric import DEFAULT as DEFAULT_RUBRIC
from grader.sandbox.procfs import children_of
from grader.text import clean, clean_name

STATE = "batch.json"
STATE_VERSION = 1
TOP_FAILED = 15        # rows of the "most frequently failed checks" table
IGNORED_SILENTLY = ("__MACOSX", "__pycache__")


def default_workers():
    """Half the CPUs: a grading keeps one CPU busy between its child and the grader (three while
    both models train, each child on one BLAS thread), and the accuracy checks' time limits must
    not feel the crowd. More workers also multiply the memory the children may use."""
    return max(1, (os.cpu_count() or 1) // 2)


def add_arguments(parser):
    """The batch's own options; --only/--skip/--public/--rubric/--data-root are grade's (grader/cli.py)."""
    parser.add_argument("submissions", metavar="SUBMISSIONS_DIR",
                        help="folder with one sub-folder or .zip per student (the student id is its name)")
    parser.add_argument("--out", required=True, metavar="OUT_DIR",
                        help="write grades.csv, summary.md, score_histogram.png and students/<id>/ here")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help=f"submissions graded side by side (default: half the CPUs, here {default_workers()})")
    parser.add_argument("--force", action="store_true", help="grade every submission again, even those already graded")
    parser.add_argument("--similarity", action="store_true",
                        help="after grading, also write similarity.html and similarity.csv: the pairs of submissions "
                             "that share the most code, ranked for a person to read (needs the course extra)")


# ------------------------------------------------------------------------------------ the command

def run(args):
    from grader.checks import load_all, trains
    from grader.grade import mnist_loader
    from grader.rubric import load_rubric

    folder, out = Path(args.submissions), Path(args.out)
    if not folder.is_dir():
        raise GraderError(f"{folder} is not a folder. Give the folder that holds one sub-folder or .zip per student.")
    if out.resolve() == folder.resolve():
        raise GraderError(f"--out {out} is the submissions folder; give another folder for the results.")
    if args.workers is not None and args.workers < 1:
        raise GraderError(f"--workers {args.workers}: give at least 1.")
    if args.similarity:                     # before an hour of grading, not after
        from grader.course.similarity import copydetect
        copydetect()
    rubric_path = Path(args.rubric) if args.rubric else DEFAULT_RUBRIC
    rubric = load_rubric(rubric_path)
    rows = rubric.select(args.only, args.skip, args.public)
    if not rows:
        raise GraderError("These --only/--skip/--public flags select no check at all.")
    registry = load_all()
    needs_mnist = trains(registry[row.id] for row in rows)
    if needs_mnist and not cluster_requested(args):     # on a cluster, each worker finds or fetches its own
        mnist_loader(args.data_root)          # raises GraderError, with the fix, when MNIST is missing
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GraderError(f"Cannot create the output folder {out}: {exc.strerror}.")
    submissions, notes, states = find_submissions(folder, out)
    if not submissions and not states:
        raise GraderError(f"{folder} holds no submissions (one sub-folder or .zip per student).")

    selection = {"version": STATE_VERSION, "only": sorted(args.only), "skip": sorted(args.skip),
                 "public": bool(args.public), "rubric": hashlib.sha256(rubric_path.read_bytes()).hexdigest()}
    for student in states:            # not gradable: two submissions, or a broken zip
        clear_results(out / "students" / student)
    todo, skipped = [], 0
    for student, path in submissions.items():
        task = {"student": student, "path": str(path), "out": str(out / "students" / student)}
        try:
            task["key"] = submission_key(path, selection)
        except OSError as exc:
            states[student] = error_state(task, f"The submission could not be read: {exc}")
            clear_results(task["out"])
            continue
        done = None if args.force else finished(task)
        if done:
            states[student] = done
            skipped += 1
        else:
            todo.append(task)

    batch = Batch(out, rows, states, notes, {
        "rubric": str(rubric_path), "only": args.only, "skip": args.skip, "public": args.public})
    for note in notes:
        print(terminal(f"note: {note}"), file=sys.stderr)
    broken = sum(state["status"] == "error" for state in states.values())
    status = ([f"{skipped} already graded with these checks (skipped; --force grades them again)"] if skipped else [])
    status += [f"{broken} cannot be graded (see grades.csv)"] if broken else []
    if not todo:
        print("Nothing to grade: " + "; ".join(status) + ".")
        batch.write_summary()
        print(batch.wrote())
        return similarity_after(args, folder, out)
    from grader.publish import read_stage
    config = {"rubric": str(rubric_path), "only": list(args.only), "skip": list(args.skip),
              "public": bool(args.public), "data_root": args.data_root, "needs_mnist": needs_mnist,
              "feedback_stage": read_stage(out)}
    if cluster_requested(args):       # --scheduler / --cluster: the same gradings on Dask (grader/cluster.py)
        from grader import cluster
        remote = cluster.connect(args)
        where = remote.description()
        grade_todo = lambda: remote.grade_all(todo, config, on_done)
    else:
        remote = None
        workers = min(args.workers or default_workers(), len(todo))
        where = f"{workers} worker process{'es' if workers > 1 else ''}"
        grade_todo = lambda: grade_all(todo, workers, config, on_done)
    print(f"Grading {len(todo)} submission{'s' if len(todo) != 1 else ''} with {where}"
          + "".join(f"; {part}" for part in status) + ".")
    from tqdm import tqdm
    progress = tqdm(total=len(todo), unit="student", desc="grading", file=sys.stderr, dynamic_ncols=True)
    finished_now = 0

    def on_done(task, state):
        nonlocal finished_now
        batch.add(state)
        finished_now += 1
        progress.set_postfix_str(terminal(f"{task['student']}: {describe(state)}"), refresh=False)
        progress.update(1)
        if state["status"] == "error":
            progress.write(terminal(f"error: {task['student']}: {state['message']}"), file=sys.stderr)

    interrupted = False
    try:
        with terminate_means_interrupt():
            grade_todo()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.close()
        if remote:
            remote.close()
        batch.write_summary()          # also after Ctrl-C: what finished is in grades.csv and the summary
    if interrupted:
        print(terminal(interrupted_message(args, batch, len(todo), finished_now)), file=sys.stderr)
        return 130
    counts = Counter(s["status"] for s in batch.states.values())
    print(f"{counts['graded']} graded, {counts['error']} error{'s' if counts['error'] != 1 else ''}. {batch.wrote()}")
    return similarity_after(args, folder, out)


def similarity_after(args, folder, out):
    """--similarity: the same submissions' similarity report beside grades.csv (grader/course/similarity.py)."""
    if args.similarity:
        from grader.course.similarity import report_similarity
        report_similarity(folder, out)
    return 0


def interrupted_message(args, batch, to_grade, done_now):
    """What an interrupted batch kept, and the command that grades the rest: the same command (with
    --force too: without it, the students this run had not reached yet would keep their old results)."""
    import shlex
    graded = sum(state["status"] == "graded" for state in batch.states.values())
    typed = getattr(args, "command_line", None) or ["mnist-grader", "batch", str(args.submissions), "--out", str(args.out)]
    left = to_grade - done_now
    again = (f"with --force it grades the {done_now} finished before the stop again too" if args.force and done_now
             else "the students already graded are skipped")
    return "\n".join([
        f"The batch was interrupted: it finished {done_now} of the {to_grade} submission{'s' * (to_grade != 1)} it set "
        f"out to grade. Kept: {graded} graded student{'s' * (graded != 1)} in all, in {batch.out / 'grades.csv'}, "
        f"{batch.out / 'summary.md'} and {batch.out / 'students'}/.",
        f"To grade the {left} left, run the same command again (from {Path.cwd()}); {again}:",
        "  " + " ".join(shlex.quote(part) for part in typed)])


def cluster_requested(args):
    return bool(getattr(args, "scheduler", None) or getattr(args, "cluster", None))


def describe(state):
    if state["status"] == "error":
        return "error"
    return f"{state['score']:g}/{state['max_score']:g}"


def find_submissions(folder, out):
    """({student: path}, notes, {student: error state}) for the entries of folder, sorted by name.
    A student id is the entry's name (without .zip) through clean_name; two entries with one id are
    an error row for that id."""
    found, notes, errors = {}, [], {}
    out = out.resolve()
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".") or entry.name in IGNORED_SILENTLY:
            continue
        if entry.resolve() == out:
            continue
        shown = clean_name(entry.name, 100)
        if entry.is_symlink():        # a student's entry: never read through it (the reference, say)
            student = clean_name(entry.name[:-4] if entry.suffix.lower() == ".zip" else entry.name)
            errors[student] = error_state({"student": student, "path": str(entry)},
                                          f"{shown} is a symbolic link; the grader does not follow links in the "
                                          "submissions folder. Put the submission itself there.")
            continue
        if entry.is_dir():
            student = clean_name(entry.name)
        elif entry.is_file() and entry.suffix.lower() == ".zip":
            student = clean_name(entry.name[:-4])
            if student in found or student in errors:
                pass                   # reported as two submissions below
            elif not zipfile.is_zipfile(entry):
                errors[student] = error_state({"student": student, "path": str(entry)},
                                              f"{shown} is not a zip file that can be opened; ask for it again.")
                continue
        else:
            notes.append(f"Ignored {shown}: not a folder or a .zip.")
            continue
        if student in found or student in errors:
            first = found.pop(student, None)
            message = (f"Two submissions for {student}: {clean_name(first.name, 100) if first else 'another'} and "
                       f"{shown}; keep one and grade again.")
            errors[student] = error_state({"student": student, "path": str(entry)}, message)
            continue
        found[student] = entry
    return found, notes, errors


def submission_key(path, selection):
    """A hash of the submission's bytes (every file of a folder, with its relative path, or the zip)
    and of the selection: when it changes, the student is graded again."""
    digest = hashlib.sha256(json.dumps(selection, sort_keys=True).encode())
    path = Path(path)
    if path.is_dir():
        files = []
        for top, dirs, names in os.walk(path):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            files += [Path(top) / name for name in names]
        files = sorted(f for f in files if f.is_file())
    else:
        files = [path]
    for file in files:
        digest.update(b"\0file\0" + os.fsencode(file.relative_to(path) if file != path else "") + b"\0")
        with open(file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def finished(task):
    """The student's saved state when it is complete and still valid for this submission and selection."""
    out = Path(task["out"])
    state = read_json(out / STATE)
    if not isinstance(state, dict) or state.get("key") != task["key"] or state.get("status") != "graded":
        return None
    results = read_json(out / "results.json")
    if not isinstance(results, dict) or not isinstance(results.get("tests"), list):
        return None
    return state


def read_json(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------------------------ the outputs

class Batch:
    """The outcome of every student handled so far: grades.csv after each, the summary at the end."""

    def __init__(self, out, rows, states, notes, selection):
        self.out, self.states, self.notes, self.selection = Path(out), dict(states), notes, selection
        self.item_max = {}
        for row in rows:                                    # rubric order
            self.item_max[row.item] = self.item_max.get(row.item, 0.0) + row.points
        self.max_score = sum(self.item_max.values())

    def add(self, state):
        self.states[state["student"]] = state
        self.write_grades()

    def write_grades(self):
        """Every cell through escape.spreadsheet: a student id or message is never a formula."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(map(spreadsheet, ["student", "score", "max_score", "status", *self.item_max, "message"]))
        for student in sorted(self.states):
            state = self.states[student]
            if state["status"] == "graded":
                row = [student, f"{state['score']:g}", f"{state['max_score']:g}", "graded",
                       *(f"{state['items'].get(item, 0.0):g}" for item in self.item_max), state.get("message", "")]
            else:
                row = [student, "", f"{self.max_score:g}", "error", *([""] * len(self.item_max)), state["message"]]
            writer.writerow(map(spreadsheet, row))
        write_atomically(self.out / "grades.csv", buffer.getvalue())

    def write_summary(self):
        self.write_grades()
        graded = [s for s in self.states.values() if s["status"] == "graded"]
        histogram = self.out / "score_histogram.png"
        if graded:
            top = max([self.max_score] + [s["max_score"] for s in graded])
            write_atomically(histogram, histogram_png([s["score"] for s in graded], top))
        else:
            histogram.unlink(missing_ok=True)
        write_atomically(self.out / "summary.md", self.summary_markdown(graded))

    def summary_markdown(self, graded):
        errors = sorted((s for s in self.states.values() if s["status"] != "graded"), key=lambda s: s["student"])
        flags = [markdown_code(f"--{kind} {p}") for kind in ("only", "skip") for p in self.selection[kind]]
        flags += ["--public"] if self.selection["public"] else []
        lines = ["# Batch grading summary", "",
                 f"{len(self.states)} students: {len(graded)} graded, {len(errors)} "
                 f"error{'s' if len(errors) != 1 else ''}. Rubric {markdown_code(self.selection['rubric'])}"
                 + (f", {' '.join(flags)}" if flags else ", every check") + ".", ""]
        if graded:
            scores = [s["score"] for s in graded]
            full = sum(s["score"] >= s["max_score"] for s in graded)
            lines += [f"Score out of {self.max_score:g}: mean {statistics.mean(scores):.1f}, median "
                      f"{statistics.median(scores):g}, lowest {min(scores):g}, highest {max(scores):g}; "
                      f"{full} with full marks.", "", "![Score histogram](score_histogram.png)", "",
                      "## Points per item", "", "| item | max | mean | full marks |", "|---|---:|---:|---:|"]
            for item, points in self.item_max.items():
                got = [s["items"].get(item, 0.0) for s in graded]
                lines.append(f"| {markdown_code(item)} | {points:g} | {statistics.mean(got):.2f} | "
                             f"{sum(g >= points for g in got)} / {len(got)} |")
            failing = Counter(check_id for s in graded for check_id in s["failed"])
            lines += ["", "## Most frequently failed checks", ""]
            if failing:
                lines += ["Failed, not written, or errored; of the students graded.", "",
                          "| check | students failing |", "|---|---:|"]
                lines += [f"| {markdown_code(check_id)} | {count} |" for check_id, count in
                          sorted(failing.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_FAILED]]
                if len(failing) > TOP_FAILED:
                    lines += ["", f"{len(failing) - TOP_FAILED} more checks failed for some student; see grades.csv "
                                  "and students/<id>/results.json."]
            else:
                lines.append("None: every graded student passed every check.")
        if errors:
            lines += ["", "## Errors", "", "Not graded; run the batch again to retry them.", "",
                      "| student | message |", "|---|---|"]
            lines += [f"| {markdown(s['student'])} | {markdown(s['message'])} |" for s in errors]
        unread = [(s["student"], name, problem) for s in sorted(graded, key=lambda s: s["student"])
                  for name, problem in (s.get("problems") or {}).items()]
        if unread:
            lines += ["", "## Missing or refused files", "",
                      "Graded without these files: their checks scored 0. The student can fix and resubmit.", "",
                      "| student | file | problem |", "|---|---|---|"]
            lines += [f"| {markdown(student)} | {markdown_code(name)} | {markdown(problem)} |"
                      for student, name, problem in unread]
        feedback_failed = sorted(s["student"] for s in graded if s.get("feedback") == "failed")
        notes = list(self.notes)
        if feedback_failed:
            notes.append(f"The feedback report could not be written for {', '.join(map(str, feedback_failed))}; "
                         "see the batch's log.")
        if notes:
            lines += ["", "## Notes", ""] + [f"- {markdown(note)}" for note in notes]
        return "\n".join(lines) + "\n"

    def wrote(self):
        return f"Wrote {self.out / 'grades.csv'}, {self.out / 'summary.md'} and {self.out / 'students'}/."


def histogram_png(scores, max_score):
    """The scores' histogram as PNG bytes (a Figure of its own: no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    top = max_score if max_score > 0 else 1.0
    bins = max(1, min(20, int(round(top))))
    fig = Figure(figsize=(6.4, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.hist(scores, bins=bins, range=(0.0, top), color="#4C72B0", edgecolor="white")
    ax.set_xlim(0.0, top)
    ax.set_xlabel(f"score (out of {max_score:g})")
    ax.set_ylabel("students")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{len(scores)} submission{'s' if len(scores) != 1 else ''}")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def clear_results(folder):
    """Never leave an earlier submission's results beside this one's error."""
    for name in ("results.json", "report.json"):
        (Path(folder) / name).unlink(missing_ok=True)


def error_state(task, message, detail=""):
    return {"version": STATE_VERSION, "student": task["student"], "status": "error", "message": clean(message, 2000),
            "traceback": clean(detail, 20000), "key": task.get("key"), "submission": task["path"]}


# ------------------------------------------------------------------------------------ the pool

WORKER_DIED = ("The process grading this submission died (killed from outside, or out of memory), "
               "also when it was graded alone.")


def grade_all(tasks, workers, config, on_done, work=None):
    """Grade every task in worker processes; on_done(task, state) as each finishes. A worker that dies
    breaks its pool: the students being graded then are graded again one at a time in a fresh pool,
    and one that also dies alone gets an error row; the others go on in parallel.
    work(task) -> state runs in the workers (default: grade_student)."""
    work = work or grade_student
    pending, suspects = deque(tasks), deque()
    while pending or suspects:
        if suspects:
            for task in run_pool(suspects, 1, config, on_done, work):
                on_done(task, error_state(task, WORKER_DIED))
        else:
            suspects.extend(run_pool(pending, workers, config, on_done, work))


def run_pool(queue, size, config, on_done, work):
    """Grade the tasks of queue (a deque, consumed) in a pool of `size` workers, never more than `size`
    at a time; returns the tasks that were in flight when a worker died (the pool stops there)."""
    pool = ProcessPoolExecutor(size, mp_context=get_context("spawn"), initializer=start_worker,
                               initargs=(os.getpid(), config))
    running, lost = {}, []
    try:
        while (queue or running) and not lost:
            while queue and len(running) < size:
                try:
                    running[pool.submit(work, queue[0])] = queue[0]
                except BrokenProcessPool:           # a worker died while idle: a fresh pool takes the rest
                    break
                queue.popleft()
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                settle(future, running.pop(future), on_done, lost)
        if lost:                      # the pool is broken: every other future fails too, soon
            wait(running)
            for future, task in running.items():
                settle(future, task, on_done, lost)
    except BaseException:             # Ctrl-C, SIGTERM: stop the workers (they stop their children)
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return lost


def settle(future, task, on_done, lost):
    try:
        state = future.result()
    except BrokenProcessPool:
        lost.append(task)
        return
    except Exception as exc:          # the state could not be sent back, say
        state = error_state(task, f"The grader hit an internal error: {type(exc).__name__}: {exc}")
    on_done(task, state)


class terminate_means_interrupt:
    """`kill PID` stops the batch like Ctrl-C does: workers stopped, grades.csv and summary written."""

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self.interrupt)

    @staticmethod
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


# ------------------------------------------------------------------------------------ a worker

WORKER = {}


def start_worker(parent_pid, config):
    """Initializer of a worker process: load the rubric and MNIST once for every submission it grades."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C reaches the whole group; the batch decides
    signal.signal(signal.SIGTERM, stop_worker)
    die_with_parent(parent_pid)
    WORKER.update(config)
    try:
        from grader.grade import mnist_loader
        from grader.rubric import load_rubric
        WORKER["rubric_rows"] = load_rubric(config["rubric"])
        if config["needs_mnist"]:
            mnist_loader(config["data_root"])()         # cached in grader.grade for this process
    except Exception as exc:          # every submission this worker takes becomes an error row saying so
        WORKER["problem"] = f"The grader could not start: {exc}"


def grade_student(task):
    """Grade one submission and write its files; returns its state. Never raises for a bad submission."""
    from grader.formats.gradescope import write_gradescope
    from grader.formats.report_json import write_report_json
    from grader.grade import grade

    out = Path(task["out"])
    start = time.monotonic()
    try:
        if WORKER.get("problem"):
            raise GraderError(WORKER["problem"])
        report = grade(Path(task["path"]), WORKER["rubric_rows"], WORKER["only"], WORKER["skip"],
                       WORKER["public"], WORKER["data_root"])
        write_gradescope(report, out / "results.json")
        write_report_json(report, out / "report.json")
        feedback, feedback_note = write_student_feedback(report, out, WORKER["data_root"],
                                                         WORKER.get("feedback_stage", "open"))
        state = graded_state(task["student"], report, feedback, feedback_note, task["key"], task["path"],
                             time.monotonic() - start)
    except GraderError as exc:        # e.g. a .zip that is not a zip
        state = error_state(task, str(exc))
    except Exception as exc:
        detail = traceback.format_exc()
        print(f"grader error while grading {task['student']}:\n{detail}", file=sys.stderr)
        state = error_state(task, f"The grader hit an internal error: {type(exc).__name__}: {exc}", detail)
    if state["status"] == "error":
        clear_results(out)
    write_atomically(out / STATE, json.dumps(state, indent=1) + "\n")
    return state


def graded_state(student, report, feedback, feedback_note, key, submission, seconds):
    """A graded student's row (batch.json, grades.csv), the same whichever machine graded it."""
    problems = file_problems(report)
    return {"version": STATE_VERSION, "student": student, "status": "graded",
            "score": report.score, "max_score": report.max_score,
            "items": {item: got for item, (got, _) in report.item_scores().items()},
            "failed": [r.id for r in report.results if r.status != "passed"],
            "message": problems_message(problems), "problems": problems,
            "feedback": feedback, "feedback_note": feedback_note, "key": key,
            "submission": submission, "sandbox": report.sandbox, "seconds": round(seconds, 2)}


def file_problems(report):
    """{file: sentence} for the contract files that were missing or refused: grade() notes each as
    "cnn.py: <the sentence of grader/submission.py>"."""
    from grader.submission import FILES
    problems = {}
    for note in report.notes:
        name, _, sentence = note.partition(": ")
        if name in FILES and sentence and name not in problems:
            problems[name] = sentence
    return problems


def problems_message(problems):
    """grades.csv's message for a graded submission: which files were missing or refused, in short
    ("cnn.py is missing."); summary.md and the student's report give the whole sentences."""
    missing = [name for name, sentence in problems.items() if sentence.startswith(f"{name} is missing")]
    parts = [f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing"] if missing else []
    for name, sentence in problems.items():
        if name not in missing:
            short = sentence.split("; ")[0].split(": ")[0].rstrip(".")
            if short not in parts:
                parts.append(short)
    return "; ".join(parts) + "." if parts else ""


def write_student_feedback(report, out, data_root, stage="open"):
    """("written" | "failed", why). grader.feedback (matplotlib) is imported here, when first used."""
    from grader.feedback import write_feedback
    try:
        write_feedback(report, out, data_root=data_root, stage=stage)
    except Exception as exc:
        print(f"feedback report failed for {out.name}:\n{traceback.format_exc()}", file=sys.stderr)
        return "failed", f"{type(exc).__name__}: {exc}"
    return "written", ""


def die_with_parent(parent_pid):
    """Linux: the kernel sends this worker SIGTERM when the batch process dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)    # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:    # the batch died before that took effect
        os._exit(1)


def stop_worker(signum, frame):
    """SIGTERM: kill the children grading student code (each leads its own process group; in
    bubblewrap, everything inside dies with it), remove the grading's temporary folders, then exit
    at once."""
    for pid in children_of(os.getpid()):
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass
    from grader import tempfolders
    tempfolders.remove_all()
    os._exit(128 + signum)
