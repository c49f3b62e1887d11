"""report.json: a Report as JSON-ready data, and back. The batch stores one per student (`mnist-grader
publish` rewrites the feedback from it) and a Dask worker sends one to the batch's machine.

Its words are Gradescope's, as in every report.json written so far: "tests", each check's "name"
and "output"; the Report calls them results, id and message. The mapping lives here only."""
import json
from dataclasses import asdict

from grader.formats import write_atomically
from grader.report import CheckResult, Report

# report.json's name for each CheckResult field, in the order written
TEST_KEYS = {"id": "name", "score": "score", "max_score": "max_score", "status": "status", "message": "output",
             "visibility": "visibility", "seconds": "seconds"}
REPORT_KEYS = ("submission", "tests", "score", "max_score", "execution_time", "sandbox", "notes", "extras")


def report_to_dict(report):
    """The Report as report.json's dict (plain data: json.dumps writes it)."""
    data = asdict(report)
    data["tests"] = [{key: result[field] for field, key in TEST_KEYS.items()} for result in data.pop("results")]
    return {key: data[key] for key in REPORT_KEYS}


def write_report_json(report, path):
    """report.json at path, written whole or not at all."""
    write_atomically(path, json.dumps(report_to_dict(report), indent=1) + "\n")


def report_from_dict(data):
    """The Report of a report.json dict; KeyError or TypeError when it is not one."""
    unknown = set(data) - set(REPORT_KEYS)
    if unknown:
        raise TypeError(f"report.json has unknown keys {sorted(unknown)}")
    fields = {key: value for key, value in data.items() if key != "tests"}
    return Report(results=[result_from_dict(test) for test in data["tests"]], **fields)


def result_from_dict(test):
    unknown = set(test) - set(TEST_KEYS.values())
    if unknown:
        raise TypeError(f"a check in report.json has unknown keys {sorted(unknown)}")
    fields = {field: test[key] for field, key in TEST_KEYS.items() if key != "seconds"}
    return CheckResult(**fields, seconds=test.get("seconds", 0.0))
