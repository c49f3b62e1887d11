"""`python -m grader nbgrader`: the nbgrader course generated from solution/, run through the real
nbgrader (generate_assignment, autograde, generate_feedback) in a temporary course directory.

Does the release hold no solution and no hidden test? Does the reference get full marks and the
untouched release zero in every test cell? Does the feedback show no hidden test code?
"""
import html
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import warnings
from pathlib import Path

import pytest

from grader.course.generate import BEGIN, CONTRACT_FILES, END, find_regions
from grader.course import nbgrader as course
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solution"
ASSIGNMENT = "mnist"
NOTEBOOK_ID = Path(course.NOTEBOOK).stem
STUDENTS = ("reference", "skeleton")

# Imported by the tests that use them, not here: nbgrader's import takes about a second, which every
# xdist worker would pay while collecting, though one worker runs the pipeline.
NBGRADER = (None if all(importlib.util.find_spec(name) for name in ("nbformat", "nbgrader"))
            else "nbgrader is not installed; pip install nbgrader==0.9.6 ipykernel")
needs_nbgrader = pytest.mark.skipif(NBGRADER is not None, reason=NBGRADER or "")


# --- helpers ------------------------------------------------------------------------------


def jupyter_env(home):
    """The environment for nbgrader: Jupyter's and IPython's user folders inside home (so nothing of
    ~/.jupyter or ~/.local/share/jupyter is used), and this Python's scripts first on PATH
    (nbgrader runs `alembic` from there to create the gradebook)."""
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_PATH", "JUPYTER_PREFER_ENV_PATH")}
    for variable, folder in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                             ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")):
        env[variable] = str(home / folder)
    env["PATH"] = sysconfig.get_path("scripts") + os.pathsep + env.get("PATH", "")
    # As in this process (tests/conftest.py): jsonschema, which every nbgrader command imports, goes
    # without its optional rfc3987_syntax, whose import compiles 38 lark grammars (over a second per
    # command); only the "iri" formats use it, and nbgrader validates none.
    stubs = home / "pythonpath"
    stubs.mkdir(exist_ok=True)
    (stubs / "rfc3987_syntax.py").write_text('raise ImportError("left out by tests/test_nbgrader.py")\n')
    env["PYTHONPATH"] = os.pathsep.join([str(stubs)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def ensure_python3_kernel(env):
    """A `python3` kernelspec that runs this Python; installed into sys.prefix (the venv) if missing.

    jupyter_client starts a kernelspec whose argv[0] is plain `python` with the Python that runs
    nbgrader, which is this one."""
    probe = run([sys.executable, "-c", "from jupyter_client.kernelspec import KernelSpecManager as M; "
                 "print(M().get_kernel_spec('python3').argv[0])"], env=env, check=False)
    if probe.returncode != 0 or probe.stdout.strip() not in ("python", "python3", sys.executable):
        run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"], env=env)


def run(command, cwd=None, env=None, check=True, timeout=300):
    proc = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, command))} exited {proc.returncode}\n"
                             f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-8000:]}")
    return proc


def nbgrader_command(verb, course_dir, env):
    started = time.monotonic()
    run([sys.executable, "-m", "nbgrader", verb, ASSIGNMENT], cwd=course_dir, env=env)
    return time.monotonic() - started


def code_lines(text):
    """The stripped lines of text that hold code (a letter or a digit; not bare brackets)."""
    return {line.strip() for line in text.splitlines() if re.search(r"[A-Za-z0-9]", line)}


def solution_lines():
    """{stripped line: where} for every line of every solution region of solution/, hints aside."""
    found = {}
    for name in CONTRACT_FILES:
        text = (SOLUTION / name).read_text()
        lines = text.splitlines()
        for region in find_regions(text, SOLUTION / name):
            body = lines[region.begin + region.todo_lines:region.end - 1]
            for line in code_lines("\n".join(body)):
                found.setdefault(line, f"{name}: {region.qualname}")
    return found


def hint_lines():
    lines = set()
    for name in CONTRACT_FILES:
        text = (SOLUTION / name).read_text()
        all_lines = text.splitlines()
        for region in find_regions(text, SOLUTION / name):
            lines |= {line.strip() for line in all_lines[region.begin:region.begin + region.todo_lines]}
    return lines


def hidden_only_lines(source_nb):
    """Lines of the hidden test regions that appear nowhere outside them (in any cell)."""
    hidden, elsewhere = set(), set()
    for cell in source_nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if line.strip() == course.HIDDEN_BEGIN:
                inside = True
            elif line.strip() == course.HIDDEN_END:
                inside = False
            elif inside:
                hidden |= code_lines(line)
            else:
                elsewhere |= code_lines(line)
    return hidden - elsewhere


def html_lines(path):
    """The stripped lines a reader of the feedback sees: the HTML without tags (syntax highlighting
    splits code into spans), entities decoded."""
    text = html.unescape(re.sub(r"<[^>]+>", "", Path(path).read_text(encoding="utf-8")))
    return {line.strip() for line in text.splitlines()}


def fill_in_answers(release_nb, source_nb):
    """The release with every answer cell holding the reference's code (as a student would write it)."""
    import nbformat
    answers = {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in source_nb.cells
               if cell.metadata.get("nbgrader", {}).get("solution")}
    filled = nbformat.from_dict(json.loads(json.dumps(release_nb)))
    for cell in filled.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = "\n".join(line for line in answers[meta["grade_id"]].splitlines()
                                    if line.strip() not in (BEGIN, END))
    return filled


# --- the pipeline, run once ---------------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Generate the course, then run generate_assignment, autograde (two students) and generate_feedback."""
    if NBGRADER is not None:
        pytest.skip(NBGRADER)
    import nbformat
    from nbgrader.api import Gradebook
    started = time.monotonic()
    home = tmp_path_factory.mktemp("nbgrader")
    course_dir = home / "course"
    env = jupyter_env(home)
    ensure_python3_kernel(env)
    out = run([sys.executable, "-m", "grader", "nbgrader", "--out", course_dir, "--assignment", ASSIGNMENT],
              cwd=ROOT, env=env)
    timings = {"generate": time.monotonic() - started}
    timings["generate_assignment"] = nbgrader_command("generate_assignment", course_dir, env)

    source_nb = nbformat.read(course_dir / "source" / ASSIGNMENT / course.NOTEBOOK, as_version=4)
    release_path = course_dir / "release" / ASSIGNMENT / course.NOTEBOOK
    release_nb = nbformat.read(release_path, as_version=4)
    for student, notebook in (("reference", fill_in_answers(release_nb, source_nb)), ("skeleton", release_nb)):
        target = course_dir / "submitted" / student / ASSIGNMENT / course.NOTEBOOK
        target.parent.mkdir(parents=True)
        nbformat.write(notebook, target)

    timings["autograde"] = nbgrader_command("autograde", course_dir, env)
    timings["generate_feedback"] = nbgrader_command("generate_feedback", course_dir, env)
    scores = {}
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", course_id=course.COURSE_ID) as gradebook:
        for student in STUDENTS:
            notebook = gradebook.find_submission_notebook(NOTEBOOK_ID, ASSIGNMENT, student)
            scores[student] = {grade.name: (grade.score, grade.max_score, grade.needs_manual_grade)
                               for grade in notebook.grades}
    timings["total"] = time.monotonic() - started
    print("nbgrader pipeline seconds:", {k: round(v, 1) for k, v in timings.items()})
    return {"course": course_dir, "stdout": out.stdout, "source": source_nb, "release": release_nb,
            "release_text": release_path.read_text(), "scores": scores, "timings": timings}


# --- with nbgrader ------------------------------------------------------------------------


@needs_nbgrader
def test_the_release_holds_no_solution_code_but_keeps_the_hints(pipeline):
    release_code = set()
    for cell in pipeline["release"].cells:
        if cell.cell_type == "code":
            release_code |= code_lines(cell.source)
    leaked = {line: where for line, where in solution_lines().items() if line in release_code}
    assert leaked == {}
    assert "BEGIN SOLUTION" not in pipeline["release_text"] and "END SOLUTION" not in pipeline["release_text"]
    assert hint_lines() <= release_code
    answers = [c for c in pipeline["release"].cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(answers) == 10 and all("raise NotImplementedError()" in c.source for c in answers)


@needs_nbgrader
def test_the_release_holds_no_hidden_tests(pipeline):
    hidden = hidden_only_lines(pipeline["source"])
    assert len(hidden) > 100                       # the check below has something to find
    release_code = set()
    for cell in pipeline["release"].cells:
        release_code |= code_lines(cell.source)
    assert hidden & release_code == set()
    assert "HIDDEN TESTS" not in pipeline["release_text"]


@needs_nbgrader
def test_autograde_gives_the_reference_full_marks(pipeline):
    scores = pipeline["scores"]["reference"]
    tests = {c.metadata["nbgrader"]["grade_id"] for c in pipeline["source"].cells
             if c.metadata.get("nbgrader", {}).get("grade")}
    assert set(scores) == tests and len(tests) == 32
    assert {name: score for name, score in scores.items() if score[0] != score[1] or score[2]} == {}


@needs_nbgrader
def test_autograde_gives_the_untouched_release_zero_in_every_test_cell(pipeline):
    scores = pipeline["scores"]["skeleton"]
    assert len(scores) == 32
    assert {name: score for name, score in scores.items() if score[0] != 0 or score[1] <= 0} == {}


@needs_nbgrader
def test_the_feedback_shows_no_hidden_test_code(pipeline):
    hidden = hidden_only_lines(pipeline["source"])
    visible_line = 'assert np.shape(out) == (2, 3), f"sigmoid(z) returned shape {np.shape(out)}; expected (2, 3)"'
    for student in STUDENTS:
        shown = html_lines(pipeline["course"] / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK_ID}.html")
        assert visible_line in shown                # the text extraction finds code that is there
        assert hidden & shown == set(), f"{student}'s feedback shows hidden test code"
        assert not any("HIDDEN TESTS" in line for line in shown)
    skeleton = html_lines(pipeline["course"] / "feedback" / "skeleton" / ASSIGNMENT / f"{NOTEBOOK_ID}.html")
    assert "NotImplementedError: a hidden test failed (its code is not shown)" in skeleton


# --- without nbgrader ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def cells():
    return course.build_cells(SOLUTION, load_rubric())


def test_the_notebook_holds_every_code_line_of_the_contract_files(cells):
    notebook = set()
    for cell in cells:
        notebook |= {line.strip().replace('"""', "") for line in cell.source.splitlines()}
    for name in CONTRACT_FILES:
        text = (SOLUTION / name).read_text()
        lines = [line.strip().replace('"""', "") for line in text.splitlines() if line.strip()]
        missing = [line for line in lines
                   if line and line not in notebook and not line.startswith("from functional import")]
        assert missing == [], name


def test_each_tests_cell_fails_when_only_its_own_item_is_not_written(cells):
    """Every test cell tests its item: with that one function or method replaced by a stub, it fails."""
    code = [cell for cell in cells if cell.kind in ("readonly", "answer")]
    tests = [cell for cell in cells if cell.kind in ("tests", "hidden_tests")]
    assert {cell.item for cell in tests} == set(course.notebook_tests())

    def not_written(*args, **kwargs):
        raise NotImplementedError("not written yet")

    for cell in tests:
        namespace = {}
        for definition in code:
            exec(compile(definition.source, definition.grade_id, "exec"), namespace)
        exec(compile(cell.source, cell.grade_id, "exec"), dict(namespace))      # passes on the reference
        owner, _, method = cell.qualname.rpartition(".")
        if owner:
            setattr(namespace[owner], method, not_written)
        else:
            namespace[method] = not_written
        with pytest.raises(NotImplementedError):
            exec(compile(cell.source, cell.grade_id, "exec"), namespace)


def test_points_come_from_the_rubric(cells):
    rubric = load_rubric()
    tests = [cell for cell in cells if cell.kind in ("tests", "hidden_tests")]
    for item in course.notebook_tests():
        total = sum(row.points for row in rubric.rows if row.item == item)
        assert sum(cell.points for cell in tests if cell.item == item) == total, item
        hidden = next(cell for cell in tests if cell.item == item and cell.kind == "hidden_tests")
        assert hidden.points >= 1


def test_the_source_notebook_marks_cells_as_nbgrader_expects(cells):
    pytest.importorskip("nbformat", reason="nbformat is not installed (it comes with nbgrader)")
    notebook = course.build_notebook(cells)
    kinds = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            assert cell.cell_type == "markdown"
            continue
        assert meta["schema_version"] == 3 and cell.id == meta["grade_id"]
        kinds.setdefault((meta["solution"], meta["grade"], meta["locked"]), []).append(cell)
    answers, tests, readonly = kinds.pop((True, False, False)), kinds.pop((False, True, True)), kinds.pop((False, False, True))
    assert kinds == {}
    assert all(BEGIN in c.source and END in c.source for c in answers)
    assert all(c.metadata["nbgrader"]["points"] > 0 for c in tests)
    hidden = [c for c in tests if course.HIDDEN_BEGIN in c.source]
    assert len(hidden) == len(tests) / 2 and all(course.HIDDEN_END in c.source for c in hidden)
    assert [c.metadata["nbgrader"]["grade_id"] for c in readonly] == ["imports"]
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def test_regenerating_writes_the_same_bytes_and_keeps_a_foreign_config(tmp_path):
    pytest.importorskip("nbformat", reason="nbformat is not installed (it comes with nbgrader)")
    rubric = load_rubric()
    course.write_course(tmp_path / "a", ASSIGNMENT, rubric)
    course.write_course(tmp_path / "b", ASSIGNMENT, rubric)
    notebook = Path("source") / ASSIGNMENT / course.NOTEBOOK
    assert (tmp_path / "a" / notebook).read_bytes() == (tmp_path / "b" / notebook).read_bytes()
    assert (tmp_path / "a" / "nbgrader_config.py").read_text() == course.config_text()

    (tmp_path / "a" / "nbgrader_config.py").write_text("c = get_config()\n")
    done = course.write_course(tmp_path / "a", ASSIGNMENT, rubric)
    assert (tmp_path / "a" / "nbgrader_config.py").read_text() == "c = get_config()\n"
    assert any(line.startswith("kept ") for line in done)
    shutil.rmtree(tmp_path / "a")


def test_every_mutant_fails_a_tests_cell_of_each_notebook_item_it_breaks(cells, tmp_path):
    """The notebook's tests have teeth: the realistic bugs of tests/mutants.py, run in this process
    against the tests cells (no kernel). Mutants that only break the accuracy or a policy rule are
    out of the notebook's reach."""
    import gradertools as gt
    from mutants import MUTANTS

    tests = [cell for cell in cells if cell.kind in ("tests", "hidden_tests")]
    escaped, checked = {}, 0
    for mutant in MUTANTS:
        items = [item for item in mutant.breaks if item in course.notebook_tests()]
        if not items:
            continue
        imports, body = course.contract_cells(gt.write_mutant(mutant, tmp_path / mutant.id))
        namespace = {}
        for cell in [imports] + [cell for cell in body if cell.kind in ("readonly", "answer")]:
            exec(compile(cell.source, cell.grade_id, "exec"), namespace)
        failed = set()
        for cell in tests:
            if cell.item in items:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        exec(compile(cell.source, cell.grade_id, "exec"), dict(namespace))
                except Exception:
                    failed.add(cell.item)
        if set(items) - failed:
            escaped[mutant.id] = sorted(set(items) - failed)
        checked += 1
    assert escaped == {}
    assert checked >= 50


def test_without_nbgrader_the_command_says_how_to_install_it(monkeypatch, capsys, tmp_path):
    """Exit 2, nothing written, and the install command (the README's, which names it before the command)."""
    from grader.cli import main
    for name in ("nbgrader", "nbformat"):
        monkeypatch.setitem(sys.modules, name, None)          # import fails, as when not installed
    assert main(["nbgrader", "--out", str(tmp_path / "course")]) == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith("error: The nbgrader command needs nbgrader and nbformat") and "Traceback" not in stderr
    assert f"{sys.executable} -m pip install {course.NBGRADER_PACKAGES}" in stderr
    assert not (tmp_path / "course").exists()
    readme = (ROOT / "README.md").read_text()
    assert readme.index(f"pip install {course.NBGRADER_PACKAGES}") < readme.index("mnist-grader nbgrader --out")
