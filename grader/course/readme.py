"""The generated regions of assignment/README.md: the contract's words written once, where the skeleton
and the grader take them from.

The student README is hand-written around regions that `mnist-grader release` (grader/course/generate.py)
fills in on every release, and that tests/test_generate.py checks are up to date:

    <!-- BEGIN GENERATED: contract functional.py -->
    ... replaced on every release ...
    <!-- END GENERATED -->

Each region comes from the source the skeleton or the grader uses, so the README cannot contradict them:
- `files`: the files of the assignment, the functions to write in each (the solution's regions);
- `contract functional.py`, `contract mlp.py`, `contract cnn.py`: each function's signature, inputs and
  returns as a table, then its docstring and its TODO hint exactly as in the skeleton (solution/);
- `allowed imports`: the rubric's [policy] allowed_imports (grader/rubric.toml);
- `training`: the settings the grader trains with (grader/training.py) and the accuracy bars (rubric);
- `points`: every item's points, those the public checks show and those that run only when the
  course grades (the rubric's visibility), with the bars.
"""
import ast
import re
from pathlib import Path

from grader.contract import FILES as CONTRACT_FILES
from grader.errors import GraderError

BEGIN = re.compile(r"^<!-- BEGIN GENERATED: (.+?) -->$")
END = "<!-- END GENERATED -->"


class ReadmeError(GraderError):
    """A README region that cannot be filled; str() says where (file:line) and why."""


def fill_regions(text, sections, path="README.md"):
    """text with the body of every generated region replaced by sections[name] (a function of no
    argument returning the Markdown, or the Markdown itself). Raises ReadmeError for an unknown name, a
    region never closed, or an END without a BEGIN."""
    lines = text.split("\n")
    out, open_at, name = [], None, None
    for number, line in enumerate(lines, 1):
        match = BEGIN.match(line.strip())
        if open_at is None:
            if line.strip() == END:
                raise ReadmeError(f"{path}:{number}: {END} without a BEGIN GENERATED before it")
            out.append(line)
            if match:
                open_at, name = number, match.group(1)
                if name not in sections:
                    raise ReadmeError(f"{path}:{number}: no generated section is called {name!r}; "
                                      f"the names are: {', '.join(sections)}")
            continue
        if match:
            raise ReadmeError(f"{path}:{number}: a region opens inside the region {name!r} opened at line {open_at}")
        if line.strip() == END:
            body = sections[name]() if callable(sections[name]) else sections[name]
            out += [body.strip("\n"), line]
            open_at = None
    if open_at is not None:
        raise ReadmeError(f"{path}:{open_at}: the region {name!r} is never closed by {END}")
    return "\n".join(out)


def has_regions(text):
    return any(BEGIN.match(line.strip()) for line in text.splitlines())


def sections(solution_dir, assignment_files, rubric_path=None):
    """{region name: function returning its Markdown} for a README beside the assignment made from
    solution_dir. assignment_files: the names of the assignment's files (grader/course/generate.py)."""
    solution_dir = Path(solution_dir)
    cache = {}

    def rubric():
        if "rubric" not in cache:
            from grader.rubric import load_rubric
            cache["rubric"] = load_rubric(rubric_path)
        return cache["rubric"]

    found = {"files": lambda: files_table(solution_dir, assignment_files),
             "allowed imports": lambda: allowed_imports(rubric()),
             "training": lambda: training(rubric()),
             "points": lambda: points(rubric())}
    for name in CONTRACT_FILES:
        if (solution_dir / name).is_file():
            found[f"contract {name}"] = lambda name=name: contract(solution_dir / name)
    return found


# --- the contract, from the solution's docstrings and regions -----------------------------------


def contract(path):
    """One contract file: a table of what to write (signature, inputs, returns), then each function's
    docstring and TODO hint as the skeleton has them."""
    from grader.course.generate import find_regions

    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(path))
    hints = {region.qualname: todo_hint(text, region) for region in find_regions(text, path)}
    entries = list(documented(tree))
    rows = [(signature(node, qualname), inputs_and_returns(ast.get_docstring(node) or "", qualname))
            for qualname, node in entries if not isinstance(node, ast.ClassDef)]
    module = ast.get_docstring(tree) or ""
    lines = [" ".join(paragraph.split()) + "\n" for paragraph in module.split("\n\n") if paragraph.strip()]
    lines += ["| you write | inputs | returns |", "| --- | --- | --- |"]
    lines += [f"| `{sig.replace('|', chr(92) + '|')}` | {inputs} | {returns} |" for sig, (inputs, returns) in rows]
    for qualname, node in entries:
        title = qualname if isinstance(node, ast.ClassDef) else signature(node, qualname)
        lines += ["", f"#### `{title}`", "", "```text", ast.get_docstring(node), "```"]
        if qualname in hints:
            lines += ["", f"Where you write it: `# TODO: {hints[qualname]}`"]
    return "\n".join(lines)


def documented(tree, prefix=""):
    """(qualified name, node) of every function, class and method, in file order."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
        elif isinstance(node, ast.ClassDef):
            yield prefix + node.name, node
            yield from documented(node, prefix + node.name + ".")


def signature(node, qualname):
    """`relu(z)`; `MLP(input_dim=784, ...)` for a constructor; `MLP.forward(X)` for a method."""
    args = node.args
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    parts = [a.arg if d is None else f"{a.arg}={ast.unparse(d)}" for a, d in zip(positional, defaults)]
    owner, _, name = qualname.rpartition(".")
    if owner:
        parts = parts[1:]                      # self
    return f"{owner if name == '__init__' else qualname}({', '.join(parts)})"


def inputs_and_returns(docstring, qualname=""):
    """The docstring's "Inputs:" and "Returns" sections as two cells ("-" where there is none; a
    constructor's returns are its params)."""
    sections, current = {"inputs": [], "returns": []}, None
    for raw in docstring.splitlines():
        line = raw.strip()
        heading = re.match(r"^(Inputs|Returns)\b(.*?):\s*(.*)$", line)
        if heading and not raw.startswith(" "):
            current = heading.group(1).lower()
            lead = (heading.group(2).strip() + ": " if heading.group(2).strip() else "") + heading.group(3)
            if lead.strip(": "):
                sections[current].append(lead.strip())
            continue
        if current is None:
            continue
        if not line or (not raw.startswith((" ", "-")) and not line.startswith("-")):
            if not line and sections[current]:
                current = None
            continue
        if line.startswith("- "):
            name, colon, rest = line[2:].partition(": ")
            sections[current].append(f"`{name}`: {rest}" if colon else line[2:])
        elif sections[current]:
            sections[current][-1] += " " + line
    if qualname.endswith(".__init__") and not sections["returns"]:
        sections["returns"] = ["the model, with `self.params` (see the class)"]
    return tuple("<br>".join(cell(entry) for entry in sections[key]) or "-" for key in ("inputs", "returns"))


def todo_hint(text, region):
    """The region's `# TODO: ...` comment lines, joined into one sentence."""
    lines = text.splitlines()[region.begin:region.begin + region.todo_lines]
    words = " ".join(line.strip().lstrip("#").strip() for line in lines)
    return words[len("TODO:"):].strip() if words.startswith("TODO:") else words


def cell(text):
    """Text for a Markdown table cell: no "|" ends it, no "<root>" is taken for an HTML tag."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def files_table(solution_dir, assignment_files):
    """The assignment's files: the contract files with the functions to write, then the provided ones."""
    from grader.course.generate import find_regions

    lines = ["| file | what it is |", "| --- | --- |"]
    ordered = [n for n in CONTRACT_FILES if n in assignment_files] + sorted(n for n in assignment_files
                                                                            if n not in CONTRACT_FILES)
    for name in ordered:
        path = solution_dir / name
        if name in CONTRACT_FILES:
            text = path.read_text(encoding="utf-8")
            written = [region.qualname for region in find_regions(text, path)]
            functions = [f"`{q}`" for q in written if "." not in q]
            classes = {}
            for qualname in written:
                if "." in qualname:
                    owner, _, method = qualname.rpartition(".")
                    classes.setdefault(owner, []).append(f"`{method}`")
            parts = functions + [f"the `{owner}` class ({', '.join(methods)})" for owner, methods in classes.items()]
            what = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] if parts else "-"
            lines.append(f"| `{name}` | **you write**: {what} |")
        else:
            lines.append(f"| `{name}` | provided: {first_line(path, solution_dir, name)} |")
    return "\n".join(lines)


def first_line(path, solution_dir, name):
    """The first line of a provided file's module docstring."""
    if not path.is_file():
        from grader.course.generate import EXTRA_FILES
        sources = {copied: solution_dir.parent / relative for relative, copied in EXTRA_FILES}
        path = sources.get(name, path)
    try:
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    except (OSError, SyntaxError):
        docstring = ""
    paragraph = " ".join(docstring.strip().split("\n\n")[0].split())
    first = re.split(r"(?<=\.)\s", paragraph)[0]
    return cell(first[:1].lower() + first[1:]) if first else "-"


# --- the rubric and the training settings -------------------------------------------------------


def allowed_imports(rubric):
    modules = sorted(rubric.allowed_imports - {"numpy"}, key=lambda m: (m.startswith("_"), m))
    return (f"The standard-library modules you may import besides `numpy` and your own three files "
            f"(the rubric's list, {len(modules)} of them): " + ", ".join(f"`{m}`" for m in modules) + ".")


def training(rubric):
    from grader.training import BATCH_SIZE, SETTINGS

    lines = ["```"]
    for model, settings in SETTINGS.items():
        bar = rubric.accuracy.get(model, {}).get("threshold")
        lines.append(f"python train.py --model {model}      # {settings['epochs']} epochs, lr {settings['lr']}, "
                     f"batch {BATCH_SIZE}" + (f"; the bar: {100 * bar:.1f}% test accuracy" if bar else ""))
    lines += ["python train.py                  # both", "```", ""]
    worth = {row.item: row.points for row in rubric.rows if row.item.endswith(".accuracy")}
    items = [f"`{model}.accuracy` ({worth[f'{model}.accuracy']:g} points) needs "
             f"{100 * rubric.accuracy[model]['threshold']:.1f}%"
             for model in SETTINGS if f"{model}.accuracy" in worth and model in rubric.accuracy]
    lines.append("These are the settings the grader trains your models with" + (
        f"; {' and '.join(items)} test accuracy after training." if items else "."))
    return "\n".join(lines)


def points(rubric):
    """Per item: points, those the public checks show, those that run only when the course grades."""
    items = {}
    for row in rubric.rows:
        public, later, hidden = items.get(row.item, (0.0, 0.0, 0))
        if row.visibility == "visible":
            items[row.item] = (public + row.points, later, hidden)
        else:
            items[row.item] = (public, later + row.points, hidden + 1)
    lines = ["| item | points | checked by `--public` | only when your course grades |", "| --- | ---: | ---: | --- |"]
    for item, (public, later, hidden) in items.items():
        model = item.split(".")[0]
        why = ""
        if item.endswith(".accuracy") and model in rubric.accuracy:
            why = f" (test accuracy at least {100 * rubric.accuracy[model]['threshold']:.1f}%)"
        elif hidden:
            why = f" ({hidden} hidden check{'s' * (hidden != 1)})"
        lines.append(f"| `{item}` | {public + later:g} | {public:g} | {f'{later:g}{why}' if later else '-'} |")
    total = sum(public + later for public, later, _ in items.values())
    public = sum(public for public, _, _ in items.values())
    hidden = sum(h for item, (_, _, h) in items.items() if not item.endswith(".accuracy"))
    lines += [f"| **total** | **{total:g}** | **{public:g}** | **{total - public:g}** |", "",
              f"`--public` checks {public:g} of the {total:g} points. The other {total - public:g} "
              f"({hidden} hidden check{'s' * (hidden != 1)} and the accuracy items) run only when your course grades; "
              "the public run ends by saying so."]
    return "\n".join(lines)
