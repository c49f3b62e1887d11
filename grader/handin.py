"""`mnist-grader handin [FOLDER] [--out hw.zip]`: the zip a student hands in, checked before it is written.

The zip holds exactly functional.py, mlp.py and cnn.py at its top: no other file, no folder. Before
writing it, each file is found as the grader finds it (grader/submission.py), parsed, and imported in
a child process like the one that runs it when the course grades (grader/sandbox/session.py). A file
that is missing, does not parse or does not import is named (with its line), and no zip is written:
found now, not after the deadline. Then the command says what will be graded: the rubric's points
per item, those the public checks show and those that run only when the course grades.

Exit codes: 0 the zip was written; 1 a file needs fixing (no zip written); 2 the grader could not run.
"""
import ast
import io
import time
import zipfile
from pathlib import Path

from grader.errors import GraderError, StudentError
from grader.formats import write_atomically
from grader.formats.escape import terminal
from grader.submission import FILES, load_submission

DEFAULT_OUT = "hw.zip"


def add_arguments(parser):
    parser.add_argument("folder", nargs="?", default=".",
                        help="the folder holding your functional.py, mlp.py and cnn.py (default: this one)")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="ZIP",
                        help=f"the zip to write (default: {DEFAULT_OUT} in the current folder)")
    parser.add_argument("--rubric", metavar="FILE", help="rubric TOML (default: this grader's)")


def run(args):
    from grader.rubric import load_rubric

    rubric = load_rubric(args.rubric)
    folder, out = Path(args.folder), Path(args.out)
    if not folder.is_dir():
        raise GraderError(f"{folder} is not a folder. Give the folder that holds {', '.join(FILES)}.")
    if out.suffix.lower() != ".zip":
        raise GraderError(f"--out {out}: give a file name ending in .zip.")
    submission = load_submission(folder)
    try:
        problems = file_problems(submission)
        if not problems:
            problems = import_problems(submission, rubric)
        notes = scan_notes(submission, rubric) if not problems else []
        if problems:
            say(f"{folder}: not handed in yet. Fix {'this' if len(problems) == 1 else 'these'} first:")
            say("\n".join(f"- {problem}" for problem in problems))
            say(f"No zip was written. Run `mnist-grader handin {args.folder}` again once "
                f"{'it is' if len(problems) == 1 else 'they are'} fixed.")
            return 1
        write_atomically(out, zip_bytes({name: (submission.folder / name).read_bytes() for name in FILES}))
    finally:
        submission.cleanup()
    say(f"Checked {folder}: {', '.join(FILES)} each parse and import.")
    say("\n".join(f"Note: {note}" for note in notes))
    say(f"Wrote {out}: {', '.join(FILES)} and nothing else. Hand in this file.")
    print()
    say("\n".join(graded_lines(rubric)))
    return 0


def say(text):
    if text:
        print(terminal(text))


def file_problems(submission):
    """Missing or unreadable files (grader/submission.py's sentences) and files that do not parse."""
    problems = []
    for name in FILES:
        if name in submission.problems:
            problems.append(submission.problems[name])
            continue
        text = submission.sources[name]
        try:
            ast.parse(text, filename=name)
        except SyntaxError as exc:
            line = (exc.text or "").strip()
            problems.append(f"{name} line {exc.lineno} does not parse ({exc.msg})" + (f":\n    {line}" if line else "."))
    return problems


def import_problems(submission, rubric):
    """Import the three modules in a child process, as grading does; what went wrong, per module."""
    from grader.sandbox.session import Session

    modules = [name[:-3] for name in FILES]
    session = Session(submission.folder, modules, call_seconds=rubric.call_seconds)   # the child's usual limits
    try:
        session._ensure_child()               # starts the child and imports every module, in order
    except StudentError as exc:
        return [str(exc)]
    finally:
        session.close()
    return [session.import_problems[module] for module in modules if module in session.import_problems]


def scan_notes(submission, rubric):
    """What reading the sources shows will cost points: imports outside the allowed list, functions
    still to write."""
    from grader import static

    scan = static.scan(submission.sources, rubric.allowed_imports)
    notes = [f"{finding} imports a library that is not allowed (policy.no_torch checks lose their points)"
             for finding in scan.banned + scan.not_allowed]
    todo = sorted(name for name in scan.loops if name not in scan.written)
    if todo:
        notes.append(f"not written yet (they raise NotImplementedError): {', '.join(todo)}")
    return notes


def zip_bytes(files):
    """A zip holding exactly these files at its top, in this order."""
    buffer = io.BytesIO()
    stamp = time.localtime()[:6]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def graded_lines(rubric):
    """Per item: its points, those the public checks (--public) show, those that run only when the
    course grades, with the accuracy bars."""
    items = {}
    for row in rubric.rows:
        public, later, count = items.get(row.item, (0.0, 0.0, 0))
        if row.visibility == "visible":
            items[row.item] = (public + row.points, later, count)
        else:
            items[row.item] = (public, later + row.points, count + 1)
    unknown = {}
    for check_id in rubric.not_graded:       # the public kit lists the course's other checks here
        item = check_id.split(":")[0]
        public, later, count = items.get(item, (0.0, 0.0, 0))
        if check_id in rubric.not_graded_points:     # with their points in the course's rubric
            items[item] = (public, later + rubric.not_graded_points[check_id], count + 1)
        else:
            unknown[item] = unknown.get(item, 0) + 1
            items[item] = (public, later, count)
    total = sum(public + later for public, later, _ in items.values())
    width = max(len(item) for item in items) + 2
    lines = [f"What will be graded ({total:g} points in this grader's rubric):",
             f"  {'item':<{width}}{'points':>6}  {'public':>6}  only when your course grades"]
    for item, (public, later, count) in items.items():
        why = []
        if count and not item.endswith(".accuracy"):
            why.append(f"{count} hidden check{'s' * (count != 1)}")
        if item in unknown:
            why.append(f"{unknown[item]} check{'s' * (unknown[item] != 1)} whose points are not in this kit's rubric")
        model = item.split(".")[0]
        if item.endswith(".accuracy") and model in rubric.accuracy:
            why.append(f"test accuracy at least {100 * rubric.accuracy[model]['threshold']:.1f}% after training")
        when = (f"{later:g}" if count else "") + (f" ({'; '.join(why)})" if why else "")
        lines.append(f"  {item:<{width}}{public + later:>6g}  {public:>6g}  {when.strip() or '-'}")
    public = sum(public for public, _, _ in items.values())
    others = sum(unknown.values())
    lines.append(f"  {'total':<{width}}{total:>6g}  {public:>6g}  {total - public:g}"
                 + (f" (and {others} checks whose points are in your course's rubric)" if others else ""))
    lines.append("`mnist-grader grade . --public` runs the public checks now; the others run when your course grades.")
    return lines
