"""The files the course tooling writes from templates (grader/course/templates/): Gradescope's setup.sh
and run_autograder, nbgrader's test cells and nbgrader_config.py.

Filled in, each is a program its reader accepts: bash -n (and shellcheck, where it is installed) for
the scripts, compile() for the Python; every placeholder gets its value and nothing else of the text
changes (a bash `$child` or `${args[@]}` is never taken for a placeholder); a template that does not
fit its filler is refused by name; and the package data of pyproject.toml ships every template.
"""
import re
import shlex
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from grader.course import nbgrader, package
from grader.errors import GraderError
from grader.rubric import load_rubric, tomllib

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "grader" / "course" / "templates"
SCRIPTS = ("setup.sh", "run_autograder")
PLACEHOLDER = re.compile(r"@[A-Z][A-Z0-9_]*@")
# Words a placeholder takes, with what bash and string.Template might mistake: $, @, quotes, spaces.
AWKWARD = ["--only", "functional.$HOME's ${x[@]} \"$@\" @MAX_SCORE@", "--skip", "cnn.accuracy"]


def script_values(name, words):
    """The values package.py gives the script's placeholders, for these --only/--skip words."""
    if name == "setup.sh":
        return {"SELF_CHECK_ARGS": package.bash_words(words)}
    return {"GRADER_ARGS": package.bash_words(words), "MAX_SCORE": "112"}


REALISTIC = ([], ["--skip", "mlp.accuracy"], ["--only", "functional.softmax", "--skip", "cnn.accuracy"])


def filled_scripts(word_lists=REALISTIC + (AWKWARD,)):
    return [(name, words) for name in SCRIPTS for words in word_lists]


def script_id(case):
    name, words = case
    return f"{name}-{'awkward' if words == AWKWARD else len(words)}"


# --- the shell scripts ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", filled_scripts(), ids=script_id)
def test_filling_a_script_replaces_its_placeholders_and_nothing_else(case):
    name, words = case
    template = (TEMPLATES / "gradescope" / name).read_text()
    values = script_values(name, words)
    filled = package.fill_script(name, **values)
    pieces = re.split(f"@({'|'.join(values)})@", template)     # the oracle: text, key, text, key, ..., text
    assert set(pieces[1::2]) == set(values)
    assert filled == "".join(values[piece] if k % 2 else piece for k, piece in enumerate(pieces))
    assert not PLACEHOLDER.findall(filled.replace(package.bash_words(words), "")), "a placeholder is left"
    assert filled.count("$") == template.count("$") + sum(value.count("$") for value in values.values())


def test_the_template_engine_leaves_bash_alone():
    bash = 'echo "$HOME" ${args[@]+"${args[@]}"} "$@" $* $$ $1 user@host @lower@ @@ @X @MAX_SCORE@'
    assert package.ShellTemplate(bash).substitute(MAX_SCORE="9") == bash.replace("@MAX_SCORE@", "9")
    assert package.placeholders(bash) == {"MAX_SCORE"}


@pytest.mark.parametrize("case", filled_scripts(), ids=script_id)
def test_a_filled_script_is_bash_that_parses(case, tmp_path):
    name, words = case
    path = tmp_path / name
    path.write_text(package.fill_script(name, **script_values(name, words)))
    proc = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    words_there = re.search(r"^(?:self_check_args|grader_args)=\((.*)\)$", path.read_text(), re.MULTILINE).group(1)
    assert shlex.split(words_there) == words          # bash reads back the very words given


@pytest.mark.parametrize("case", filled_scripts(REALISTIC), ids=script_id)   # AWKWARD's '$HOME' is a note
def test_a_filled_script_passes_shellcheck(case, tmp_path):
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    name, words = case
    path = tmp_path / name
    path.write_text(package.fill_script(name, **script_values(name, words)))
    proc = subprocess.run(["shellcheck", "--shell=bash", "--format=gcc", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("edit, missing, extra", [
    (lambda text: text.replace("@SELF_CHECK_ARGS@", "@SELF_CHECK_ARGZ@"), "SELF_CHECK_ARGZ", "SELF_CHECK_ARGS"),
    (lambda text: text.replace("@SELF_CHECK_ARGS@", ""), "none", "SELF_CHECK_ARGS"),
])
def test_a_template_that_does_not_fit_package_py_is_refused_by_name(edit, missing, extra, tmp_path, monkeypatch):
    shutil.copytree(TEMPLATES / "gradescope", tmp_path / "gradescope")
    setup = tmp_path / "gradescope" / "setup.sh"
    setup.write_text(edit(setup.read_text()))
    monkeypatch.setattr(package, "TEMPLATES", tmp_path / "gradescope")
    with pytest.raises(GraderError) as error:
        package.fill_script("setup.sh", SELF_CHECK_ARGS="")
    assert str(setup) in str(error.value) and missing in str(error.value) and extra in str(error.value)


def test_the_package_holds_the_filled_scripts_executable(tmp_path):
    only, skip = ["functional", "mlp"], ["mlp.accuracy"]
    out, rows = package.build_gradescope_zip(tmp_path / "autograder.zip", only=only, skip=skip)
    words = ["--only", "functional", "--only", "mlp", "--skip", "mlp.accuracy"]
    expected = {"setup.sh": package.fill_script("setup.sh", SELF_CHECK_ARGS=package.bash_words(words)),
                "run_autograder": package.fill_script("run_autograder", GRADER_ARGS=package.bash_words(words),
                                                      MAX_SCORE=f"{sum(row.points for row in rows):g}")}
    with zipfile.ZipFile(out) as archive:
        for name, text in expected.items():
            info = archive.getinfo(name)
            assert archive.read(info).decode() == text, name
            assert (info.external_attr >> 16) & 0o111, f"{name} is not executable in the zip"
            assert not PLACEHOLDER.search(text), name


# --- nbgrader ---------------------------------------------------------------------------------------


def test_the_test_templates_are_python_and_every_filled_cell_compiles():
    for name in ("functional.py", "mlp.py", "cnn.py"):
        path = nbgrader.tests_path(name)
        compile(path.read_text(), str(path), "exec")       # a template as it stands, FROZEN calls and all
    cells = nbgrader.build_cells(ROOT / "solution", load_rubric())
    tests = [cell for cell in cells if cell.kind in ("tests", "hidden_tests")]
    assert {cell.item for cell in tests} == set(nbgrader.notebook_tests())
    assert len(tests) == 2 * len(nbgrader.notebook_tests())
    for cell in tests:
        compile(cell.source, cell.grade_id, "exec")
        assert "FROZEN" not in cell.source, cell.grade_id


def test_the_filled_nbgrader_config_compiles():
    text = nbgrader.config_text()
    compile(text, "nbgrader_config.py", "exec")
    assert text.startswith(nbgrader.GENERATED)
    assert f'course_id = "{nbgrader.COURSE_ID}"' in text and f"timeout = {nbgrader.CELL_TIMEOUT}\n" in text
    assert "$" not in text


MLP_TESTS = "mlp_tests.py"


@pytest.mark.parametrize("old, new, message", [
    ("# %% mlp.step: hidden tests", "# %% mlp.step: hiden tests", "a cell opens with"),
    ("# %% mlp.step: hidden tests", "# %% cnn.step: hidden tests", "cnn.step is not an item of mlp.py; its tests go in cnn_tests.py"),
    ("# %% mlp.step: hidden tests", "# %% mlp.step: visible tests", "a second cell of visible tests of mlp.step"),
    ("# %% mlp.step: hidden tests", "# %% mlp.stepp: hidden tests", "mlp.step has no cell of hidden tests"),
    ("\n# %% mlp.init: visible tests", "\nprint('stray')\n# %% mlp.init: visible tests", "code before the first"),
])
def test_a_malformed_test_template_is_refused_with_its_line(tmp_path, old, new, message):
    folder = tmp_path / "nbgrader"
    shutil.copytree(nbgrader.TEMPLATES, folder)
    path = folder / MLP_TESTS
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))
    with pytest.raises(GraderError) as error:
        nbgrader.notebook_tests(folder)
    assert str(path) in str(error.value) and message in str(error.value)


def test_an_empty_test_cell_is_refused(tmp_path):
    folder = tmp_path / "nbgrader"
    shutil.copytree(nbgrader.TEMPLATES, folder)
    path = folder / MLP_TESTS
    lines = path.read_text().splitlines()
    start = lines.index("# %% mlp.step: hidden tests")
    path.write_text("\n".join(lines[:start + 1]) + "\n")
    with pytest.raises(GraderError, match=rf"{re.escape(str(path))}:{start + 1}: this cell of mlp.step holds no test"):
        nbgrader.notebook_tests(folder)


# --- shipped with the package -----------------------------------------------------------------------


def test_the_package_data_ships_every_template():
    """A wheel (a non-editable install) holds what [tool.setuptools.package-data] names: every template."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["grader"]
    shipped = {path for pattern in patterns for path in (ROOT / "grader").glob(pattern) if path.is_file()}
    templates = {path for path in TEMPLATES.rglob("*") if path.is_file() and "__pycache__" not in path.parts}
    assert templates and templates <= shipped, sorted(map(str, templates - shipped))
