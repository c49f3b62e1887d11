"""The reference solution, imported in the grader's process only (never in a child).

Loaded by file path under the contract's module names, so a submission that happens to sit in
the current directory can never be imported here instead.
"""
import importlib.util
import marshal
import sys
from pathlib import Path

SOLUTION_DIR = Path(__file__).resolve().parent.parent / "solution"


def _load(name):
    module = sys.modules.get(name)
    if module is not None and Path(getattr(module, "__file__", "")).resolve().parent == SOLUTION_DIR:
        return module
    spec = importlib.util.spec_from_file_location(name, SOLUTION_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


functional = _load("functional")
mlp = _load("mlp")
cnn = _load("cnn")


def functional_code():
    """The reference functional.py compiled (no source text), for a child whose own is broken."""
    source = (SOLUTION_DIR / "functional.py").read_text()
    return marshal.dumps(compile(source, "functional.py", "exec"))


def load_data_module():
    """solution/data.py, the provided MNIST reader (trusted code)."""
    return _load("data")
