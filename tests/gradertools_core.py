"""Running the grader the way users do (a subprocess), for the kit's tests."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NO_TRAINING = ("--skip", "mlp.accuracy", "--skip", "cnn.accuracy")


def run_grader(submission, *args, tmp_path, timeout=600):
    """Grade `submission`; returns (completed process, results.json as a dict or None, junit path)."""
    results, junit = Path(tmp_path) / "results.json", Path(tmp_path) / "report.xml"
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(submission), "--json", str(results),
                           "--junit", str(junit), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    data = json.loads(results.read_text()) if results.exists() else None
    return proc, data, junit


def scores_by_item(results):
    items = {}
    for test in results["tests"]:
        item = test["name"].split(":")[0]
        got, total = items.get(item, (0, 0))
        items[item] = (got + test["score"], total + test["max_score"])
    return items
