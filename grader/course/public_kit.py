"""`mnist-grader public-kit --out DIR --zip FILE`: the grader students may have, without the solution.

Students run the public checks on their own machine (`mnist-grader grade . --public`) and in
their repository's CI. The full kit cannot be handed out: its grader computes expected values with
solution/. The public kit instead carries the reference's answers to exactly the calls the public
checks make (recorded here by grading the reference with those checks), so the same checks, with
the same inputs and messages, run there without any solution code.

It is a student's package: the grader package and the full kit's pyproject.toml (so `pip install -e`
installs the same console script, mnist-grader; with only the dependencies the students' commands
import, STUDENT_DEPENDENCIES), a README written for students, and nothing else.
No solution/ folder at all: the kit trains nothing, so it needs no MNIST reader (the students' own
data.py, from the assignment, is where they expect it; solution/data.py stays the only hand-edited
copy), and its command line offers only the students' verbs (grader/cli.py: the staff's need
solution/). The zip holds one folder, ZIP_FOLDER, so that unzipping it next to (or inside) a
homework folder never mixes its README.md with the assignment's.
"""
import dataclasses
import json
import os
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from grader import reference
from grader.contract import FILES
from grader.errors import GraderError

KIT_ROOT = Path(__file__).resolve().parents[2]
COPIED = ["grader", "pyproject.toml"]
# What the students' commands import (grade, handin): the kit's pyproject.toml keeps only these of the
# full kit's dependencies, with their versions. matplotlib (training pictures), tqdm (batch) and tomli-w
# (building kits) serve the staff's commands; without them a student's install is about 10 packages
# and 6 CPU s lighter.
STUDENT_DEPENDENCIES = ("numpy", "threadpoolctl", "tomli")
ZIP_FOLDER = "mnist-public-kit"
PUBLIC_README = """# MNIST from scratch: the public checks

This folder is your course's grader for the MNIST-from-scratch assignment, without the reference
solution. It runs the checks your course made visible to you on your `functional.py`, `mlp.py` and
`cnn.py`, with the same inputs and the same messages as the course's own grading. It trains nothing
and needs no MNIST download.

## Install it once

From the folder that holds this `mnist-public-kit` folder (Python 3.9 or newer):

    pip install -e mnist-public-kit

That gives you the command `mnist-grader` (in the environment you installed it into: activate the
same virtual environment, if you use one, before running it).

## Check your work

From your homework folder, the one with `functional.py`, `mlp.py` and `cnn.py`:

    mnist-grader grade . --public                                # every public check
    mnist-grader grade . --public --only functional.softmax      # one function (any check id prefix)
    mnist-grader grade . --public --feedback feedback            # also a report: feedback/feedback.html

Or name the folder (or a .zip of it) from anywhere: `mnist-grader grade path/to/homework --public`.
Your code runs in a separate process with time limits, so an endless loop or a crash is reported as
such. A function you have not written yet is reported as "not written yet".

## Commands

{commands}

`mnist-grader COMMAND --help` lists a command's options.

## What these checks cannot tell you

- Your course grades more than these checks: some run only when your course grades your submission
  (after the due date, or hidden), and so does the accuracy your models reach after training.
  Passing every check here is a good sign, not your grade.
- Fix `functional.py` first: without the reference solution, this grader cannot lend its own
  `functional.py` to your models' checks, so a bug there also shows up in `mlp.*` and `cnn.*` here
  (the course's grading keeps them apart).
"""


def add_arguments(parser):
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write the public kit into (replaced)")
    parser.add_argument("--rubric", metavar="FILE", help="rubric TOML whose visible checks are the public ones")
    parser.add_argument("--zip", metavar="FILE",
                        help=f"also write the kit as a zip, all in one folder {ZIP_FOLDER}/ (what students download)")


def run(args):
    out = build_public_kit(Path(args.out), args.rubric)
    print(f"wrote the public kit to {out}")
    if args.zip:
        path = write_zip(out, Path(args.zip))
        print(f"wrote {path} (one folder, {ZIP_FOLDER}/: students unzip it and run pip install -e {ZIP_FOLDER})")
    return 0


def write_zip(kit, path):
    """The kit's files in a zip, under one folder ZIP_FOLDER/, written atomically; returns the zip's path."""
    path = path if path.suffix.lower() == ".zip" else path.with_name(path.name + ".zip")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".public-kit-", suffix=".zip", dir=path.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{ZIP_FOLDER}/", b"")
            for file in sorted(kit.rglob("*")):
                name = f"{ZIP_FOLDER}/{file.relative_to(kit).as_posix()}"
                archive.write(file, name + "/" if file.is_dir() else name)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return path


def student_commands():
    """The Markdown list of the commands the public kit offers, with their help."""
    from grader.cli import GRADE_HELP, INSTRUCTOR_VERBS, PLUGGED_VERBS
    verbs = [("grade", GRADE_HELP)] + [(verb, help_text) for verb, (_, help_text) in PLUGGED_VERBS.items()
                                       if verb not in INSTRUCTOR_VERBS]
    return "\n".join(f"- `mnist-grader {verb}`: {help_text}" for verb, help_text in verbs)


def record_public_answers(rubric):
    """Grade the reference with the public checks, keeping every answer the reference gave."""
    from grader.grade import grade
    if reference.REFERENCE.mode != "live":
        raise GraderError("A public kit can only be built from the full kit (with solution/).")
    reference.REFERENCE.mode = "record"
    rubric = dataclasses.replace(rubric, input_salt=0)     # the public inputs (see grader/cases.py)
    try:
        report = grade(reference.SOLUTION_DIR, rubric, skip=("mlp.accuracy", "cnn.accuracy"), public=True)
    finally:
        reference.REFERENCE.mode = "live"
    missed = [r.id for r in report.results if r.score != r.max_score]
    if missed:
        raise GraderError(f"The reference does not pass these public checks, so nothing was written: {missed}")
    return reference.REFERENCE.answers


PUBLIC_RUBRIC_HEADER = """\
# The public kit's rubric, written by `mnist-grader public-kit` from the course's rubric: its
# visible checks, with their points. The others need the reference solution, which this kit does not
# have, so they are listed under [not_graded], with their points; they run when your course grades
# your submission.
# The inputs' salt is 0: the inputs the recorded reference answers are for.

"""


def student_pyproject(text):
    """The full kit's pyproject.toml with [project] dependencies cut to STUDENT_DEPENDENCIES."""
    from grader.rubric import tomllib
    wanted = [d for d in tomllib.loads(text)["project"]["dependencies"]
              if re.match(r"[A-Za-z0-9_.-]+", d).group().lower() in STUDENT_DEPENDENCIES]
    block = re.compile(r"^dependencies = \[\n.*?^\]\n", re.M | re.S)
    cut = block.sub(lambda _: "dependencies = [\n" + "".join(f"    {json.dumps(d)},\n" for d in wanted) + "]\n",
                    text, count=1)
    if tomllib.loads(cut)["project"]["dependencies"] != wanted or len(wanted) != len(STUDENT_DEPENDENCIES):
        raise GraderError("Could not cut the dependencies of pyproject.toml for the public kit: "
                          "keep them as one `dependencies = [` ... `]` block, one requirement per line.")
    return cut


def public_rubric_text(rubric_path):
    """The rubric with only its visible checks (the others cannot run without the solution) and salt 0
    (the course's salt stays secret), read and written as TOML: every row the grader reads as visible
    gets in, however the TOML spells it (inline or sub-tables, any spacing, no visibility key)."""
    from grader.rubric import DEFAULT_VISIBILITY, load_rubric, tomllib
    try:
        import tomli_w
    except ModuleNotFoundError:
        raise GraderError("Building the public kit needs the tomli-w package: pip install tomli-w")
    load_rubric(rubric_path)                 # a rubric the grader refuses never reaches students
    data = tomllib.loads(Path(rubric_path).read_text(encoding="utf-8"))
    not_graded = data.get("not_graded", {})
    checks, hidden = {}, list(not_graded.get("checks", []))
    points = dict(not_graded.get("points", {}))
    for check_id, entry in data["checks"].items():
        if entry.get("visibility", DEFAULT_VISIBILITY) == "visible":
            checks[check_id] = {"points": entry["points"], "visibility": "visible"}
        else:
            hidden.append(check_id)
            points[check_id] = entry["points"]      # so the public run can say how many points are still to come
    data["checks"] = checks
    data["not_graded"] = {"checks": hidden, "points": points}
    data.setdefault("inputs", {})["salt"] = 0
    return PUBLIC_RUBRIC_HEADER + tomli_w.dumps(data)


def build_public_kit(out, rubric_path=None):
    from grader.rubric import DEFAULT, load_rubric
    rubric_path = Path(rubric_path) if rubric_path else DEFAULT
    answers = record_public_answers(load_rubric(rubric_path))
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "public_reference.npz")
    for name in COPIED:
        source = KIT_ROOT / name
        (shutil.copytree(source, out / name, ignore=ignore) if source.is_dir() else shutil.copy(source, out / name))
    (out / "pyproject.toml").write_text(student_pyproject((KIT_ROOT / "pyproject.toml").read_text()))
    (out / "grader" / "rubric.toml").write_text(public_rubric_text(rubric_path))
    (out / "README.md").write_text(PUBLIC_README.format(commands=student_commands()))
    answers.save(out / "grader" / reference.RECORDING.name)
    leaked = solution_lines_in(out)
    if leaked:
        shutil.rmtree(out)
        raise GraderError(f"Refusing to write a public kit that contains solution code: {leaked[:3]}")
    return out


def solution_lines_in(folder):
    """Solution regions of the reference (two code lines or more, whitespace aside) found in any text
    file under folder, and contract files present there."""
    from grader.course.generate import find_regions
    regions = []
    for name in FILES:
        path = KIT_ROOT / "solution" / name
        lines = path.read_text().splitlines()
        for region in find_regions(path.read_text(), path):
            code = [line.strip() for line in lines[region.begin:region.end - 1]
                    if line.strip() and not line.strip().startswith("#")]
            if len(code) >= 2:
                regions.append((f"{name}: {region.qualname}", "\n".join(code)))
    found = [str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.name in FILES
             and "checks" not in p.parts]
    for path in Path(folder).rglob("*"):
        if path.is_file() and path.suffix in (".py", ".md", ".toml", ".txt", ".json"):
            text = "\n".join(line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip())
            found += [f"{path.relative_to(folder)} holds {where}" for where, code in regions if code in text]
    return found


if __name__ == "__main__":
    sys.exit("use: mnist-grader public-kit --out DIR")
