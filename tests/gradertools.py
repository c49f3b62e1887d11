"""Helpers for the tests that run the real grader on whole submissions (mutants, alternative
correct solutions, hostile cases): build a submission folder, run
`python -m grader grade DIR --json results.json`, and read the scores per contract item.

The grader runs under a small watchdog (tests/reaper.py, a script of its own): it kills and reports
every process the grader or the student's code leaves behind, and enforces the time bound.
"""
import ast
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import reaper
from reaper import descendants, in_group, live_descendants, process_table  # noqa: F401 (gt.*, for the tests)

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SOLUTION = ROOT / "solution"
ALTERNATIVES = TESTS / "alternatives"
CONTRACT_FILES = ("functional.py", "mlp.py", "cnn.py")

ITEMS = (
    "functional.sigmoid", "functional.relu", "functional.softmax", "functional.one_hot",
    "functional.cross_entropy",
    "mlp.init", "mlp.forward", "mlp.backward", "mlp.step", "mlp.accuracy",
    "cnn.extract_patches", "cnn.conv2d_forward", "cnn.conv2d_backward", "cnn.init", "cnn.forward",
    "cnn.backward", "cnn.step", "cnn.accuracy",
    "policy.vectorized", "policy.no_torch",
)
ACCURACY_ITEMS = ("mlp.accuracy", "cnn.accuracy")

# Wall-clock bound for one whole grading run (the accuracy checks alone may train for minutes).
GRADE_TIMEOUT = float(os.environ.get("GRADER_TEST_TIMEOUT", "900"))
REAPER = TESTS / "reaper.py"
# "0": every grading of run_grader starts `python -m grader` afresh (under tests/reaper.py), instead of
# being forked by tests/zygote.py (the same code from grader/__main__.py on, without Python's start-up,
# the grader's imports and the sandbox probes: about 0.35 CPU s less a grading).
FORK_GRADER = os.environ.get("MNIST_TESTS_FORK_GRADER", "1") != "0"


FAKE_MARKER = "FAKE-RESULTS-7f3c"     # in every fake results JSON written by tests/hostile.py cases


# ------------------------------------------------------------------------------------ submissions

def default_skip(keep=()):
    """The accuracy items to pass as --skip (training is slow), except those in keep."""
    return tuple(item for item in ACCURACY_ITEMS if item not in keep)


def copy_submission(source, dest):
    """Copy the contract files present in folder `source` into a fresh folder `dest`."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=False)
    for name in CONTRACT_FILES:
        if (Path(source) / name).is_file():
            shutil.copyfile(Path(source) / name, dest / name)
    return dest


def apply_edit(label, file, old, new, text):
    """text (solution/<file>, maybe already edited) with `old` replaced by `new`; `old` must occur
    exactly once."""
    count = text.count(old)
    if count != 1:
        raise AssertionError(f"{label}: `old` occurs {count} times in solution/{file}, not once: {old[:200]!r}")
    return text.replace(old, new)


def apply_mutant(mutant, text):
    """The reference text with the mutant's edit applied; the edit must match exactly once."""
    return apply_edit(f"mutant {mutant.id}", mutant.file, mutant.old, mutant.new, text)


def hostile_sources(case):
    """{file: text} of a hostile case (tests/hostile.py): solution/'s contract files without the
    case's `remove`, with its edits applied in order (each `old` must match exactly once)."""
    sources = {name: (SOLUTION / name).read_text(encoding="utf-8") for name in CONTRACT_FILES if name not in case.remove}
    for file, old, new in case.edits:
        if file not in sources:
            raise AssertionError(f"hostile {case.id}: edits {file}, which is removed or not a contract file")
        sources[file] = apply_edit(f"hostile {case.id}", file, old, new, sources[file])
    return sources


def rubric_with(path, old, new):
    """grader/rubric.toml with its one occurrence of `old` replaced by `new` (a limit changed for a
    test), written to path; returns path."""
    text = (ROOT / "grader" / "rubric.toml").read_text()
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in grader/rubric.toml"
    Path(path).write_text(text.replace(old, new))
    return path


def vectorized_untouched(mutant):
    """True when the mutant's edit cannot move policy.vectorized, which runs only cnn.py's module-level
    functions (conv2d_forward, conv2d_backward and the extract_patches they call): an edit of mlp.py,
    functional.py or a method of CNN (a mutant is one honest edit inside one function; a hostile case
    may reach anywhere, so this is for mutants only)."""
    if "policy.vectorized" in mutant.breaks + mutant.may_break:
        return False
    if mutant.file != "cnn.py":
        return True
    text = (SOLUTION / mutant.file).read_text()
    line = text[:text.index(mutant.old)].count("\n") + 1
    return any(isinstance(node, ast.ClassDef) and node.lineno <= line <= node.end_lineno
               for node in ast.parse(text).body)


def write_mutant(mutant, dest):
    """A submission folder: solution/'s contract files, with the mutant applied to its file."""
    dest = copy_submission(SOLUTION, dest)
    target = dest / mutant.file
    target.write_text(apply_mutant(mutant, target.read_text()))
    return dest


def write_hostile(case, dest):
    """A submission folder for a hostile case of tests/hostile.py (see hostile_sources)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=False)
    for name, text in hostile_sources(case).items():
        (dest / name).write_text(text, encoding="utf-8")
    return dest


def case_folders(root):
    return sorted(p.name for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith((".", "__")))


# ------------------------------------------------------------------------------------ running

@dataclass
class GraderRun:
    command: list
    returncode: object = None           # int, or None if the watchdog itself failed
    timed_out: bool = False
    elapsed: float = 0.0
    leftovers: list = field(default_factory=list)   # [{"pid", "cmdline"}] left behind, now killed
    subreaper: bool = False             # False: leftovers could not be tracked on this OS
    stdout: str = ""
    stderr: str = ""
    results: object = None              # parsed results.json, or None
    results_error: str = ""
    report: object = None               # parsed --report JSON (the whole report), when asked for


def run_grader(submission, out_json, skip=(), only=(), timeout=GRADE_TIMEOUT, extra_args=(), report_json=None,
               fork=FORK_GRADER):
    """Grade folder `submission` into `out_json` (cwd = repository root) under the watchdog; with
    report_json, the whole report too (--report), read back into the run's `report`. fork=False:
    in a fresh `python -m grader` (see watched)."""
    out_json = Path(out_json)
    cmd = [sys.executable, "-m", "grader", "grade", str(submission), "--json", str(out_json)]
    if report_json is not None:
        cmd += ["--report", str(report_json)]
    for item in skip:
        cmd += ["--skip", item]
    for item in only:
        cmd += ["--only", item]
    cmd += list(extra_args)
    logs = Path(tempfile.mkdtemp(prefix="grader-run-"))
    run = GraderRun(command=cmd)
    info = watched(cmd, timeout, logs, fork)
    if isinstance(info, dict):
        run.returncode, run.timed_out = info["returncode"], info["timed_out"]
        run.elapsed, run.leftovers, run.subreaper = info["elapsed"], info["leftovers"], info["subreaper"]
    else:
        run.results_error = info
    run.stdout = _read(logs / "stdout.txt")
    run.stderr = _read(logs / "stderr.txt")
    shutil.rmtree(logs, ignore_errors=True)
    if out_json.is_file():
        try:
            run.results = json.loads(out_json.read_text())
        except ValueError as exc:
            run.results_error = f"{out_json} is not valid JSON: {exc}"
    elif not run.results_error:
        run.results_error = f"the grader wrote no {out_json.name}"
    if report_json is not None and Path(report_json).is_file():
        run.report = json.loads(Path(report_json).read_text())
    return run


# The model files, and the items that grade each (every item of the other model grades a file that
# imports only functional.py).
MODEL_ITEMS = {"mlp.py": "mlp.", "cnn.py": "cnn."}


def mutant_skip(mutant):
    """The items a mutant is graded without: the accuracy items it does not break (training is slow);
    policy.vectorized when the edit cannot move it (vectorized_untouched: an edit of mlp.py,
    functional.py or a method of CNN; it costs a third of a grading: the reference's timing child and
    forty timed calls); and for an edit of mlp.py or cnn.py, the other model's items, which grade the
    reference's unchanged file (a fifth of a grading). Edits of functional.py, which both models
    import, and of cnn.py's module-level functions are graded on every item they can move."""
    skip = default_skip(keep=mutant.breaks)
    if vectorized_untouched(mutant):
        skip += ("policy.vectorized",)
    if mutant.file in MODEL_ITEMS:
        other = next(prefix for file, prefix in MODEL_ITEMS.items() if file != mutant.file)
        skip += tuple(item for item in ITEMS if item.startswith(other) and item not in skip)
    return skip


def mutant_run(mutant):
    """The grader's run on the mutant, without the items of mutant_skip, once per test run:
    test_mutants judges it, and test_public_kit compares the public kit's verdicts with its visible
    checks."""
    return graded_once(f"mutant-{mutant.id}", lambda folder: write_mutant(mutant, folder), skip=mutant_skip(mutant))


def graded_once(name, write_submission, report=False, **options):
    """run_grader's run (with these options; report: with --report) on the submission that
    write_submission(folder) writes, once per test run (see once_per_run), in a temporary folder."""
    def grade():
        work = Path(tempfile.mkdtemp(prefix=f"grader-{name}-"))
        try:
            return asdict(run_grader(write_submission(work / "submission"), work / "results.json",
                                     report_json=work / "report.json" if report else None, **options))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return GraderRun(**once_per_run(name, grade))


# ------------------------------------------------------------------------------------ the watchdog

_ZYGOTE = {}


def watched(cmd, timeout, logs, fork=FORK_GRADER, grace=reaper.LEFTOVER_GRACE):
    """The watchdog's report of `cmd` (run from the kit's folder, its output in logs/stdout.txt and
    logs/stderr.txt): {"returncode", "timed_out", "elapsed", "leftovers", "subreaper"}, or a sentence
    saying why there is none. `python -m grader ...` is forked by this process's zygote
    (tests/zygote.py) when it can; anything else is started by tests/reaper.py, which waits `grace`
    seconds for what is left running to end before it counts."""
    request = {"argv": cmd[3:], "cwd": str(ROOT), "env": dict(os.environ), "timeout": timeout,
               "stdout": str(logs / "stdout.txt"), "stderr": str(logs / "stderr.txt")}
    if fork and cmd[:3] == [sys.executable, "-m", "grader"]:
        reply = _ask_zygote(request, timeout + 120)
        if reply is not None:
            return reply
    report = logs / "watchdog.json"
    watchdog = [sys.executable, "-S", str(REAPER), "--timeout", str(timeout), "--report", str(report),
                "--stdout", request["stdout"], "--stderr", request["stderr"], "--cwd", str(ROOT), "--grace", str(grace), "--", *cmd]
    proc = subprocess.run(watchdog, capture_output=True, text=True, timeout=timeout + 120)
    if report.is_file():
        return json.loads(report.read_text())
    return f"the watchdog failed (exit {proc.returncode}): {proc.stderr[-2000:]}"


def _ask_zygote(request, timeout):
    """The zygote's answer to one request, or None if it could not answer (it is then stopped, and
    the next request starts a new one)."""
    import select
    environment = {k: v for k, v in request["env"].items() if k != "PYTEST_CURRENT_TEST"}
    zygote = _ZYGOTE.get("proc")
    if zygote is not None and (zygote.poll() is not None or _ZYGOTE["env"] != environment):
        _stop_zygote()                  # it imported the grader with other environment variables
        zygote = None
    if zygote is None:
        zygote = _ZYGOTE["proc"] = subprocess.Popen([sys.executable, str(TESTS / "zygote.py")], cwd=ROOT,
                                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                    stderr=subprocess.DEVNULL, env=request["env"])
        _ZYGOTE["env"] = environment
    try:
        zygote.stdin.write(json.dumps(request).encode() + b"\n")
        zygote.stdin.flush()
        if select.select([zygote.stdout], [], [], timeout)[0]:
            line = zygote.stdout.readline()
            if line:
                return json.loads(line)
    except (OSError, ValueError):
        pass
    _stop_zygote()
    return None


def _stop_zygote():
    zygote = _ZYGOTE.pop("proc")
    zygote.kill()
    zygote.wait()


_REFERENCE_RUNS = {}


def reference_run(skip=()):
    """The grader's run on solution/ (once per test run and kind, see once_per_run), seen as a run
    with these --skip items: the skipped items' tests are left out and the scores summed again. A
    caller that skips both accuracy items shares a run that trains nothing (a few seconds); the
    others share the full run, which trains both models, and whose whole report (--report) is the
    run's `report`: the feedback tests render it."""
    kind = "untrained" if all(matches(item, skip) for item in ACCURACY_ITEMS) else "full"
    if kind not in _REFERENCE_RUNS:
        _REFERENCE_RUNS[kind] = graded_once(f"reference-{kind}", lambda folder: copy_submission(SOLUTION, folder),
                                            report=kind == "full",
                                            skip=ACCURACY_ITEMS if kind == "untrained" else ())
    full = _REFERENCE_RUNS[kind]
    if not skip or full.results is None:
        return full
    tests = [t for t in full.results["tests"] if not matches(item_of(t["name"]), skip)]
    results = dict(full.results, tests=tests, score=sum(t["score"] for t in tests),
                   max_score=sum(t["max_score"] for t in tests))
    return replace(full, results=results)


# ------------------------------------------------------------------------------------ once per run

# The folder all the processes of one pytest run share (xdist's workers too): set by conftest.py.
RUN_FOLDER_ENV = "MNIST_TESTS_RUN_FOLDER"
SOURCES = ("grader", "solution", "tests/gradertools.py")


def sources_digest():
    """A digest of every file the grader's behaviour on solution/ depends on, and of the environment
    variables that choose its sandbox and child Python."""
    digest = hashlib.sha256()
    for name in SOURCES:
        path = ROOT / name
        for file in sorted([path] if path.is_file() else path.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    for variable in ("MNIST_GRADER_SANDBOX", "MNIST_CHILD_PYTHON"):
        digest.update(f"{variable}={os.environ.get(variable)}\0".encode())
    return digest.hexdigest()[:16]


def beside_run_folder(name):
    """A new folder that every uid may enter (mode 0755), beside the run's folder (the run's folder
    itself is private) and removed with it by conftest.py; outside a test run, a temporary folder."""
    run = os.environ.get(RUN_FOLDER_ENV)
    if run and Path(run).is_dir():
        folder = Path(f"{run}-{name}")
        folder.mkdir()
    else:
        folder = Path(tempfile.mkdtemp(prefix=f"mnist-{name}-"))
    os.chmod(folder, 0o755)
    return folder


def once_per_run(name, compute):
    """compute()'s JSON-able value, computed by the first process of this test run that asks and read
    back from the run's folder by the others (an exclusive lock while the first computes), keyed by
    the sources' digest. Outside a test run (no folder), computed here."""
    folder = os.environ.get(RUN_FOLDER_ENV)
    if not folder or not Path(folder).is_dir():
        return compute()
    path = Path(folder) / f"{name}-{sources_digest()}.json"
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.is_file():
            return json.loads(path.read_text())
        value = compute()
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(value))
        partial.replace(path)
        return value


def _read(path):
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


# ------------------------------------------------------------------------------------ results

def item_of(name):
    """'cnn.conv2d_forward: shape' -> 'cnn.conv2d_forward'."""
    return name.split(": ", 1)[0].strip()


def matches(item, prefixes):
    """True when item is one of prefixes, or starts with a prefix that ends in '.' ("cnn.")."""
    return any(item == p or (p.endswith(".") and item.startswith(p)) for p in prefixes)


def tests_by_item(results):
    by_item = {}
    for test in (results or {}).get("tests", []):
        by_item.setdefault(item_of(test.get("name", "")), []).append(test)
    return by_item


def score(test):
    return float(test.get("score") or 0.0)


def max_score(test):
    return float(test.get("max_score") or 0.0)


def is_full(test):
    return score(test) >= max_score(test) - 1e-9


def lost_points(test):
    return score(test) < max_score(test) - 1e-9


def is_zero(test):
    return score(test) <= 1e-9


def expected_items(skip):
    return [item for item in ITEMS if item not in skip]


def run_problems(run, skip=()):
    """Everything that makes a grading run unusable, as sentences (empty list: fine)."""
    problems = []
    if run.timed_out:
        problems.append(f"the grader did not finish within {GRADE_TIMEOUT:.0f} s")
    if run.returncode != 0:
        problems.append(f"the grader exited with {run.returncode}, not 0")
    if run.results is None:
        problems.append(run.results_error or "no results")
    else:
        problems += schema_problems(run.results)
        present = set(tests_by_item(run.results))
        missing = [item for item in expected_items(skip) if item not in present]
        if missing:
            problems.append(f"results.json has no checks for {missing}")
    if run.leftovers:
        problems.append("processes survived the grader: "
                        + "; ".join(f"pid {p['pid']}: {p['cmdline']}" for p in run.leftovers))
    return problems


def schema_problems(results):
    """The parts of Gradescope's schema these tests rely on."""
    problems = []
    if not isinstance(results, dict):
        return ["results.json is not a JSON object"]
    for key in ("score", "tests"):
        if key not in results:
            problems.append(f"results.json has no {key!r}")
    tests = results.get("tests")
    if not isinstance(tests, list) or not tests:
        return problems + ["results.json has no list of tests"]
    for test in tests:
        if not isinstance(test, dict) or ": " not in str(test.get("name", "")):
            problems.append(f"test without an '<item>: <property>' name: {test!r}"[:300])
        elif not isinstance(test.get("score"), (int, float)) or not isinstance(test.get("max_score"), (int, float)):
            problems.append(f"test {test['name']!r} has no numeric score and max_score")
    return problems


def describe(run, items=None, width=400):
    """A readable summary of a run for assertion messages (only `items`, if given)."""
    lines = [f"$ {' '.join(run.command)}",
             f"exit {run.returncode}, {run.elapsed:.1f} s, timed out: {run.timed_out}, leftovers: {run.leftovers}"]
    if run.results is not None:
        lines.append(f"score {run.results.get('score')} / {run.results.get('max_score')}")
        for test in run.results.get("tests", []):
            if items is None or item_of(test.get("name", "")) in items:
                output = " ".join(str(test.get("output", "")).split())[:width]
                lines.append(f"  {score(test):g}/{max_score(test):g} {test.get('status', '')} {test.get('name')}: {output}")
    else:
        lines.append(run.results_error)
    if run.stderr.strip():
        lines.append("stderr (end): " + run.stderr.strip()[-1500:])
    return "\n".join(lines)
