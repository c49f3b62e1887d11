"""The readable score table printed after grading."""
import shutil
import textwrap

from grader.formats.escape import terminal

MARKS = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "not_implemented": "TODO"}


def to_table(report, width=None):
    """The table as one string for a terminal: no escape sequence from any message or name gets through."""
    width = width or min(100, shutil.get_terminal_size((100, 20)).columns)
    name_width = max(len(t.name) for t in report.tests) if report.tests else 10
    name_width = min(name_width, width - 18)
    lines = [f"Grading {terminal(report.submission)}", ""]
    for test in report.tests:
        points = f"{test.score:g}/{test.max_score:g}"
        lines.append(f"{MARKS.get(test.status, test.status):<5} {points:>5}  {terminal(test.name)}")
        if test.output and test.status != "passed":
            for paragraph in terminal(test.output).splitlines():
                lines += textwrap.wrap(paragraph, width - 14, initial_indent=" " * 14, subsequent_indent=" " * 16) or [""]
    lines.append("")
    item_scores = report.item_scores()
    lines.append("By item: " + ", ".join(f"{item} {got:g}/{total:g}" for item, (got, total) in item_scores.items()))
    lines.append(f"Score: {report.score:g} / {report.max_score:g}   ({report.execution_time:.1f} s)")
    lines += report.notes
    return terminal("\n".join(lines))
