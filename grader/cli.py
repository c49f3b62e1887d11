"""Command line: `mnist-grader grade SUBMISSION ...` and the other verbs (or `python -m grader ...`).
Exit codes: 0 grading completed (whatever the score); 2 the grader could not run.
The staff's verbs (INSTRUCTOR_VERBS) exist only in the full kit; the public kit offers the others.

Parsing the command line runs no solution code (grader/reference.py loads solution/ on first use),
so `--help` works anywhere. Once a submission is being graded, every output asked for is written
whatever happens: an unexpected error while grading becomes an error entry for every check, and a
writer that fails on the report is retried on the report without its training record."""
import argparse
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

from grader.contract import FILES
from grader.errors import GraderError


def protect_sys_path():
    """`python -m grader` puts the current folder first on sys.path; when that folder is a
    submission, its functional.py must never be importable into the grader's process."""
    cwd = os.path.abspath(os.getcwd())
    sys.path[:] = [p for p in sys.path if not (os.path.abspath(p or ".") == cwd and any(
        os.path.exists(os.path.join(cwd, name)) for name in FILES))]


GRADE_HELP = "grade one submission (a folder or a .zip with functional.py, mlp.py, cnn.py)"
# Verbs implemented in their own module: each has add_arguments(subparser) and run(args) -> exit code.
PLUGGED_VERBS = {
    "batch": ("grader.batch", "grade every submission (sub-folder or .zip) of a folder"),
    "publish": ("grader.publish", "rewrite a batch's feedback reports when the due date passes or grades are published"),
    "package": ("grader.course.package", "build an autograder package (Gradescope) that grades with the --rubric, --only and --skip given here"),
    "nbgrader": ("grader.course.nbgrader", "generate the nbgrader course layout from solution/"),
    "public-kit": ("grader.course.public_kit", "write the grader students may have (public checks, no solution)"),
    "similarity": ("grader.course.similarity", "rank the pairs of submissions that share the most code, for a person to read"),
    "export": ("grader.course.gradebook", "turn a batch's grades.csv into files Canvas and Moodle import"),
    "handin": ("grader.handin", "check a folder's functional.py, mlp.py, cnn.py and pack exactly them into a zip"),
    "release": ("grader.course.generate", "generate assignment/ from solution/"),
}
# The course staff's verbs: offered only by the full kit, the one with the reference solution (the
# public kit students get has none, and none of these could work there). Every other verb is a
# student's too.
INSTRUCTOR_VERBS = ("batch", "publish", "package", "nbgrader", "public-kit", "release", "similarity", "export")
SOLUTION_FILE = Path(__file__).resolve().parent.parent / "solution" / "functional.py"


def instructor_kit():
    """Whether this is the full kit (solution/ beside grader/), not the public kit students have."""
    return SOLUTION_FILE.is_file()

# Options of a plugged verb that live in another module: add_arguments(subparser).
PLUGGED_OPTIONS = {
    "batch": ("grader.cluster",),     # --scheduler ADDRESS / --cluster local:N: grade on a Dask cluster
}

# The options that say what to grade and with what, defined once for every verb that grades; each verb
# takes the ones it has from an argparse parent parser (selection_options).
SELECTION_OPTIONS = {
    "--public": dict(action="store_true", help="run only the checks students can see"),
    "--only": dict(action="append", default=[], metavar="PREFIX",
                   help="run only checks whose id starts with PREFIX (repeatable), e.g. --only functional.softmax"),
    "--skip": dict(action="append", default=[], metavar="PREFIX",
                   help="skip checks whose id starts with PREFIX (repeatable), e.g. --skip mlp.accuracy"),
    "--rubric": dict(metavar="FILE", help="rubric TOML (default: grader/rubric.toml)"),
    "--data-root": dict(metavar="DIR", help="folder holding MNIST/raw (default: $MNIST_ROOT or ./data)"),
}
GRADING_OPTIONS = ("--public", "--only", "--skip", "--rubric", "--data-root")
VERB_OPTIONS = {                       # verb -> the SELECTION_OPTIONS it takes
    "grade": GRADING_OPTIONS,
    "batch": GRADING_OPTIONS,
    "package": ("--only", "--skip", "--rubric"),     # baked into the package's run_autograder
}


def selection_options(verb):
    """An argparse parent parser holding the SELECTION_OPTIONS `verb` takes."""
    parent = argparse.ArgumentParser(add_help=False)
    for name in VERB_OPTIONS.get(verb, ()):
        parent.add_argument(name, **SELECTION_OPTIONS[name])
    return parent


class VerbParser(argparse.ArgumentParser):
    """A verb's parser whose own arguments are added (and their module imported) only when the command
    line chooses this verb: argparse hands a verb's words to its parser's parse_known_args, in every
    Python version, so a grading imports none of the staff's modules, while `--help` (of the command
    or of any verb) reads the same as with every parser built up front."""

    def __init__(self, *args, add_arguments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.pending = list(add_arguments)     # functions of the parser: each adds some of its arguments

    def parse_known_args(self, args=None, namespace=None):
        while self.pending:
            self.pending.pop(0)(self)
        return super().parse_known_args(args, namespace)


def plugged_arguments(module):
    """add_arguments(subparser) of the module `module`, imported when called."""
    return lambda sub: importlib.import_module(module).add_arguments(sub)


def parser():
    p = argparse.ArgumentParser(prog="mnist-grader", description="Grade MNIST-from-scratch submissions.")
    verbs = p.add_subparsers(dest="verb", required=True, parser_class=VerbParser)
    verbs.add_parser("grade", help=GRADE_HELP, parents=[selection_options("grade")], add_arguments=[grade_arguments])
    staff = instructor_kit()
    for verb, (module, help_text) in PLUGGED_VERBS.items():
        if staff or verb not in INSTRUCTOR_VERBS:
            modules = (module, *PLUGGED_OPTIONS.get(verb, ()))
            verbs.add_parser(verb, help=help_text, parents=[selection_options(verb)],
                             add_arguments=[plugged_arguments(name) for name in modules])
    return p


def grade_arguments(g):
    from grader.publish import STAGE_HELP
    g.add_argument("submission", help="folder or .zip holding functional.py, mlp.py, cnn.py")
    g.add_argument("--json", metavar="FILE", help="write Gradescope's results.json here")
    g.add_argument("--junit", metavar="FILE", help="write JUnit XML here")
    g.add_argument("--report", metavar="FILE", help="write the whole report here as JSON: every check's message and "
                   "time, the training records (what `batch` keeps for each student as report.json)")
    g.add_argument("--feedback", metavar="DIR", help="write the student's feedback report (feedback.md, feedback.html) here")
    g.add_argument("--feedback-stage", choices=list(STAGE_HELP), default="open",
                   help="what the feedback shows: " + "; ".join(f"{k}, {v}" for k, v in STAGE_HELP.items()))
    g.add_argument("--feedback-show-hidden", action="store_true",
                   help="feedback for instructors: include every check and training result, hidden ones too")
    g.add_argument("--quiet", action="store_true", help="print only the final score line")


def command_line(argv):
    """This command as a list to print for running it again: `python -m grader ...` when started that
    way, else the console script, by name when that name finds it on PATH, by path when not."""
    import shutil
    program = sys.argv[0] if sys.argv else ""
    if Path(program).name == "__main__.py":
        return [sys.executable, "-m", "grader", *argv]
    found = shutil.which("mnist-grader")
    if Path(program).name == "mnist-grader" and not (found and Path(found).resolve() == Path(program).resolve()):
        return [program, *argv]
    return ["mnist-grader", *argv]


def main(argv=None):
    protect_sys_path()
    for stream in (sys.stdout, sys.stderr):          # a terminal that cannot show a character gets "?"
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    args.command_line = command_line(argv)
    try:
        if args.verb in PLUGGED_VERBS:
            return importlib.import_module(PLUGGED_VERBS[args.verb][0]).run(args)
        return grade_command(args)
    except GraderError as exc:
        from grader.formats.escape import terminal
        print(terminal(f"error: {exc}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def one_blas_thread():
    """grade() computes with one BLAS thread (grade.py says why). Said before numpy is imported, its
    BLAS starts one thread instead of one per core, each spinning a while for nothing; a count set by
    hand stays."""
    from grader.sandbox.limits import THREAD_VARIABLES
    if "numpy" not in sys.modules:
        for name in THREAD_VARIABLES:
            os.environ.setdefault(name, "1")


def grade_command(args):
    one_blas_thread()
    from grader.grade import start_probing
    start_probing()                 # while the rubric is read and the checks imported
    from grader.formats.gradescope import write_gradescope
    from grader.formats.junit import write_junit
    from grader.formats.report_json import write_report_json
    from grader.formats.table import to_table
    from grader.rubric import load_rubric

    rubric = load_rubric(args.rubric)
    report = grade_or_explain(args, rubric)
    outputs = []
    if args.json:
        outputs.append(("results.json", lambda r: write_gradescope(r, args.json)))
    if args.junit:
        outputs.append(("JUnit XML", lambda r: write_junit(r, args.junit)))
    if args.report:
        outputs.append(("report", lambda r: write_report_json(r, args.report)))
    if args.feedback:
        outputs.append(("feedback report", lambda r: write_feedback(r, args.feedback, data_root=args.data_root,
                                                                     show_hidden=args.feedback_show_hidden,
                                                                     stage=args.feedback_stage)))
    if args.quiet:
        outputs.append(("score", lambda r: print(f"Score: {r.score:g} / {r.max_score:g}")))
    else:
        unchecked = unchecked_checks(rubric) if args.public else ()
        outputs.append(("table", lambda r: print(to_table(r, unchecked=unchecked))))
    problems = [problem for name, write in outputs for problem in [write_output(name, write, report)] if problem]
    if problems:                   # every other output is written first
        raise GraderError("\n".join(problems))
    return 0


def unchecked_checks(rubric):
    """The checks a --public run leaves to the course's grading: the rubric's rows that are not visible
    (and, in the public kit, whose rubric has only the visible rows, the ones it lists as not graded)."""
    from grader import reference
    from grader.formats.table import Unchecked

    def bar(check_id):
        item = check_id.split(":")[0]
        model = item.split(".")[0]
        return rubric.accuracy[model]["threshold"] if item.endswith(".accuracy") and model in rubric.accuracy else None

    found = [Unchecked(row.id, row.points, bar(row.id)) for row in rubric.rows if row.visibility != "visible"]
    if reference.REFERENCE.mode == "replay":
        found += [Unchecked(check_id, rubric.not_graded_points.get(check_id), bar(check_id))
                  for check_id in rubric.not_graded]
    return found


def grade_or_explain(args, rubric):
    """The submission's report; when the grader itself fails on it (a bug this submission triggers,
    say), a report with every selected check an error entry that says so, never a missing one."""
    from grader.grade import grade
    from grader.report import crashed_report

    start = time.monotonic()
    try:
        return grade(Path(args.submission), rubric, args.only, args.skip, args.public, args.data_root)
    except (GraderError, KeyboardInterrupt):
        raise
    except Exception as exc:
        print(f"grader error while grading {args.submission}:\n{traceback.format_exc()}", file=sys.stderr)
        message = (f"The grader stopped with an internal error while grading this submission ({type(exc).__name__}: "
                   f"{exc}). This is a problem of the grader, not a verdict on your code; your instructor can see "
                   "the details in the grader's log and regrade it.")
        return crashed_report(args.submission, rubric.select(args.only, args.skip, args.public), message,
                              time.monotonic() - start)


def write_feedback(report, out_dir, **options):
    from grader.feedback import write_feedback as write
    write(report, out_dir, **options)


def write_output(name, write, report):
    """write(report); returns "" or why it could not be written. A path that cannot be written is the
    user's to fix; any other failure is the grader's: logged, then written again from the report
    without its training record (the one part a submission shapes beyond plain text)."""
    import dataclasses
    try:
        write(report)
        return ""
    except OSError as exc:
        return f"Could not write the {name}: {exc}"
    except Exception:
        print(f"grader error while writing the {name}:\n{traceback.format_exc()}", file=sys.stderr)
    try:
        write(dataclasses.replace(report, extras={}, notes=report.notes + [
            f"The grader hit an internal error while writing the {name}; the training results are left out."]))
        return ""
    except Exception as exc:
        print(f"grader error while writing the {name}:\n{traceback.format_exc()}", file=sys.stderr)
        return f"Could not write the {name}: {type(exc).__name__}: {exc} (a grader bug; see the log above)"
