"""Gradescope's results.json (https://gradescope-autograders.readthedocs.io/en/latest/specs/)."""
import json

from grader.formats import write_atomically


def to_gradescope(report):
    output = "\n".join(report.notes)
    results = {
        "score": report.score,
        "max_score": report.max_score,
        "execution_time": report.execution_time,
        "output": output,
        "tests": [
            {"name": t.name, "score": t.score, "max_score": t.max_score,
             "status": "passed" if t.status == "passed" else "failed",
             "output": t.output if t.status != "not_implemented" else (t.output or "Not written yet."),
             "visibility": t.visibility}
            for t in report.tests
        ],
    }
    leaderboard = [{"name": f"{item} accuracy", "value": round(100 * report.extras[f"{item}.accuracy"], 2)}
                   for item in ("mlp", "cnn") if f"{item}.accuracy" in report.extras]
    training = report.extras.get("training") or {}
    for item in ("mlp", "cnn"):
        seconds = (training.get(item) or {}).get("epoch_seconds")
        if seconds:     # mean seconds per training epoch on the grading machine; fewer is better
            leaderboard.append({"name": f"{item} seconds per epoch", "value": round(sum(seconds) / len(seconds), 2),
                                "order": "asc"})
    if leaderboard:
        results["leaderboard"] = leaderboard
    return results


def write_gradescope(report, path):
    write_atomically(path, json.dumps(to_gradescope(report), indent=2) + "\n")
