"""`mnist-grader similarity` and `batch --similarity`: a copy disguised by renaming and reordering
ranks above every pair of independent correct submissions; the skeleton is left out; student code
and student ids reach the page and the CSV only as text.

The honest pairs are tests/alternatives/: 17 correct submissions written independently (some of them
reuse the reference's functional.py and mlp.py, as students who start from the same notes would)."""
import ast
import csv
import html.parser
import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import gradertools as gt

pytestmark = pytest.mark.skipif(importlib.util.find_spec("copydetect") is None,      # found, not imported:
                                reason="the similarity report needs the course extra (copydetect)")  # the grader runs it

ROOT = gt.ROOT
FILES = gt.CONTRACT_FILES


# ------------------------------------------------------------------------------------ helpers

class RenameLocals(ast.NodeTransformer):
    """Every local variable of every function renamed (not the parameters: the contract fixes them)."""

    def visit_FunctionDef(self, node):
        stored = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        params = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
        mapping = {name: f"tmp_{i}" for i, name in enumerate(sorted(stored - params))}
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and n.id in mapping:
                n.id = mapping[n.id]
        return node


def reverse_functions(body):
    """The functions of a module or class body in reverse order (each keeps its place among the rest)."""
    slots = [i for i, statement in enumerate(body) if isinstance(statement, ast.FunctionDef)]
    for i, function in zip(slots, [body[i] for i in slots][::-1]):
        body[i] = function
    for statement in body:
        if isinstance(statement, ast.ClassDef):
            reverse_functions(statement.body)


def disguised(source):
    """The source with its local variables renamed, its functions and methods reordered, comments
    dropped and the layout redone (ast.unparse)."""
    tree = RenameLocals().visit(ast.parse(source))
    reverse_functions(tree.body)
    return ast.unparse(tree) + "\n"


def write_disguised_copy(source, dest):
    dest.mkdir()
    for name in FILES:
        (dest / name).write_text(disguised((source / name).read_text(encoding="utf-8-sig")), encoding="utf-8")
    return dest


def alternatives_into(folder):
    folder.mkdir(exist_ok=True)
    names = sorted(p.name for p in gt.ALTERNATIVES.iterdir() if p.is_dir())
    for name in names:
        gt.copy_submission(gt.ALTERNATIVES / name, folder / name)
    return names


def run_grader(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def read_pairs(out):
    with open(Path(out) / "similarity.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["pair"] = frozenset((row["student_a"], row["student_b"]))
        row["score"] = float(row["score"])
    return rows


class Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attributes = set(), set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)


# ------------------------------------------------------------------------------------ tests

@pytest.mark.parametrize("base", ["torchlike_modules", "cs231n_index_addat", "einsum_conv"])
def test_a_disguised_copy_ranks_above_every_honest_pair(tmp_path, base):
    """Renamed variables and reordered functions: the copy and its source are the top pair, above
    every pair of the 17 independent correct submissions (einsum_conv shares the reference's
    functional.py and mlp.py with two others, the closest honest pairs there are)."""
    subs = tmp_path / "subs"
    honest = alternatives_into(subs)
    assert len(honest) == 17
    copy = write_disguised_copy(gt.ALTERNATIVES / base, subs / "zz_copy")
    original = (gt.ALTERNATIVES / base / "cnn.py").read_text(encoding="utf-8-sig").splitlines()
    changed = set((copy / "cnn.py").read_text().splitlines()) - set(original)
    assert len(changed) > len((copy / "cnn.py").read_text().splitlines()) / 3      # a real disguise, not a copy

    proc = run_grader("similarity", subs, "--out", tmp_path / "out", "--top", "3")
    assert proc.returncode == 0, proc.stderr
    assert "not a verdict" in proc.stdout
    pairs = read_pairs(tmp_path / "out")
    assert len(pairs) == 18 * 17 // 2
    assert pairs[0]["pair"] == {base, "zz_copy"}
    honest_best = max(row["score"] for row in pairs if "zz_copy" not in row["pair"])
    assert pairs[0]["score"] > honest_best + 0.03, (pairs[0], honest_best)
    assert pairs[0]["files_shared"] == "; ".join(FILES)
    assert [row["score"] for row in pairs] == sorted((row["score"] for row in pairs), reverse=True)


def test_the_skeleton_is_left_out(tmp_path):
    """Two submissions that hand in the skeleton students got, plus one written function each
    (different ones), share nothing: signatures, docstrings and imports are everyone's."""
    subs = tmp_path / "subs"
    for student in ("ann", "ben"):
        gt.copy_submission(ROOT / "assignment", subs / student)
    functional = subs / "ann" / "functional.py"
    functional.write_text(functional.read_text().replace(
        'raise NotImplementedError("sigmoid: not written yet")', "return 0.5 * (1.0 + np.tanh(z / 2.0))"))
    functional = subs / "ben" / "functional.py"
    functional.write_text(functional.read_text().replace(
        'raise NotImplementedError("relu: not written yet")', "return np.maximum(z, 0.0)"))
    proc = run_grader("similarity", subs, "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    [pair] = read_pairs(tmp_path / "out")
    assert pair["score"] == 0.0
    assert int(pair["compared_a"]) > 0 and int(pair["compared_b"]) > 0
    assert pair["files_shared"] == ""


HOSTILE_CODE = ('"""</pre><script>alert(1)</script>"""\n'
                "# <img src=x onerror=alert(2)> \x1b]0;owned\x07 \u202e evil\n"
                "import numpy as np\n\n\n"
                "def helper_with_a_long_body(values):\n"
                "    total = np.zeros_like(values)\n"
                "    for index in range(values.shape[0]):\n"
                "        total[index] = values[index] * 2 + 1  # </pre></div><iframe src=//x>\n"
                "    return total.reshape(-1).astype(np.float64) / (1 + total.size)\n")


def test_hostile_code_and_ids_reach_the_page_only_as_text(tmp_path):
    """Two submissions sharing a file full of HTML, a terminal escape and a bidirectional override,
    under ids that are markup and a formula, one of them a zip; a third entry is a broken zip. The
    page has only the report's own tags, no script, and says the pair is not a verdict; the CSV
    cells are never formulas; the broken zip is listed as not compared."""
    subs = tmp_path / "subs"
    one = gt.copy_submission(ROOT / "assignment", subs / "<img src=x onerror=alert(3)>")
    (one / "functional.py").write_text((one / "functional.py").read_text() + HOSTILE_CODE, encoding="utf-8")
    two = gt.copy_submission(one, tmp_path / "two")
    with zipfile.ZipFile(subs / "=HYPERLINK(1).zip", "w") as archive:
        for name in FILES:
            archive.write(two / name, name)
    (subs / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")

    proc = run_grader("similarity", subs, "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "out" / "similarity.html").read_text(encoding="utf-8")
    parser = Tags()
    parser.feed(page)
    assert parser.tags <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "h4", "p", "strong",
                           "code", "table", "tr", "th", "td", "a", "ul", "li", "div", "pre", "mark"}, parser.tags
    assert parser.attributes <= {"lang", "charset", "http-equiv", "content", "name", "class", "href", "id"}
    assert "default-src 'none'" in page
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(3)&gt;" in page
    assert "\x1b" not in page and "\u202e" not in page and "\x07" not in page
    assert "Not a verdict." in page and "never evidence of misconduct" in page
    assert '<mark class="a">' in page                                    # the shared function is marked
    assert "broken" in page and "not compared" in page

    with open(tmp_path / "out" / "similarity.csv", newline="", encoding="utf-8") as f:
        [header, row] = list(csv.reader(f))
    assert set(row[1:3]) == {"'=HYPERLINK(1)", "<img src=x onerror=alert(3)>"}
    assert float(row[3]) > 0.9
    assert "broken" in proc.stderr


def test_batch_similarity_writes_the_report_beside_the_grades(tmp_path):
    """`batch --similarity` grades (here one quick check), then compares the same submissions;
    again on a finished batch, it grades nothing and still writes the report."""
    subs = tmp_path / "subs"
    for name in ("einsum_conv", "textbook_einsum", "dot_attrs_crlf"):
        gt.copy_submission(gt.ALTERNATIVES / name, subs / name)
    out = tmp_path / "out"
    for attempt in range(2):
        (out / "similarity.csv").unlink(missing_ok=True)
        proc = run_grader("batch", subs, "--out", out, "--only", "functional.sigmoid", "--workers", "1",
                          "--similarity")
        assert proc.returncode == 0, proc.stderr
        assert (out / "grades.csv").is_file() and (out / "similarity.html").is_file()
        pairs = read_pairs(out)
        assert pairs[0]["pair"] == {"einsum_conv", "textbook_einsum"} and len(pairs) == 3
    assert "Nothing to grade" in proc.stdout
