"""Gradescope's results.json (https://gradescope-autograders.readthedocs.io/en/latest/specs/)."""
import json
import math

from grader.formats import write_atomically
from grader.text import clean


def to_gradescope(report):
    output = "\n".join(clean(note) for note in report.notes)
    results = {
        "score": report.score,
        "max_score": report.max_score,
        "execution_time": report.execution_time,
        "output": output,
        "tests": [
            {"name": clean(r.id), "score": r.score, "max_score": r.max_score,
             "status": "passed" if r.status == "passed" else "failed",
             "output": clean(r.message) if r.status != "not_implemented" else (clean(r.message) or "Not written yet."),
             "visibility": r.visibility}
            for r in report.results
        ],
    }
    leaderboard = []
    for item in ("mlp", "cnn"):
        accuracy = report.extras.get(f"{item}.accuracy")
        if finite(accuracy):
            leaderboard.append({"name": f"{item} accuracy", "value": round(100 * accuracy, 2)})
    training = report.extras.get("training")
    for item in ("mlp", "cnn"):
        record = training.get(item) if isinstance(training, dict) else None
        seconds = record.get("epoch_seconds") if isinstance(record, dict) else None
        mean = sum(seconds) / len(seconds) if isinstance(seconds, list) and seconds and all(map(finite, seconds)) else None
        if finite(mean):        # mean seconds per training epoch on the grading machine; fewer is better
            leaderboard.append({"name": f"{item} seconds per epoch", "value": round(mean, 2), "order": "asc"})
    if leaderboard:
        results["leaderboard"] = leaderboard
    return results


def finite(value):
    """A number JSON can hold (NaN and infinity are not JSON)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def write_gradescope(report, path):
    write_atomically(path, json.dumps(to_gradescope(report), indent=2, allow_nan=False) + "\n")
