"""JUnit XML, for CI dashboards: one <testcase> per check, grouped in one <testsuite> per item.
A check that is not passed is a <failure> (an internal grader problem an <error>); each case's
<system-out> carries its points. Every string goes through escape.xml: ElementTree escapes markup,
but writes control characters and lone surrogates as they are, which no XML parser accepts."""
import xml.etree.ElementTree as ET

from grader.formats import write_atomically
from grader.formats.escape import xml

FIRST_LINE = 500        # characters of a message kept in the failure's message attribute


def to_junit(report):
    suites = ET.Element("testsuites", name="mnist-from-scratch", tests=str(len(report.results)),
                        failures=str(sum(t.status in ("failed", "not_implemented") for t in report.results)),
                        errors=str(sum(t.status == "error" for t in report.results)), time=f"{report.execution_time:.3f}")
    by_item = {}
    for test in report.results:
        by_item.setdefault(xml(test.item), []).append(test)
    for item, tests in by_item.items():
        suite = ET.SubElement(suites, "testsuite", name=item, tests=str(len(tests)),
                              failures=str(sum(t.status in ("failed", "not_implemented") for t in tests)),
                              errors=str(sum(t.status == "error" for t in tests)), skipped="0",
                              time=f"{sum(t.seconds for t in tests):.3f}")
        for test in tests:
            output = xml(test.message)
            case = ET.SubElement(suite, "testcase", classname=item, name=xml(test.id), time=f"{test.seconds:.3f}")
            if test.status in ("failed", "not_implemented"):
                first = (output.splitlines() or [""])[0][:FIRST_LINE]
                failure = ET.SubElement(case, "failure", type=test.status,
                                        message=f"{test.score:g}/{test.max_score:g}: {first}")
                failure.text = output
            elif test.status == "error":
                ET.SubElement(case, "error", type="grader_error", message=output[:FIRST_LINE]).text = output
            ET.SubElement(case, "system-out").text = f"score {test.score:g}/{test.max_score:g}" + (
                f"\n{output}" if test.status == "passed" and output else "")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write_junit(report, path):
    write_atomically(path, to_junit(report))
