"""grader/course/generate.py: assignment/ is up to date; stubs raise; nothing leaks; bad markers are refused."""
import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) without the kit installed
    sys.path.insert(0, str(ROOT))

from grader.course.generate import (  # noqa: E402
    HEADER_PREFIX,
    GenerateError,
    find_regions,
    generate_assignment,
    has_markers,
    main,
)

SOLUTION = ROOT / "solution"
ASSIGNMENT = ROOT / "assignment"
CONTRACT_FILES = ("functional.py", "mlp.py", "cnn.py")


def marker_files():
    return [path for path in sorted(SOLUTION.glob("*.py")) if has_markers(path.read_text(), path)]


def generated_files():
    return sorted(path for path in ASSIGNMENT.glob("*.py"))


def docstrings(source):
    """{qualified name: docstring} for the module, every class and every function."""
    tree = ast.parse(source)
    found = {"<module>": ast.get_docstring(tree)}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found[prefix + child.name] = ast.get_docstring(child)
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def run_in_assignment(script, payload):
    """Run script in a fresh interpreter with cwd=assignment/ (flat imports, as students run it)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(payload)],
        cwd=ASSIGNMENT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


# --- the real assignment/ -----------------------------------------------------------------


def test_assignment_is_up_to_date_with_solution():
    """Does assignment/ hold exactly what solution/ generates today?"""
    drift = generate_assignment(SOLUTION, ASSIGNMENT, check=True)
    assert not drift, (
        "assignment/ is out of date; run `mnist-grader release`:\n"
        + "\n".join(f"  {change}" for change in drift)
    )


def test_contract_files_have_regions_and_are_generated():
    assert {path.name for path in marker_files()} == set(CONTRACT_FILES)
    for name in CONTRACT_FILES:
        assert (ASSIGNMENT / name).is_file()


@pytest.mark.parametrize("path", generated_files(), ids=lambda p: p.name)
def test_generated_file_parses_and_says_it_is_generated(path):
    text = path.read_text()
    ast.parse(text, filename=str(path))
    first = text.splitlines()[0]
    assert first.startswith(HEADER_PREFIX)
    second = text.splitlines()[1]
    assert '"mnist-grader release"' in first
    assert "do not edit" in first or (second.startswith("# Students: write your code where it says TODO.")
                                      and "Course staff: edit solution/" in second)


def test_generated_modules_import_with_flat_imports():
    script = textwrap.dedent("""
        import importlib, json, sys
        names = json.loads(sys.argv[1])
        for name in names:
            importlib.import_module(name)
        print(json.dumps(sorted(m for m in names if m in sys.modules)))
    """)
    names = [path.stem for path in generated_files()]
    assert run_in_assignment(script, names) == sorted(names)


def test_every_todo_function_raises_not_implemented_naming_itself():
    """Does each stub fail loudly with its own name (constructors included)?"""
    todos = [
        (path.stem, region.qualname)
        for path in marker_files()
        for region in find_regions(path.read_text(), path)
    ]
    assert ("mlp", "MLP.__init__") in todos and ("cnn", "conv2d_backward") in todos
    script = textwrap.dedent("""
        import importlib, inspect, json, sys
        results = []
        for module_name, qualname in json.loads(sys.argv[1]):
            module = importlib.import_module(module_name)
            *owners, name = qualname.split(".")
            target = module
            for owner in owners:
                target = getattr(target, owner)
            if owners and name == "__init__":
                function, call = target, target           # MLP() itself must raise
            elif owners:
                function = getattr(target, name)
                call = getattr(target.__new__(target), name)
            else:
                function = call = getattr(target, name)
            required = [
                p for p in inspect.signature(call).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
            try:
                call(*[None] * len(required))
            except BaseException as error:
                results.append([qualname, type(error).__name__, str(error)])
            else:
                results.append([qualname, "returned", ""])
        print(json.dumps(results))
    """)
    results = run_in_assignment(script, todos)
    assert results == [[qualname, "NotImplementedError", f"{qualname}: not written yet"]
                       for _, qualname in todos]


@pytest.mark.parametrize("path", marker_files(), ids=lambda p: p.name)
def test_no_solution_line_leaks(path):
    """Does any line from inside a region (other than its TODO hint) reach assignment/?"""
    lines = path.read_text().splitlines()
    regions = find_regions("\n".join(lines) + "\n", path)
    inside, kept = set(), set()
    for region in regions:
        kept.update(range(region.begin + 1, region.begin + 1 + region.todo_lines))
        inside.update(range(region.begin, region.end + 1))
    outside = {lines[i - 1].strip() for i in range(1, len(lines) + 1) if i not in inside}
    secret = {
        lines[i - 1].strip() for i in inside - kept
        if lines[i - 1].strip() and lines[i - 1].strip() not in outside
    }
    generated = {line.strip() for line in (ASSIGNMENT / path.name).read_text().splitlines()}
    assert not secret & generated
    assert "### BEGIN SOLUTION" not in generated and "### END SOLUTION" not in generated
    for i in kept:
        assert lines[i - 1].strip().startswith("#")
        assert lines[i - 1].strip() in generated


@pytest.mark.parametrize("path", sorted(SOLUTION.glob("*.py")), ids=lambda p: p.name)
def test_generated_docstrings_equal_the_solution_docstrings(path):
    want = docstrings(path.read_text())
    got = docstrings((ASSIGNMENT / path.name).read_text())
    assert got == want


def test_provided_files_are_copied_verbatim_below_the_header():
    for path in sorted(SOLUTION.glob("*.py")):
        if path.name in CONTRACT_FILES:
            continue
        text = (ASSIGNMENT / path.name).read_text()
        assert text.split("\n", 1)[1] == path.read_text()
    fetch = ROOT / "data_scripts" / "fetch_mnist.py"
    if fetch.is_file():
        text = (ASSIGNMENT / "fetch_mnist.py").read_text()
        assert text.split("\n", 1)[1] == fetch.read_text()
        assert "data_scripts/fetch_mnist.py" in text.split("\n", 1)[0]


# --- small solution dirs ------------------------------------------------------------------

GOOD = '''\
"""A tiny contract file."""
import math


def area(r):
    """Area of a circle of radius r."""
    ### BEGIN SOLUTION
    # TODO: pi r squared.
    #   (math.pi is there)
    return math.pi * r * r
    ### END SOLUTION


class Box:
    """A box."""

    def __init__(self, side):
        """Remember side."""
        ### BEGIN SOLUTION
        # TODO: store it.
        self.side = side
        ### END SOLUTION

    def volume(self):
        """side cubed."""
        if self.side < 0:
            raise ValueError("negative side")
        ### BEGIN SOLUTION
        # TODO: cube it.
        return self.side ** 3
        ### END SOLUTION
'''


def make_solution(tmp_path, files):
    solution = tmp_path / "solution"
    solution.mkdir()
    for name, text in files.items():
        (solution / name).write_text(textwrap.dedent(text) if text.startswith("\n") else text)
    return solution


def test_regions_become_todo_and_raise(tmp_path):
    solution = make_solution(tmp_path, {"geometry.py": GOOD, "helpers.py": '"""Provided."""\nX = 1\n'})
    out = tmp_path / "assignment"
    changes = generate_assignment(solution, out)
    assert sorted((c.path.name, c.kind) for c in changes) == [("geometry.py", "created"), ("helpers.py", "created")]
    text = (out / "geometry.py").read_text()
    assert text.splitlines()[:2] == [
        '# GENERATED from solution/geometry.py by "mnist-grader release".',
        "# Students: write your code where it says TODO. Course staff: edit solution/geometry.py and regenerate.",
    ]
    assert '    # TODO: pi r squared.\n    #   (math.pi is there)\n    raise NotImplementedError("area: not written yet")\n' in text
    assert '        # TODO: store it.\n        raise NotImplementedError("Box.__init__: not written yet")\n' in text
    assert 'raise ValueError("negative side")\n        # TODO: cube it.\n' in text
    assert 'raise NotImplementedError("Box.volume: not written yet")' in text
    assert "math.pi * r * r" not in text and "self.side = side" not in text
    assert (out / "helpers.py").read_text().split("\n", 1)[1] == '"""Provided."""\nX = 1\n'
    assert generate_assignment(solution, out) == []
    assert generate_assignment(solution, out, check=True) == []


def test_check_reports_drift_and_writes_nothing(tmp_path):
    solution = make_solution(tmp_path, {"geometry.py": GOOD, "helpers.py": "X = 1\n"})
    out = tmp_path / "assignment"
    assert [c.kind for c in generate_assignment(solution, out, check=True)] == ["missing", "missing"]
    assert not out.exists()
    generate_assignment(solution, out)
    (out / "geometry.py").write_text((out / "geometry.py").read_text() + "# edited by hand\n")
    (solution / "helpers.py").unlink()
    drift = generate_assignment(solution, out, check=True)
    assert [(c.path.name, c.kind) for c in drift] == [("geometry.py", "differs"), ("helpers.py", "stale")]
    assert "geometry.py differs from what solution/geometry.py generates" in str(drift[0])
    assert (out / "helpers.py").exists() and os.fspath(drift[1]) == str(out / "helpers.py")


def test_stale_generated_files_are_deleted_readme_and_strangers_kept(tmp_path):
    solution = make_solution(tmp_path, {"geometry.py": GOOD, "old.py": "X = 1\n"})
    out = tmp_path / "assignment"
    generate_assignment(solution, out)
    (out / "README.md").write_text("# hand-written\n")
    (out / "notes.py").write_text("# a student's own file\n")
    (solution / "old.py").unlink()
    changes = generate_assignment(solution, out)
    assert [(c.path.name, c.kind) for c in changes] == [("old.py", "deleted")]
    assert not (out / "old.py").exists()
    assert (out / "README.md").read_text() == "# hand-written\n"
    assert (out / "notes.py").exists()


def test_fetch_script_is_copied_from_data_scripts(tmp_path):
    solution = make_solution(tmp_path, {"geometry.py": GOOD})
    (tmp_path / "data_scripts").mkdir()
    (tmp_path / "data_scripts" / "fetch_mnist.py").write_text('"""Fetch."""\nprint("hi")\n')
    out = tmp_path / "assignment"
    generate_assignment(solution, out)
    text = (out / "fetch_mnist.py").read_text()
    assert text.startswith("# GENERATED from data_scripts/fetch_mnist.py by")
    assert text.split("\n", 1)[1] == '"""Fetch."""\nprint("hi")\n'


def test_contract_file_without_markers_is_refused(tmp_path):
    solution = make_solution(tmp_path, {"mlp.py": '"""No markers."""\ndef f():\n    """Doc."""\n    return 1\n'})
    with pytest.raises(GenerateError, match=r"mlp\.py:1: a contract file without"):
        generate_assignment(solution, tmp_path / "assignment")


BAD = {
    "nested": ('''
        def f():
            """Doc."""
            ### BEGIN SOLUTION
            # TODO: x.
            ### BEGIN SOLUTION
            return 1
            ### END SOLUTION
        ''', 6, "nested"),
    "unclosed": ('''
        def f():
            """Doc."""
            ### BEGIN SOLUTION
            # TODO: x.
            return 1
        ''', 4, "never closed"),
    "end_without_begin": ('''
        def f():
            """Doc."""
            return 1
            ### END SOLUTION
        ''', 5, "without a ### BEGIN SOLUTION"),
    "module_level": ('''
        ### BEGIN SOLUTION
        # TODO: x.
        X = 1
        ### END SOLUTION
        ''', 2, "outside a function body"),
    "class_body": ('''
        class A:
            """Doc."""
            ### BEGIN SOLUTION
            # TODO: x.
            X = 1
            ### END SOLUTION
        ''', 4, "outside a function body"),
    "after_function": ('''
        def f():
            """Doc."""
            return 1
        ### BEGIN SOLUTION
        # TODO: x.
        ### END SOLUTION
        ''', 5, "outside a function body"),
    "spans_two_functions": ('''
        def f():
            """Doc."""
            ### BEGIN SOLUTION
            # TODO: x.
            return 1


        def g():
            """Doc."""
            ### END SOLUTION
        ''', 11, "ends outside it"),
    "no_docstring": ('''
        def f():
            ### BEGIN SOLUTION
            # TODO: x.
            return 1
            ### END SOLUTION
        ''', 3, "f has a region but no docstring"),
    "method_no_docstring": ('''
        class A:
            """Doc."""

            def m(self):
                ### BEGIN SOLUTION
                # TODO: x.
                return 1
                ### END SOLUTION
        ''', 6, "A.m has a region but no docstring"),
    "before_docstring": ('''
        def f():
            ### BEGIN SOLUTION
            """Doc."""
            # TODO: x.
            return 1
            ### END SOLUTION
        ''', 3, "before the end of f's docstring"),
    "malformed_marker": ('''
        def f():
            """Doc."""
            ## BEGIN SOLUTION
            # TODO: x.
            return 1
            ### END SOLUTION
        ''', 4, "malformed marker"),
    "marker_after_code": ('''
        def f():
            """Doc."""
            x = 1  ### BEGIN SOLUTION
            return x
            ### END SOLUTION
        ''', 4, "malformed marker"),
    "no_todo": ('''
        def f():
            """Doc."""
            ### BEGIN SOLUTION
            return 1
            ### END SOLUTION
        ''', 5, "does not start with a '# TODO:"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_markers_are_refused_with_file_and_line(tmp_path, case):
    source, line, what = BAD[case]
    solution = make_solution(tmp_path, {"bad.py": source, "fine.py": GOOD})
    out = tmp_path / "assignment"
    with pytest.raises(GenerateError) as caught:
        generate_assignment(solution, out)
    assert f"bad.py:{line}:" in str(caught.value)
    assert what in str(caught.value)
    assert not out.exists()  # nothing is written when any file is refused


def test_markers_inside_strings_are_not_markers(tmp_path):
    source = 'def f():\n    """Doc mentioning\n    ### BEGIN SOLUTION\n    """\n    return "### END SOLUTION"\n'
    solution = make_solution(tmp_path, {"provided.py": source})
    generate_assignment(solution, tmp_path / "assignment")
    assert (tmp_path / "assignment" / "provided.py").read_text().split("\n", 1)[1] == source


# --- command line -------------------------------------------------------------------------


def test_main_release_then_check(tmp_path, capsys):
    solution = make_solution(tmp_path, {"geometry.py": GOOD})
    out = tmp_path / "assignment"
    args = ["--solution", str(solution), "--out", str(out)]
    assert main(["release", "--check", *args]) == 1
    err = capsys.readouterr().err
    assert "geometry.py is missing" in err and "mnist-grader release" in err
    assert main(["release", *args]) == 0
    assert "geometry.py" in capsys.readouterr().out
    assert main(["--check", *args]) == 0


def test_main_reports_bad_markers_with_exit_2(tmp_path, capsys):
    solution = make_solution(tmp_path, {"bad.py": BAD["unclosed"][0]})
    assert main(["release", "--solution", str(solution), "--out", str(tmp_path / "a")]) == 2
    assert "bad.py:4:" in capsys.readouterr().err


# --- the README's generated regions ----------------------------------------------------------

README_REGIONS = ("files", "contract functional.py", "contract mlp.py", "contract cnn.py", "allowed imports",
                  "training", "points")


def readme_text():
    return (ASSIGNMENT / "README.md").read_text()


def copy_kit(tmp_path):
    """solution/ and assignment/ side by side in tmp_path (data_scripts/ too, for fetch_mnist.py)."""
    import shutil
    for name in ("solution", "assignment", "data_scripts"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "solution", tmp_path / "assignment"


def test_the_readme_has_every_generated_region():
    text = readme_text()
    for name in README_REGIONS:
        assert text.count(f"<!-- BEGIN GENERATED: {name} -->") == 1, name
    assert text.count("<!-- END GENERATED -->") == len(README_REGIONS)


def test_a_hand_edit_inside_a_readme_region_is_drift(tmp_path):
    solution, assignment = copy_kit(tmp_path)
    readme = assignment / "README.md"
    readme.write_text(readme.read_text().replace("| `functional.relu` | 5 | 5 | - |", "| `functional.relu` | 9 | 9 | - |"))
    drift = generate_assignment(solution, assignment, check=True)
    assert [(c.path.name, c.kind) for c in drift] == [("README.md", "differs")]
    generate_assignment(solution, assignment)
    assert readme.read_text() == readme_text()


def test_a_docstring_change_reaches_the_readme(tmp_path):
    solution, assignment = copy_kit(tmp_path)
    path = solution / "functional.py"
    path.write_text(path.read_text().replace("Apply the logistic sigmoid elementwise.", "Squash z into (0, 1)."))
    assert {c.path.name for c in generate_assignment(solution, assignment, check=True)} == {"functional.py", "README.md"}
    generate_assignment(solution, assignment)
    assert "Squash z into (0, 1)." in (assignment / "README.md").read_text()


def test_the_rubric_and_the_training_settings_reach_the_readme(tmp_path, monkeypatch):
    import grader.rubric
    import grader.training
    solution, assignment = copy_kit(tmp_path)
    rubric = tmp_path / "rubric.toml"
    rubric.write_text(grader.rubric.DEFAULT.read_text().replace("threshold = 0.940", "threshold = 0.951")
                      .replace('"warnings", "time"]', '"warnings", "time", "statistics"]'))
    monkeypatch.setattr(grader.rubric, "DEFAULT", rubric)
    monkeypatch.setitem(grader.training.SETTINGS, "mlp", {**grader.training.SETTINGS["mlp"], "epochs": 12})
    assert [c.path.name for c in generate_assignment(solution, assignment, check=True)] == ["README.md"]
    generate_assignment(solution, assignment)
    text = (assignment / "README.md").read_text()
    assert "python train.py --model mlp      # 12 epochs, lr 0.1, batch 128; the bar: 95.1% test accuracy" in text
    assert "`statistics`" in text and "15 of them" in text


def test_the_readme_says_what_the_skeleton_and_the_rubric_say():
    """The contradictions a student found (issue 11): each now has one source."""
    from grader.rubric import load_rubric
    from grader.training import BATCH_SIZE, SETTINGS
    text = readme_text()
    rubric = load_rubric()
    # sigmoid: the skeleton's np.tanh, not a piecewise formula that np.where would overflow
    assert "for `z >= 0` use" not in text and "# TODO: one line with np.tanh" in text
    # the initial draws are compared
    assert "not compared" not in text and "the exact draws" in text
    # every allowed module of the rubric, and no other list
    modules = sorted(rubric.allowed_imports - {"numpy"})
    assert f" {len(modules)} of them)" in text and all(f"`{m}`" in text for m in modules)
    # the bars, the points and the settings
    for model, settings in SETTINGS.items():
        assert (f"python train.py --model {model}      # {settings['epochs']} epochs, lr {settings['lr']}, "
                f"batch {BATCH_SIZE}; the bar: {100 * rubric.accuracy[model]['threshold']:.1f}%") in text
    total = sum(row.points for row in rubric.rows)
    public = sum(row.points for row in rubric.rows if row.visibility == "visible")
    assert f"`--public` checks {public:g} of the {total:g} points." in text
    # the convolution: the docstring's hint and the TODO's, together
    for path in marker_files():
        source = path.read_text()
        for region in find_regions(source, path):
            hint = " ".join(line.strip().lstrip("#").strip()
                            for line in source.splitlines()[region.begin:region.begin + region.todo_lines])
            assert f"`# {hint}`" in text, region.qualname
        for qualname, docstring in docstrings(source).items():
            if qualname != "<module>" and docstring:
                assert docstring in text, qualname


def test_no_solution_line_reaches_the_readme():
    readme = {line.strip() for line in readme_text().splitlines()}
    for path in marker_files():
        lines = path.read_text().splitlines()
        for region in find_regions(path.read_text(), path):
            code = [line.strip() for line in lines[region.begin + region.todo_lines:region.end - 1]
                    if line.strip() and not line.strip().startswith("#")]
            assert not [line for line in code if line in readme and len(line) > 12], region.qualname


def test_bad_readme_regions_are_refused_with_the_line(tmp_path):
    solution, assignment = copy_kit(tmp_path)
    readme = assignment / "README.md"
    readme.write_text("# x\n\n<!-- BEGIN GENERATED: contract nothing.py -->\n<!-- END GENERATED -->\n")
    with pytest.raises(GenerateError, match=r"README.md:3: no generated section is called 'contract nothing.py'"):
        generate_assignment(solution, assignment, check=True)
    readme.write_text("# x\n<!-- BEGIN GENERATED: points -->\nold\n")
    with pytest.raises(GenerateError, match=r"README.md:2: the region 'points' is never closed"):
        generate_assignment(solution, assignment)
