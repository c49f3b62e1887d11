"""`mnist-grader package gradescope --out autograder.zip`: the kit as a Gradescope autograder.

Gradescope (https://gradescope-autograders.readthedocs.io/en/latest/specs/) unpacks the zip into
/autograder/source of an Ubuntu image and runs setup.sh there once, as root, while building the
image. For every submission it puts the student's files in /autograder/submission, runs
/autograder/run_autograder (a copy of ours) and uploads /autograder/results/results.json.

The zip holds, at its top: setup.sh and run_autograder (templates/gradescope/, filled in here with
the options of this package), requirements.txt (the
dependencies of pyproject.toml, without the torch extra), and the kit that grades: grader/ (with
the instructor's rubric as grader/rubric.toml), solution/, data_scripts/, pyproject.toml, README.md.
Never tests/, .venv, data/ or runs/. --only/--skip are written into run_autograder.

Two Python environments, outside the kit: the grader's (/opt/mnist-venv: the dependencies and the
kit, whose command mnist-grader run_autograder calls; root only) and the one student code runs with
(/opt/mnist-child-venv: numpy at the grader's version and nothing else, usable by every user: the
unprivileged uids student code runs as without bubblewrap, which cannot reach into the kit, root's only).
"""
import shlex
import string
import zipfile
from pathlib import Path

from grader import reference
from grader.errors import GraderError

KIT_ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ["grader", "solution", "data_scripts", "pyproject.toml", "README.md"]
NOT_SHIPPED = ("__pycache__", "public_reference.npz")      # and every file or folder whose name starts with "."
ACCURACY_ITEMS = ("mlp.accuracy", "cnn.accuracy")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)                          # same kit, same bytes
TEMPLATES = Path(__file__).resolve().parent / "templates" / "gradescope"


class ShellTemplate(string.Template):
    """A bash script whose placeholders are @NAME@ (capitals, digits, _). Every `$` and every other `@`
    is bash's own ("$child", "${args[@]}", "$@"), so a template is a bash script as it stands, which
    bash -n and shellcheck read, and filling it cannot eat a bash variable."""

    pattern = r"@(?:(?P<named>[A-Z][A-Z0-9_]*)@|(?P<braced>(?!))|(?P<escaped>(?!))|(?P<invalid>(?!)))"
    flags = 0                   # string.Template's default, re.IGNORECASE, would take @foo@ too


def placeholders(text):
    """The names of the @NAME@ placeholders in text."""
    return {match.group("named") for match in ShellTemplate.pattern.finditer(text)}


def fill_script(name, **values):
    """The script templates/gradescope/NAME with each @KEY@ replaced by values[KEY]. A placeholder
    without a value, or a value without its placeholder, is refused: the two sides were edited apart."""
    path = TEMPLATES / name
    text = path.read_text(encoding="utf-8")
    wanted = placeholders(text)
    if wanted != set(values):
        raise GraderError(f"{path} does not fit grader/course/package.py: its placeholders are "
                          f"{', '.join(sorted(wanted)) or 'none'}, and package.py fills {', '.join(sorted(values))}.")
    return ShellTemplate(text).substitute(values)


def add_arguments(parser):
    parser.add_argument("platform", choices=["gradescope"], help="the platform to package for")
    parser.add_argument("--out", default="autograder.zip", metavar="FILE",
                        help="the zip to write (default: %(default)s); upload it as the assignment's autograder")


def run(args):
    out, rows = build_gradescope_zip(Path(args.out), args.rubric, args.only, args.skip)
    points = sum(row.points for row in rows)
    print(f"wrote {out}: {len(rows)} checks, {points:g} points. Upload it as the autograder of a Gradescope "
          f"programming assignment (its image builds in a few minutes: Python, bubblewrap, MNIST).")
    return 0


def build_gradescope_zip(out, rubric_path=None, only=(), skip=()):
    """Write the autograder zip; returns (its path, the rubric rows it grades)."""
    from grader.rubric import DEFAULT, load_rubric
    if reference.REFERENCE.mode != "live":
        raise GraderError("An autograder can only be packaged from the full kit (with solution/).")
    rubric_path = Path(rubric_path) if rubric_path else DEFAULT
    rubric = load_rubric(rubric_path)
    rows = rubric.select(only, skip)
    if not rows:
        raise GraderError("These --only/--skip options leave no check to grade.")
    grader_args = [word for prefix in only for word in ("--only", prefix)]
    grader_args += [word for prefix in skip for word in ("--skip", prefix)]
    self_check_args = grader_args + [word for item in ACCURACY_ITEMS
                                     if any(row.id.startswith(item) for row in rows) for word in ("--skip", item)]
    files = {                                            # name in the zip -> (bytes, executable)
        "setup.sh": (fill_script("setup.sh", SELF_CHECK_ARGS=bash_words(self_check_args)), True),
        "run_autograder": (fill_script("run_autograder", GRADER_ARGS=bash_words(grader_args),
                                       MAX_SCORE=f"{sum(row.points for row in rows):g}"), True),
        "requirements.txt": ("\n".join(dependencies()) + "\n", False),
    }
    for name in SHIPPED:
        for path in shipped_files(KIT_ROOT / name):
            files[path.relative_to(KIT_ROOT).as_posix()] = (path.read_bytes(), False)
    files["grader/rubric.toml"] = (rubric_path.read_bytes(), False)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(files):
                content, executable = files[name]
                info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = (0o100755 if executable else 0o100644) << 16
                archive.writestr(info, content)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return out, rows


def shipped_files(path):
    if path.is_file():
        return [path]
    found = []
    for child in sorted(path.iterdir()):
        if child.name.startswith(".") or child.name in NOT_SHIPPED or child.suffix == ".pyc":
            continue
        found += shipped_files(child) if child.is_dir() else [child]
    return found


def dependencies():
    """pyproject.toml's dependencies (never its extras: no torch in the image)."""
    from grader.rubric import tomllib
    return tomllib.loads((KIT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def bash_words(words):
    return " ".join(shlex.quote(word) for word in words)

