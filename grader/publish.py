"""`mnist-grader publish OUT_DIR --stage due|published`: show students what they may now see,
without grading again.

A batch writes each student's feedback report for the stage the course is in (grader/feedback.py:
before the due date, only the "visible" checks). When the due date passes, or grades are published,
this command rewrites every student's feedback.md/.html (and its pictures) in OUT_DIR/students/<id>/
from the Report the batch stored there (report.json): no submission is read and no student code runs,
so it takes seconds and works after the submissions are gone. The stage is kept in OUT_DIR/STAGE_FILE,
so that students graded later by `batch` into the same OUT_DIR get their report at that stage too.

Exit code 0 when every stored report was rewritten, 1 when some could not be (named on stderr; the
others are written), 2 when OUT_DIR is not a batch's folder.

results.json is left as it is: it is Gradescope's format, whose `visibility` fields are the rubric's
and which Gradescope itself applies by its own due date and publication.
"""
import json
import sys
import traceback
from pathlib import Path

from grader.errors import GraderError
from grader.formats import write_atomically
from grader.formats.escape import terminal
from grader.text import clean_name

STAGE_FILE = "feedback_stage.json"
STAGE_HELP = {
    "open": "before the due date: only the visible checks (the default)",
    "due": "the due date has passed: also the after_due_date checks",
    "published": "grades are published: also the after_published checks (the accuracy, with the training plots)",
}


def add_arguments(parser):
    parser.add_argument("out", metavar="OUT_DIR", help="the --out folder of a batch (holding students/<id>/report.json)")
    parser.add_argument("--stage", required=True, choices=list(STAGE_HELP),
                        help="what students may see now: " + "; ".join(f"{k}, {v}" for k, v in STAGE_HELP.items()))
    parser.add_argument("--data-root", metavar="DIR",
                        help="folder holding MNIST/raw, for the confusion matrices (default: $MNIST_ROOT or ./data)")


def run(args):
    from grader.feedback import write_feedback
    from grader.formats.report_json import report_from_dict

    out = Path(args.out)
    students = out / "students"
    if not students.is_dir():
        raise GraderError(f"{out} has no students/ folder; give the --out folder of `mnist-grader batch`.")
    written, not_graded, failed = [], [], []
    for folder in sorted(p for p in students.iterdir() if p.is_dir() and not p.is_symlink()):
        stored = folder / "report.json"
        if not stored.is_file():
            not_graded.append(folder.name)            # an error row: nothing to show yet
            continue
        try:
            report = report_from_dict(json.loads(stored.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            failed.append(f"{clean_name(folder.name)} (its report.json cannot be read: {type(exc).__name__})")
            continue
        try:
            write_feedback(report, folder, data_root=args.data_root, stage=args.stage)
        except OSError as exc:
            failed.append(f"{clean_name(folder.name)} ({exc})")
            continue
        except Exception as exc:           # a grader bug: logged, and the other students still get theirs
            print(f"grader error while writing the feedback of {folder.name}:\n{traceback.format_exc()}", file=sys.stderr)
            failed.append(f"{clean_name(folder.name)} ({type(exc).__name__}: {exc})")
            continue
        written.append(folder.name)
    write_atomically(out / STAGE_FILE, json.dumps({"stage": args.stage}) + "\n")
    print(terminal(f"Rewrote the feedback report of {len(written)} student{'s' * (len(written) != 1)} in "
                   f"{students}/ for stage {args.stage!r} ({STAGE_HELP[args.stage]})."))
    if not_graded:
        print(terminal(f"No stored report (not graded; see grades.csv) for {len(not_graded)}: "
                       f"{', '.join(clean_name(s) for s in not_graded)}."))
    print(terminal(f"Later batches into {out} write their feedback reports at this stage too."))
    if failed:
        print(terminal(f"error: the feedback report of {len(failed)} student{'s' * (len(failed) != 1)} could not be "
                       f"rewritten and still shows the earlier stage: {'; '.join(failed)}. Fix the cause and run this "
                       "command again, or grade them again with `mnist-grader batch ... --force`."), file=sys.stderr)
        return 1
    return 0


def read_stage(out):
    """The stage recorded in OUT_DIR by publish; "open" when there is none (or it is unreadable)."""
    try:
        stage = json.loads((Path(out) / STAGE_FILE).read_text(encoding="utf-8")).get("stage")
    except (OSError, ValueError, AttributeError):
        return "open"
    return stage if stage in STAGE_HELP else "open"
