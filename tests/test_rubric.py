"""The rubric is checked against the check registry when it is loaded (a typo or a missing row is a
message and exit 2, never a traceback or a check silently not run); the public kit's rubric is
written by a TOML parser and writer, so every visible row gets in however it is spelt; and commands
that grade nothing run no solution code."""
import json
import shutil
import subprocess
import sys

import pytest

import gradertools as gt
from grader.errors import GraderError
from grader.course.public_kit import public_rubric_text
from grader.rubric import DEFAULT, load_rubric, tomllib

ROOT = gt.ROOT
RUBRIC = DEFAULT.read_text()
SIGMOID = '"functional.sigmoid: values match the reference"    = { points = 2, visibility = "visible" }'
RELU = '"functional.relu: float32 input"                    = { points = 1, visibility = "visible" }'
assert RUBRIC.count(SIGMOID) == 1 and RUBRIC.count(RELU) == 1


def grade_with(rubric_text, tmp_path, *args):
    path = tmp_path / "my_rubric.toml"
    path.write_text(rubric_text)
    return subprocess.run([sys.executable, "-m", "grader", "grade", str(gt.SOLUTION), "--rubric", str(path),
                           "--only", "functional.sigmoid", "--only", "functional.relu", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


MISTAKES = {
    "unknown id": (RUBRIC.replace(SIGMOID, SIGMOID.replace("sigmoid: values", "sigmoid: valeus")),
                   ["'functional.sigmoid: valeus match the reference'",
                    "did you mean 'functional.sigmoid: values match the reference'",
                    "no row in [checks]"]),
    "missing row": (RUBRIC.replace(RELU + "\n", ""), ["1 check has no row", "'functional.relu: float32 input'"]),
    "not valid TOML": (RUBRIC.replace(RELU, RELU.replace("points = 1,", "points = ,")), ["is not valid TOML", "line"]),
    "row not a table": (RUBRIC.replace(RELU, '"functional.relu: float32 input" = 1'),
                        ["'functional.relu: float32 input' = 1", "points = 1"]),
    "misspelt key": (RUBRIC.replace(RELU, RELU.replace("visibility", "visiblity")),
                     ["'functional.relu: float32 input' has the key 'visiblity'"]),
    "points not a number": (RUBRIC.replace(RELU, RELU.replace("points = 1", "points = nan")),
                            ["'functional.relu: float32 input' has points = nan"]),
    "negative points": (RUBRIC.replace(RELU, RELU.replace("points = 1", "points = -3")), ["has points = -3"]),
    "unknown id in not_graded": (RUBRIC + '\n[not_graded]\nchecks = ["cnn.step: nonsense"]\n',
                                 ["'cnn.step: nonsense'", "not a check of this grader"]),
    "not_graded points of a graded check": (
        RUBRIC + '\n[not_graded]\nchecks = []\npoints = { "functional.relu: float32 input" = 1 }\n',
        ["[not_graded] points names 'functional.relu: float32 input'", "not in [not_graded] checks"]),
    "not_graded points not a number": (
        RUBRIC.replace(RELU + "\n", "") + '\n[not_graded]\nchecks = ["functional.relu: float32 input"]\n'
        'points = { "functional.relu: float32 input" = "four" }\n',
        ["gives 'functional.relu: float32 input' = 'four'"]),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_rubric_mistake_exits_2_naming_the_check(mistake, tmp_path):
    text, phrases = MISTAKES[mistake]
    proc = grade_with(text, tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: Rubric file") and "Traceback" not in proc.stderr, proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, proc.stderr


def test_the_rubric_matches_the_registry_and_not_graded_leaves_checks_out_on_purpose(tmp_path):
    rubric = load_rubric()
    from grader.checks import load_all
    assert {row.id for row in rubric.rows} == set(load_all()) and rubric.not_graded == ()
    text = RUBRIC.replace(RELU + "\n", "") + '\n[not_graded]\nchecks = ["functional.relu: float32 input"]\n'
    path = tmp_path / "r.toml"
    path.write_text(text)
    assert load_rubric(path).not_graded == ("functional.relu: float32 input",)
    path.write_text(RUBRIC.replace(RELU + "\n", "") + '\n[not_graded]\nchecks = ["functional.relu: float32 input", '
                    '"functional.relu: shape and dtype"]\n')
    with pytest.raises(GraderError, match="listed both in \\[checks\\] and in \\[not_graded\\]"):
        load_rubric(path)


# ------------------------------------------------------------------------------------ the public kit's rubric

def respelt(text, spelling):
    """The rubric with its [checks] written another way that TOML reads the same (or, for
    "no visibility key", with the visible rows' default left implicit)."""
    checks = tomllib.loads(text)["checks"]
    head = text[:text.index("\n[checks]\n") + 1]
    lines = []
    for n, (check_id, entry) in enumerate(checks.items()):
        points, visibility = entry["points"], entry["visibility"]
        if spelling == "inline, no spaces":
            lines.append(f'"{check_id}"={{points={points},visibility="{visibility}"}}')
        elif spelling == "sub-tables":
            lines.append(f'[checks."{check_id}"]\npoints = {points}\nvisibility = \'{visibility}\'\n')
        elif spelling == "dotted keys":
            lines.append(f"'{check_id}'.points = {points}\n'{check_id}'.visibility   =   \"{visibility}\"")
        elif spelling == "no visibility key":
            lines.append(f'"{check_id}" = {{ points = {points} }}' if visibility == "visible" else
                         f'"{check_id}" = {{ visibility = "{visibility}", points = {points} }}')
        elif spelling == "mixed":
            lines.append(respelt_row(check_id, points, visibility, n))
    if spelling == "sub-tables":
        return head + "\n".join(lines)
    return head + "[checks]\n" + "\n".join(lines) + "\n"


def respelt_row(check_id, points, visibility, n):
    key = f"'{check_id}'" if n % 2 else f'"{check_id}"'
    value = ['{ points = %s, visibility = "%s" }', '{points=%s,visibility="%s"}',
             '{ visibility = "%s", points = %s }'][n % 3]
    return f"{key} = " + (value % (visibility, points) if n % 3 == 2 else value % (points, visibility))


SPELLINGS = ["inline, no spaces", "sub-tables", "dotted keys", "no visibility key", "mixed"]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_visible_row_reaches_the_public_kit_however_it_is_spelt(spelling, tmp_path):
    course = tmp_path / "course.toml"
    course.write_text(respelt(RUBRIC, spelling))
    rubric = load_rubric(course)                         # the grader reads the respelt rubric as the original
    assert [(r.id, r.points, r.visibility) for r in rubric.rows] == [(r.id, r.points, r.visibility)
                                                                      for r in load_rubric().rows]
    kit = tmp_path / "kit.toml"
    kit.write_text(public_rubric_text(course))
    public = load_rubric(kit)
    visible = [(r.id, r.points) for r in rubric.rows if r.visibility == "visible"]
    assert [(r.id, r.points) for r in public.rows] == visible and len(visible) > 50
    assert all(r.visibility == "visible" for r in public.rows)
    assert sorted(public.not_graded) == sorted(r.id for r in rubric.rows if r.visibility != "visible")
    assert public.not_graded_points == {r.id: r.points for r in rubric.rows if r.visibility != "visible"}
    assert public.input_salt == 0 and str(rubric.input_salt) not in kit.read_text()
    assert public.accuracy == rubric.accuracy and public.allowed_imports == rubric.allowed_imports


# ------------------------------------------------------------------------------------ --help runs no solution

SOLUTION_TRAP = "print('SOLUTION CODE RAN')\nraise SystemExit('the solution was imported')\n"


def test_help_runs_no_solution_code(tmp_path):
    """A copy of the kit whose solution/ prints and exits when imported: --help of every command works."""
    kit = tmp_path / "kit"
    shutil.copytree(ROOT / "grader", kit / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    (kit / "solution").mkdir()
    for name in ("functional.py", "mlp.py", "cnn.py", "data.py", "train.py"):
        (kit / "solution" / name).write_text(SOLUTION_TRAP)
    for verb in ([], ["grade"], ["batch"], ["package", "gradescope"], ["nbgrader"], ["public-kit"], ["release"]):
        proc = subprocess.run([sys.executable, "-m", "grader", *verb, "--help"], cwd=kit, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0 and "usage:" in proc.stdout, (verb, proc.stdout + proc.stderr)
        assert "SOLUTION CODE RAN" not in proc.stdout + proc.stderr, verb


def test_parsing_the_command_line_imports_no_solution_module():
    script = ("import json, sys\nfrom grader import cli\nfor argv in (['--help'], ['grade', '--help']):\n"
              "    try:\n        cli.parser().parse_args(argv)\n    except SystemExit:\n        pass\n"
              "solution = [name for name, m in list(sys.modules.items()) if 'solution' in str(getattr(m, '__file__', ''))]\n"
              "print(json.dumps(solution))\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == []
