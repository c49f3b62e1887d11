"""`mnist-grader public-kit --out DIR`: the grader students may have, without the solution.

Students run the public checks on their own machine (`mnist-grader grade . --public`) and in
their repository's CI. The kit's pyproject.toml is the full kit's, so `pip install -e` of the kit
installs the same console script, mnist-grader. The full kit cannot be handed out: its grader computes expected values with
solution/. The public kit instead carries the reference's answers to exactly the calls the public
checks make (recorded here by grading the reference with those checks), so the same checks, with
the same inputs and messages, run there without any solution code.
"""
import dataclasses
import shutil
import sys
from pathlib import Path

from grader import reference
from grader.errors import GraderError

KIT_ROOT = Path(__file__).resolve().parents[2]
COPIED = ["grader", "data_scripts", "pyproject.toml"]
PUBLIC_README = """# mnist-from-scratch: public checks

This is the grader of the MNIST-from-scratch assignment without the reference solution: it runs the
checks your course marked visible, with the same inputs and messages as the course's grader.

    pip install -e .                                  # in this folder; installs the command mnist-grader
    mnist-grader grade path/to/your/folder            # the public checks
    mnist-grader grade . --only functional.softmax    # from inside your folder: one function

The checks not shown here (and the accuracy after training) run when your course grades your submission.
Fix functional.py first: without the reference solution, this grader cannot lend its own functional.py
to your models' checks, so a bug there also shows up in mlp.* and cnn.* here (not in the course's grading).
"""


def add_arguments(parser):
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write the public kit into (replaced)")
    parser.add_argument("--rubric", metavar="FILE", help="rubric TOML whose visible checks are the public ones")
    parser.add_argument("--zip", metavar="FILE", help="also write the kit as a zip (its files at the zip's top)")


def run(args):
    out = build_public_kit(Path(args.out), args.rubric)
    print(f"wrote the public kit to {out}")
    if args.zip:
        shutil.make_archive(str(Path(args.zip).with_suffix("")), "zip", out)
        print(f"wrote {Path(args.zip).with_suffix('.zip')}")
    return 0


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
    missed = [t.name for t in report.tests if t.score != t.max_score]
    if missed:
        raise GraderError(f"The reference does not pass these public checks, so nothing was written: {missed}")
    return reference.REFERENCE.answers


PUBLIC_RUBRIC_HEADER = """\
# The public kit's rubric, written by `python -m grader public-kit` from the course's rubric: its
# visible checks, with their points. The others need the reference solution, which this kit does not
# have, so they are listed under [not_graded]; they run when your course grades your submission.
# The inputs' salt is 0: the inputs the recorded reference answers are for.

"""


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
    checks, hidden = {}, list(data.get("not_graded", {}).get("checks", []))
    for check_id, entry in data["checks"].items():
        if entry.get("visibility", DEFAULT_VISIBILITY) == "visible":
            checks[check_id] = {"points": entry["points"], "visibility": "visible"}
        else:
            hidden.append(check_id)
    data["checks"] = checks
    data["not_graded"] = {"checks": hidden}
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
    (out / "solution").mkdir()
    shutil.copy(KIT_ROOT / "solution" / "data.py", out / "solution" / "data.py")     # provided code, not a solution
    (out / "grader" / "rubric.toml").write_text(public_rubric_text(rubric_path))
    (out / "README.md").write_text(PUBLIC_README)
    answers.save(out / "grader" / reference.RECORDING.name)
    leaked = solution_lines_in(out)
    if leaked:
        shutil.rmtree(out)
        raise GraderError(f"Refusing to write a public kit that contains solution code: {leaked[:3]}")
    return out


def solution_lines_in(folder):
    """Solution regions of the reference (two code lines or more, whitespace aside) found in any text
    file under folder, and contract files present there."""
    from grader.generate import find_regions
    regions = []
    for name in ("functional.py", "mlp.py", "cnn.py"):
        path = KIT_ROOT / "solution" / name
        lines = path.read_text().splitlines()
        for region in find_regions(path.read_text(), path):
            code = [line.strip() for line in lines[region.begin:region.end - 1]
                    if line.strip() and not line.strip().startswith("#")]
            if len(code) >= 2:
                regions.append((f"{name}: {region.qualname}", "\n".join(code)))
    found = [str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.name in ("functional.py", "mlp.py", "cnn.py")
             and "checks" not in p.parts]
    for path in Path(folder).rglob("*"):
        if path.is_file() and path.suffix in (".py", ".md", ".toml", ".txt", ".json"):
            text = "\n".join(line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip())
            found += [f"{path.relative_to(folder)} holds {where}" for where, code in regions if code in text]
    return found


if __name__ == "__main__":
    sys.exit("use: mnist-grader public-kit --out DIR")
