"""Reading the submission's source without running it: imports (the torch ban), dynamic import
machinery, which contract functions mlp.py and cnn.py take from functional.py, loops in the
convolution, and whether anything has been written yet."""
import ast
import re
from dataclasses import dataclass, field

from grader.contract import FUNCTIONAL, MODULES
from grader.sandbox.child import BANNED

CONTRACT_FUNCTIONS = set(FUNCTIONAL)
SUBMISSION_MODULES = set(MODULES)
DYNAMIC = {"__import__": "__import__()", "import_module": "importlib.import_module()", "importlib": "importlib",
           "modules": "sys.modules", "meta_path": "sys.meta_path", "exec": "exec()", "eval": "eval()",
           "compile": "compile()", "__builtins__": "__builtins__", "builtins": "builtins", "__loader__": "__loader__",
           "globals": "globals()", "ctypes": "ctypes", "subprocess": "subprocess", "system": "os.system"}
# Names that are import machinery only as attributes of these modules: self.modules, model.eval(),
# re.compile or a student's own .system are fine (the runtime guard in sandbox/child.py catches the rest).
AMBIGUOUS_ATTRIBUTES = {"modules", "exec", "eval", "compile", "globals", "builtins", "system"}
MACHINERY_MODULES = {"sys", "os", "builtins", "importlib", "ctypes", "subprocess"}
# Frames and interpreter hooks: the way from student code up into the grader's own code in the child
# (child.py's locals, its warnings and its tripwire). Correct code never needs them.
INTROSPECTION = {"tb_frame", "tb_next", "f_back", "f_globals", "f_locals", "f_builtins", "f_trace", "gi_frame",
                 "cr_frame", "ag_frame", "__subclasses__", "__globals__", "settrace", "setprofile", "_getframe",
                 "__traceback__"}
MODULE_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


@dataclass
class Finding:
    file: str
    line: int
    text: str

    def __str__(self):
        return f"{self.file}:{self.line}: {self.text}"


@dataclass
class SourceScan:
    parse_errors: dict = field(default_factory=dict)         # file -> message
    banned: list = field(default_factory=list)               # Finding
    dynamic: list = field(default_factory=list)              # Finding
    introspection: list = field(default_factory=list)        # Finding
    not_allowed: list = field(default_factory=list)          # Finding
    functional_uses: dict = field(default_factory=dict)      # file -> set of names taken from functional
    written: set = field(default_factory=set)                # functions whose body is more than a stub
    loops: dict = field(default_factory=dict)                # function -> deepest for/while nesting


def scan(sources, allowed):
    """sources: {"functional.py": text or None}; allowed: top-level module names allowed."""
    result = SourceScan()
    for name, text in sources.items():
        if text is None:
            continue
        try:
            tree = ast.parse(text, filename=name)
        except SyntaxError as exc:
            result.parse_errors[name] = f"line {exc.lineno}: {exc.msg}"
            continue
        scan_tree(name, tree, text, allowed, result)
    return result


def module_names(value):
    """The string constants that are handed to something (a call or a subscript: __import__("torch"),
    sys.modules["torch"]) and look like a module path; docstrings and messages are not."""
    for node in ast.walk(value):
        if isinstance(node, ast.Call):
            candidates = list(node.args) + [k.value for k in node.keywords]
        elif isinstance(node, ast.Subscript):
            candidates = [node.slice]
        else:
            continue
        for arg in candidates:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and MODULE_PATH.fullmatch(arg.value):
                yield arg


def scan_tree(name, tree, text, allowed, result):
    lines = text.splitlines()
    module_aliases = set()
    machinery = set(MACHINERY_MODULES)           # names bound to sys, os, ... in this file
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            machinery.update(a.asname or a.name.split(".")[0] for a in node.names
                             if a.name.split(".")[0] in MACHINERY_MODULES)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in MACHINERY_MODULES:
            machinery.update(a.asname or a.name for a in node.names)
    handed = {id(node) for node in module_names(tree)}
    uses = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                top = module.split(".")[0]
                finding = Finding(name, node.lineno, lines[node.lineno - 1].strip())
                if top in BANNED:
                    result.banned.append(finding)
                elif top in ("importlib", "builtins", "ctypes", "subprocess"):
                    result.dynamic.append(finding)
                elif top not in allowed and top not in SUBMISSION_MODULES:
                    result.not_allowed.append(finding)
            if isinstance(node, ast.ImportFrom) and node.module == "functional":
                uses.update(a.name for a in node.names)
            if isinstance(node, ast.Import):
                module_aliases.update(a.asname or a.name for a in node.names if a.name == "functional")
        elif isinstance(node, ast.Name) and node.id in DYNAMIC and node.id not in ("modules", "system"):
            result.dynamic.append(Finding(name, node.lineno, lines[node.lineno - 1].strip()))
        elif isinstance(node, ast.Attribute) and node.attr in INTROSPECTION:
            result.introspection.append(Finding(name, node.lineno, lines[node.lineno - 1].strip()))
        elif isinstance(node, ast.Attribute) and node.attr in DYNAMIC and (
                node.attr not in AMBIGUOUS_ATTRIBUTES
                or (isinstance(node.value, ast.Name) and node.value.id in machinery)):
            result.dynamic.append(Finding(name, node.lineno, lines[node.lineno - 1].strip()))
        elif id(node) in handed and node.value.split(".")[0] in BANNED:
            result.banned.append(Finding(name, node.lineno, lines[node.lineno - 1].strip()))
        elif id(node) in handed and node.value in INTROSPECTION:
            result.introspection.append(Finding(name, node.lineno, lines[node.lineno - 1].strip()))
        elif id(node) in handed and node.value in DYNAMIC and node.value not in AMBIGUOUS_ATTRIBUTES:
            result.dynamic.append(Finding(name, node.lineno, lines[node.lineno - 1].strip()))   # getattr(np, "__builtins__")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in module_aliases:
            uses.add(node.attr)
    if name != "functional.py":
        result.functional_uses[name] = uses
    for function, qualname in functions(tree):
        if not is_stub(function):
            result.written.add(f"{name[:-3]}.{qualname}")
        result.loops[f"{name[:-3]}.{qualname}"] = loop_depth(function)


def functions(tree, prefix=""):
    for node in tree.body if hasattr(tree, "body") else []:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node, prefix + node.name
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, prefix + node.name + ".")


def is_stub(function):
    body = [s for s in function.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return not body or all(isinstance(s, ast.Pass) for s in body)
    exc = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def loop_depth(node, depth=0):
    deepest = depth
    for child in ast.iter_child_nodes(node):
        inner = depth + 1 if isinstance(child, (ast.For, ast.While, ast.comprehension)) else depth
        deepest = max(deepest, loop_depth(child, inner))
    return deepest


def substitutable(scan_result):
    """True when mlp.py and cnn.py take only contract functions from functional.py."""
    return all(uses <= CONTRACT_FUNCTIONS for uses in scan_result.functional_uses.values())
