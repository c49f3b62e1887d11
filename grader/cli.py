"""Command line: `python -m grader grade SUBMISSION ...` and `python -m grader release`.
Exit codes: 0 grading completed (whatever the score); 2 the grader could not run."""
import argparse
import importlib
import os
import sys
from pathlib import Path

from grader.errors import GraderError


def protect_sys_path():
    """`python -m grader` puts the current folder first on sys.path; when that folder is a
    submission, its functional.py must never be importable into the grader's process."""
    cwd = os.path.abspath(os.getcwd())
    sys.path[:] = [p for p in sys.path if not (os.path.abspath(p or ".") == cwd and any(
        os.path.exists(os.path.join(cwd, name)) for name in ("functional.py", "mlp.py", "cnn.py")))]


# Verbs implemented in their own module: each has add_arguments(subparser) and run(args) -> exit code.
PLUGGED_VERBS = {
    "batch": ("grader.batch", "grade every submission (sub-folder or .zip) of a folder"),
    "package": ("grader.integrations.package", "build an autograder package (Gradescope)"),
    "nbgrader": ("grader.integrations.nbgrader", "generate the nbgrader course layout from solution/"),
    "public-kit": ("grader.integrations.public_kit", "write the grader students may have (public checks, no solution)"),
}


def parser():
    p = argparse.ArgumentParser(prog="python -m grader", description="Grade MNIST-from-scratch submissions.")
    verbs = p.add_subparsers(dest="verb", required=True)
    g = verbs.add_parser("grade", help="grade one submission (a folder or a .zip with functional.py, mlp.py, cnn.py)")
    g.add_argument("submission", help="folder or .zip holding functional.py, mlp.py, cnn.py")
    g.add_argument("--json", metavar="FILE", help="write Gradescope's results.json here")
    g.add_argument("--junit", metavar="FILE", help="write JUnit XML here")
    g.add_argument("--public", action="store_true", help="run only the checks students can see")
    g.add_argument("--only", action="append", default=[], metavar="PREFIX",
                   help="run only checks whose id starts with PREFIX (repeatable), e.g. --only functional.softmax")
    g.add_argument("--skip", action="append", default=[], metavar="PREFIX",
                   help="skip checks whose id starts with PREFIX (repeatable), e.g. --skip mlp.accuracy")
    g.add_argument("--rubric", metavar="FILE", help="rubric TOML (default: grader/rubric.toml)")
    g.add_argument("--data-root", metavar="DIR", help="folder holding MNIST/raw (default: $MNIST_ROOT or ./data)")
    g.add_argument("--feedback", metavar="DIR", help="write the student's feedback report (feedback.md, feedback.html) here")
    g.add_argument("--feedback-show-hidden", action="store_true",
                   help="feedback for instructors: include checks and training results not yet visible to students")
    g.add_argument("--quiet", action="store_true", help="print only the final score line")
    for verb, (module, help_text) in PLUGGED_VERBS.items():
        importlib.import_module(module).add_arguments(verbs.add_parser(verb, help=help_text))
    r = verbs.add_parser("release", help="generate assignment/ from solution/")
    r.add_argument("--check", action="store_true", help="write nothing; exit 1 if assignment/ is out of date")
    r.add_argument("--solution", metavar="DIR")
    r.add_argument("--out", metavar="DIR")
    return p


def main(argv=None):
    protect_sys_path()
    args = parser().parse_args(argv)
    try:
        if args.verb == "release":
            from grader import generate
            forwarded = ["release"] + (["--check"] if args.check else [])
            forwarded += ["--solution", args.solution] if args.solution else []
            forwarded += ["--out", args.out] if args.out else []
            return generate.main(forwarded)
        if args.verb in PLUGGED_VERBS:
            return importlib.import_module(PLUGGED_VERBS[args.verb][0]).run(args)
        return grade_command(args)
    except GraderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def grade_command(args):
    from grader.formats.gradescope import write_gradescope
    from grader.formats.junit import write_junit
    from grader.formats.table import to_table
    from grader.grade import grade
    from grader.rubric import load_rubric

    rubric = load_rubric(args.rubric)
    report = grade(Path(args.submission), rubric, args.only, args.skip, args.public, args.data_root)
    if args.json:
        write_gradescope(report, args.json)
    if args.junit:
        write_junit(report, args.junit)
    if args.feedback:
        from grader.feedback import write_feedback
        write_feedback(report, args.feedback, data_root=args.data_root, show_hidden=args.feedback_show_hidden)
    if args.quiet:
        print(f"Score: {report.score:g} / {report.max_score:g}")
    else:
        print(to_table(report))
    return 0
