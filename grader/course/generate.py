"""solution/ -> assignment/: strip the reference out of the contract files, copy the rest.

    mnist-grader release            write assignment/ from solution/
    mnist-grader release --check    write nothing; exit 1 if assignment/ has drifted

A contract file holds the reference with every student-written body between nbgrader's
markers, each region opening with a `# TODO: <hint>` comment:

    def relu(z):
        \"\"\"Apply the rectified linear unit elementwise: relu(z) = max(z, 0). ...\"\"\"
        ### BEGIN SOLUTION
        # TODO: one call to np.maximum.
        return np.maximum(z, 0)
        ### END SOLUTION

In assignment/ the region becomes its TODO comment(s) and one line that fails loudly:

        # TODO: one call to np.maximum.
        raise NotImplementedError("relu: not written yet")

Files without markers (data.py, train.py, blas_threads.py) and data_scripts/fetch_mnist.py are
copied as they are. Every generated file starts with a header comment naming its source.
assignment/README.md is hand-written except its GENERATED regions, which are filled from the
same sources as the skeleton and the grader (the solution's docstrings, grader/rubric.toml,
grader/training.py; see grader/course/readme.py), so the README cannot contradict them; a generated
file whose source is gone is deleted.
"""
import argparse
import ast
import io
import re
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

from grader.contract import FILES as CONTRACT_FILES   # must contain regions: else they would hand out the reference
from grader.course.readme import ReadmeError, fill_regions, has_regions, sections
from grader.errors import GraderError
from grader.formats import write_atomically

KIT_ROOT = Path(__file__).resolve().parents[2]
BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
TODO = "# TODO:"
# Copied into the assignment so that students can fetch the data from their own folder.
EXTRA_FILES = (("data_scripts/fetch_mnist.py", "fetch_mnist.py"),)
HAND_WRITTEN = ("README.md",)
README = "README.md"             # hand-written around regions filled here (grader/course/readme.py)
README_SOURCES = "solution/, grader/rubric.toml and grader/training.py"
HEADER_PREFIX = "# GENERATED from "
HEADER = HEADER_PREFIX + '{source} by "mnist-grader release" -- do not edit; edit {source} and regenerate.\n'
# The files students write in: the note is for course staff, and says so.
TODO_HEADER = (HEADER_PREFIX + '{source} by "mnist-grader release".\n'
               "# Students: write your code where it says TODO. Course staff: edit {source} and regenerate.\n")
FIX_COMMAND = "mnist-grader release"
DESCRIPTION = "Generate assignment/ (the student starter files) from solution/."
# Anything that looks like a marker but is not exactly one is refused rather than left in place.
_LOOKS_LIKE_MARKER = re.compile(r"^#+\s*(BEGIN|END)[\s_]+SOLUTION\b", re.IGNORECASE)
_HEADER_SOURCE = re.compile(r"^# GENERATED from (\S+) by ")


class GenerateError(GraderError):
    """solution/ cannot be turned into an assignment; str() says where (file:line) and why."""


@dataclass(frozen=True)
class Change:
    """One file of the assignment that was (or, with check=True, would be) written or deleted.

    kind is "created", "updated" or "deleted" after a release; "missing", "differs" or
    "stale" after a check. A Change is path-like: os.fspath(change) is the assignment file.
    """

    path: Path
    kind: str
    source: str  # the file it is generated from, as named in the header, e.g. "solution/cnn.py"

    def __fspath__(self):
        return str(self.path)

    def __str__(self):
        where = _display(self.path)
        return {
            "created": f"wrote {where} (new) from {self.source}",
            "updated": f"wrote {where} from {self.source}",
            "deleted": f"deleted {where}: its source {self.source} no longer exists",
            "missing": f"{where} is missing; {self.source} generates it",
            "differs": f"{where} differs from what {self.source} generates",
            "stale": f"{where} was generated from {self.source}, which no longer exists",
        }[self.kind]


@dataclass(frozen=True)
class Region:
    """One ### BEGIN/END SOLUTION region: 1-based line numbers of its markers."""

    begin: int
    end: int
    todo_lines: int  # how many comment lines after BEGIN are the hint, kept in the assignment
    qualname: str  # the enclosing function, "relu" or "MLP.backward"
    indent: str  # the BEGIN marker's indentation, used for the raise line


def generate_assignment(solution_dir, out_dir, check=False) -> List[Change]:
    """Turn solution_dir into out_dir; with check=True write nothing and report the drift.

    Every file is built (and every marker validated) before anything is written, so a
    GenerateError leaves out_dir as it was.

    Returns the files that were written or deleted (check=False), or the files that
    are missing, differ from what would be generated, or are stale leftovers (check=True);
    an empty list means out_dir is up to date.
    """
    solution_dir, out_dir = Path(solution_dir), Path(out_dir)
    if not solution_dir.is_dir():
        raise GenerateError(f"{_display(solution_dir)}: no such directory")
    if out_dir.resolve() == solution_dir.resolve():
        raise GenerateError(f"{_display(out_dir)}: the assignment cannot be written over the solution")
    wanted = build_assignment(solution_dir)
    readme = out_dir / README
    if readme.is_file():
        text = _read(readme)
        if has_regions(text):
            try:
                filled = fill_regions(text, sections(solution_dir, list(wanted)), _display(readme))
            except ReadmeError as error:
                raise GenerateError(str(error)) from None
            except GraderError as error:   # a rubric the grader refuses, say
                raise GenerateError(f"{_display(readme)} cannot be filled in: {error}") from None
            wanted[README] = (README_SOURCES, filled)

    changes = []
    for name, (source, text) in wanted.items():
        target = out_dir / name
        new = text.encode("utf-8")
        old = target.read_bytes() if target.is_file() else None
        if old == new:
            continue
        if check:
            changes.append(Change(target, "missing" if old is None else "differs", source))
        else:
            write_atomically(target, new)
            changes.append(Change(target, "created" if old is None else "updated", source))
    for target, source in _generated_files(out_dir):
        if target.name in wanted:
            continue
        if not check:
            target.unlink()
        changes.append(Change(target, "stale" if check else "deleted", source))
    return changes


def build_assignment(solution_dir) -> dict:
    """{file name in the assignment: (source as named in the header, full text)}, in a stable order."""
    solution_dir = Path(solution_dir)
    label = solution_dir.name
    files = {}
    for path in sorted(solution_dir.glob("*.py")):
        source = f"{label}/{path.name}"
        text = _read(path)
        header = HEADER
        if has_markers(text, path):
            body = strip_solutions(text, path)
            header = TODO_HEADER
        elif path.name in CONTRACT_FILES:
            raise GenerateError(
                f"{_display(path)}:1: a contract file without any {BEGIN} region; "
                "released like this it would hand out the reference"
            )
        else:
            body = text
        files[path.name] = (source, header.format(source=source) + body)
    for relative, name in EXTRA_FILES:
        path = solution_dir.parent / relative
        if not path.is_file():
            continue
        if name in files:
            raise GenerateError(f"{_display(solution_dir / name)}: clashes with {relative}, which is copied as {name}")
        files[name] = (relative, HEADER.format(source=relative) + _read(path))
    for name in HAND_WRITTEN:
        if name in files:
            raise GenerateError(f"{_display(solution_dir / name)}: {name} in the assignment is hand-written")
    return files


def has_markers(text, path="<string>") -> bool:
    """True if text has at least one BEGIN or END SOLUTION marker comment."""
    return bool(_marker_comments(text, path))


def find_regions(text, path="<string>") -> List[Region]:
    """Validate the markers of one file and return its regions, in order.

    Raises GenerateError (file:line) for nested or unclosed regions, an END without a
    BEGIN, a malformed marker, a marker outside a function body or before its docstring,
    a region spanning two functions, a marked function without a docstring, and a
    region whose first line is not a `# TODO:` comment.
    """
    lines = text.splitlines()
    markers = _marker_comments(text, path)
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as error:
        raise GenerateError(f"{_display(path)}:{error.lineno}: not valid Python: {error.msg}") from None
    functions = _functions(tree, lines)

    regions = []
    open_at = None
    for lineno, kind in markers:
        where = f"{_display(path)}:{lineno}"
        if kind == "BEGIN":
            if open_at is not None:
                raise GenerateError(f"{where}: nested {BEGIN}; the region opened at line {open_at} is not closed yet")
            open_at = lineno
            continue
        if open_at is None:
            raise GenerateError(f"{where}: {END} without a {BEGIN} before it")
        begin, open_at = open_at, None
        outer = _enclosing_function(functions, lines, begin, path)
        if _enclosing_function(functions, lines, lineno, path) is not outer:
            raise GenerateError(
                f"{where}: the region opened at line {begin} in {outer.qualname} ends outside it"
            )
        regions.append(Region(
            begin=begin,
            end=lineno,
            todo_lines=_todo_lines(lines, begin, lineno, path),
            qualname=outer.qualname,
            indent=lines[begin - 1][: len(lines[begin - 1]) - len(lines[begin - 1].lstrip())],
        ))
    if open_at is not None:
        raise GenerateError(f"{_display(path)}:{open_at}: {BEGIN} is never closed by an {END}")
    return regions


def strip_solutions(text, path="<string>") -> str:
    """text with every region replaced by its TODO comment(s) and a NotImplementedError."""
    lines = text.splitlines()
    out = []
    previous_end = 0
    for region in find_regions(text, path):
        out += lines[previous_end:region.begin - 1]
        out += lines[region.begin:region.begin + region.todo_lines]
        out.append(f'{region.indent}raise NotImplementedError("{region.qualname}: not written yet")')
        previous_end = region.end
    out += lines[previous_end:]
    stub = "\n".join(out) + "\n"
    try:
        ast.parse(stub, filename=str(path))
    except SyntaxError as error:  # a grader bug or a region cut through a statement
        raise GenerateError(
            f"{_display(path)}: the generated stub is not valid Python "
            f"(line {error.lineno} of the output: {error.msg})"
        ) from None
    return stub


# --- markers and functions ----------------------------------------------------------------


@dataclass(frozen=True)
class _Function:
    node: ast.AST
    qualname: str
    body_start: int  # first line after the docstring (markers must not come earlier)
    last_line: int  # end_lineno, extended over the trailing comments indented into the body


def _marker_comments(text, path):
    """[(line, "BEGIN" | "END")] for the marker comments; strings that mention markers are ignored."""
    markers = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except SyntaxError as error:
        raise GenerateError(f"{_display(path)}:{error.lineno}: not valid Python: {error.msg}") from None
    except tokenize.TokenError as error:  # args: (message, (line, column))
        raise GenerateError(f"{_display(path)}:{error.args[1][0]}: not valid Python: {error.args[0]}") from None
    for token in tokens:
        if token.type != tokenize.COMMENT or not _LOOKS_LIKE_MARKER.match(token.string.strip()):
            continue
        lineno, col = token.start
        comment = token.string.strip()
        own_line = not token.line[:col].strip()
        if comment == BEGIN and own_line:
            markers.append((lineno, "BEGIN"))
        elif comment == END and own_line:
            markers.append((lineno, "END"))
        else:
            raise GenerateError(
                f"{_display(path)}:{lineno}: malformed marker {comment!r}; "
                f"a marker is exactly '{BEGIN}' or '{END}' on a line of its own"
            )
    return markers


def _functions(tree, lines):
    """Every function and method, innermost last, with its qualified name and body extent."""
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                qualname = prefix + child.name
                first = child.body[0]
                has_doc = ast.get_docstring(child) is not None
                body_start = first.end_lineno + 1 if has_doc else first.lineno
                found.append(_Function(child, qualname, body_start, _extend_over_comments(child, lines)))
                visit(child, qualname + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _extend_over_comments(node, lines):
    """The last line of node, counting comment lines right after it that are indented into its body.

    ast stops a function at its last statement; an END marker below it still belongs to it.
    """
    last = node.end_lineno
    while last < len(lines):
        line = lines[last]
        stripped = line.lstrip()
        if stripped and not (stripped.startswith("#") and len(line) - len(stripped) > node.col_offset):
            break
        last += 1
    return last


def _enclosing_function(functions, lines, lineno, path):
    """The innermost function whose body holds the marker comment at lineno."""
    line = lines[lineno - 1]
    indent = len(line) - len(line.lstrip())
    inside = [
        f for f in functions
        if f.node.lineno < lineno <= f.last_line and indent > f.node.col_offset
    ]
    where = f"{_display(path)}:{lineno}"
    if not inside:
        raise GenerateError(f"{where}: marker outside a function body; regions must be inside a function")
    function = inside[-1]  # _functions lists outer functions before the ones nested in them
    docstring = ast.get_docstring(function.node)
    if docstring is None or not docstring.strip():
        raise GenerateError(
            f"{where}: {function.qualname} has a region but no docstring; "
            "students need the docstring to know what to write"
        )
    if lineno < function.body_start:
        raise GenerateError(f"{where}: marker before the end of {function.qualname}'s docstring")
    return function


def _todo_lines(lines, begin, end, path):
    """How many comment lines open the region (the hint); the first must start with '# TODO:'."""
    count = 0
    for line in lines[begin:end - 1]:
        if not line.lstrip().startswith("#"):
            break
        count += 1
    if count == 0 or not lines[begin].lstrip().startswith(TODO):
        raise GenerateError(
            f"{_display(path)}:{begin + 1}: the region opened at line {begin} does not start with "
            f"a '{TODO} <one-line hint>' comment"
        )
    return count


# --- files --------------------------------------------------------------------------------


def _generated_files(out_dir):
    """[(path, source)] for the files in out_dir whose first line is our header."""
    found = []
    if not out_dir.is_dir():
        return found
    for path in sorted(out_dir.iterdir()):
        if not path.is_file() or path.name in HAND_WRITTEN:
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                first = handle.readline()
        except (OSError, UnicodeDecodeError):
            continue
        match = _HEADER_SOURCE.match(first)
        if match:
            found.append((path, match.group(1)))
    return found


def _read(path):
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise GenerateError(f"{_display(path)}: not UTF-8 ({error.reason})") from None


def _display(path):
    """path relative to the working directory when it is below it, else absolute."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# --- command line -------------------------------------------------------------------------


def add_arguments(parser):
    """The options of `mnist-grader release` (grader/cli.py adds them to its verb; main() to its own parser)."""
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if assignment/ differs from what solution/ generates")
    parser.add_argument("--solution", type=Path, default=KIT_ROOT / "solution", metavar="DIR",
                        help="the reference (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=KIT_ROOT / "assignment", metavar="DIR",
                        help="where the assignment goes (default: %(default)s)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`release [--check] [--solution DIR] [--out DIR]`; returns the exit code (see run()).
    A leading "release" in argv is optional."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["release"]:
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog="mnist-grader release", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args) -> int:
    """0: written, or up to date. 1: --check found drift. 2: solution/ cannot be generated."""
    try:
        changes = generate_assignment(args.solution, args.out, check=args.check)
    except GenerateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = _display(args.out)
    if args.check:
        if not changes:
            print(f"{out}/ is up to date with {_display(args.solution)}/")
            return 0
        for change in changes:
            print(change, file=sys.stderr)
        fix = FIX_COMMAND
        if args.solution != KIT_ROOT / "solution":
            fix += f" --solution {args.solution}"
        if args.out != KIT_ROOT / "assignment":
            fix += f" --out {args.out}"
        print(f"{out}/ is out of date; to regenerate it run: {fix}", file=sys.stderr)
        return 1
    for change in changes:
        print(change)
    if not changes:
        print(f"{out}/ is already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
