"""The trust boundary is a package you can see: grader/sandbox/. Its rules, enforced:
- the child (the only grader code in the student's process) imports the standard library and numpy
  and nothing else (import-linter forbids the rest of the grader and third-party packages; "only"
  is checked here on child.py's own imports);
- output writers (grader/formats/, grader/feedback.py) lay out a finished report and never reach
  the sandbox, the checks or the pipeline (import-linter, indirect imports included);
- only the sandbox package and the pipeline (grader/grade.py) import process.py, which starts
  children: everything else talks to student code through a Session;
- solution/ (not a package, so out of import-linter's reach) never imports the grader.
The contracts live in pyproject.toml, [tool.importlinter]."""
import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CHILD = ROOT / "grader" / "sandbox" / "child.py"
KIT_PACKAGES = {"grader", "data_scripts", "solution", "tests"}


def lint_imports(root):
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: install the test extra (bash scripts/setup.sh --torch)")
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300)


def imported_modules(path):
    """Every module a file imports, at any depth (function-level imports too): (line, name)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, "." * node.level + (node.module or "")


def test_the_import_contracts_are_kept():
    from grader.rubric import tomllib
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    proc = lint_imports(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Contracts: {len(contracts)} kept, 0 broken." in proc.stdout, proc.stdout


@pytest.mark.parametrize("module, line, contract", [
    ("grader/sandbox/child.py", "from grader.sandbox import process  # noqa", "The child"),
    ("grader/sandbox/child.py", "import tqdm  # noqa", "The child"),
    ("grader/formats/table.py", "from grader.checks import rules  # noqa", "Output writers"),
    ("grader/checks/rules.py", "from grader.sandbox.process import ChildProcess  # noqa", "Only the sandbox"),
])
def test_a_violating_import_breaks_a_contract(tmp_path, module, line, contract):
    """The same contracts on a copy of the kit with one forbidden import added: lint-imports fails."""
    for name in ("grader", "data_scripts"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}\n")
    proc = lint_imports(tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    broken = [block for block in proc.stdout.split("\n\n") if "BROKEN" in block]
    assert len(broken) == 1 and contract in broken[0], proc.stdout


def test_the_child_imports_only_the_standard_library_and_numpy():
    stdlib = set(sys.stdlib_module_names)
    imports = list(imported_modules(CHILD))
    assert imports, "child.py imports nothing?"
    others = [(line, name) for line, name in imports if name.split(".")[0] not in stdlib | {"numpy"}]
    assert not others, f"child.py imports more than the standard library and numpy: {others}"


def test_solution_never_imports_the_grader():
    for path in sorted((ROOT / "solution").glob("*.py")):
        kit = [(line, name) for line, name in imported_modules(path) if name.split(".")[0] in KIT_PACKAGES]
        assert not kit, f"{path.name} imports the kit: {kit}"
