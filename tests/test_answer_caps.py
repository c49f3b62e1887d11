"""Child answers have a fixed format: the grader reads only what it asked for, within caps, and its
own memory stays bounded whatever the child sends.

Student code can rewrite anything in the child's process, the child's own writer included. Each
case below is an mlp.py that, at import, replaces the child's answer writer (its module globals, as
child.py's `write_arrays` / `_json_dumps`) with one that writes something hostile. The grader must score
the mlp checks 0 with a message, finish, and stay under 500 MB (before issue 9 the first case made
it grow to 5.6 GB and run for minutes)."""
import json
import subprocess
import sys

import pytest

import gradertools as gt

PATCH = "import sys as _sys\n_child = _sys.modules['__main__']\n"
CASES = {
    # a description holding millions of empty lists
    "huge_description": PATCH + (
        "_dumps = _child._json_dumps\n"
        "_child._json_dumps = lambda meta, default=None: _dumps(dict(meta, extra=[[]] * 20_000_000), default=default)\n"),
    # a description nested a million levels deep
    "deep_description": PATCH + (
        "_child._json_dumps = lambda meta, default=None: '[' * 1_000_000 + ']' * 1_000_000\n"),
    # sixteen arrays of 40 MB each, which the table says hold 64 bytes each (one 40 MB data section)
    "lying_array_header": PATCH + (
        "import json as _json\n"
        "def _write(file, arrays, meta=None):\n"
        "    table = [[f'x{i}', '<f8', [5_000_000], 'C', 64 * i, 64] for i in range(16)]\n"
        "    header = _json.dumps({'meta': meta, 'arrays': table}).encode()\n"
        "    head = _child.MAGIC + len(header).to_bytes(8, 'little') + header\n"
        "    file.write(head + bytes(-len(head) % 64) + bytes(40_001_024))\n"
        "_child.write_arrays = _write\n"),
    # sixteen arrays of 40 MB each, all on the same 40 MB of the file
    "overlapping_arrays": PATCH + (
        "import json as _json\n"
        "def _write(file, arrays, meta=None):\n"
        "    table = [[f'x{i}', '<f8', [5_000_000], 'C', 0, 40_000_000] for i in range(16)]\n"
        "    header = _json.dumps({'meta': meta, 'arrays': table}).encode()\n"
        "    head = _child.MAGIC + len(header).to_bytes(8, 'little') + header\n"
        "    file.write(head + bytes(-len(head) % 64) + bytes(40_000_000))\n"
        "_child.write_arrays = _write\n"),
    # ten thousand little arrays
    "many_arrays": PATCH + (
        "import numpy as _np\n"
        "_real = _child.write_arrays\n"
        "_child.write_arrays = lambda file, arrays, meta=None: _real(\n"
        "    file, {**arrays, **{f'x{i}': _np.zeros(1) for i in range(10_000)}}, meta)\n"),
}

# The grader's own peak, VmHWM (the high-water mark of its memory since its exec): getrusage's
# ru_maxrss would also count the pytest process it was forked from, which Linux keeps across exec.
PEAK = ("import sys, atexit\n"
        "def peak():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'):\n"
        "            print('PEAK_KB', line.split()[1], file=sys.stderr)\n"
        "atexit.register(peak)\n"
        "from grader.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n")


def grade_measured(folder, out):
    """Run the grader in a process of its own; returns (exit code, results, its peak RSS in MB)."""
    proc = subprocess.run([sys.executable, "-c", PEAK, "grade", str(folder), "--json", str(out), "--only", "mlp.forward"],
                          cwd=gt.ROOT, capture_output=True, text=True, timeout=600)
    peak = [int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("PEAK_KB")]
    assert peak, proc.stderr[-3000:]
    return proc.returncode, json.loads(out.read_text()), peak[0] / 1024


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_answers_cost_their_checks_and_no_grader_memory(case, tmp_path):
    folder = gt.copy_submission(gt.SOLUTION, tmp_path / "submission")
    mlp = folder / "mlp.py"
    mlp.write_text(mlp.read_text().replace("import numpy as np\n", "import numpy as np\n" + CASES[case], 1))
    code, results, peak_mb = grade_measured(folder, tmp_path / "results.json")
    assert code == 0
    assert results["score"] == 0, [(t["name"], t["output"]) for t in results["tests"]]
    assert all(t["output"] for t in results["tests"])
    assert peak_mb < 500, f"the grader itself peaked at {peak_mb:.0f} MB"


def test_the_reference_is_graded_within_the_memory_bound(tmp_path):
    folder = gt.copy_submission(gt.SOLUTION, tmp_path / "submission")
    code, results, peak_mb = grade_measured(folder, tmp_path / "results.json")
    assert code == 0 and results["score"] == results["max_score"] > 0
    assert peak_mb < 500
