"""The readable score table printed after grading, and (after `--public`) what it did not check."""
import shutil
import textwrap
from dataclasses import dataclass

from grader.formats.escape import terminal

MARKS = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "not_implemented": "TODO"}


@dataclass(frozen=True)
class Unchecked:
    """A check of the course's rubric that this run did not run: it runs only when the course grades."""

    id: str
    points: float = None      # None: this copy of the grader has no points for it (the public kit)
    bar: float = None         # the accuracy items: the test accuracy that earns their points

    @property
    def item(self):
        return self.id.split(":")[0]


def to_table(report, width=None, unchecked=()):
    """The table as one string for a terminal: no escape sequence from any message or name gets through.
    unchecked: the Unchecked checks a --public run left out; the table ends by naming them."""
    width = width or min(100, shutil.get_terminal_size((100, 20)).columns)
    name_width = max(len(r.id) for r in report.results) if report.results else 10
    name_width = min(name_width, width - 18)
    lines = [f"Grading {terminal(report.submission)}", ""]
    for result in report.results:
        points = f"{result.score:g}/{result.max_score:g}"
        lines.append(f"{MARKS.get(result.status, result.status):<5} {points:>5}  {terminal(result.id)}")
        if result.message and result.status != "passed":
            for paragraph in terminal(result.message).splitlines():
                lines += textwrap.wrap(paragraph, width - 14, initial_indent=" " * 14, subsequent_indent=" " * 16) or [""]
    lines.append("")
    item_scores = report.item_scores()
    lines.append("By item: " + ", ".join(f"{item} {got:g}/{total:g}" for item, (got, total) in item_scores.items()))
    lines.append(f"Score: {report.score:g} / {report.max_score:g}   ({report.execution_time:.1f} s)")
    lines += report.notes
    if unchecked:
        lines += [""] + [wrapped for line in unchecked_lines(report, unchecked)
                         for wrapped in textwrap.wrap(line, width, subsequent_indent="  ")]
    return terminal("\n".join(lines))


def unchecked_lines(report, unchecked):
    """What the score above does not cover: "N points in M checks run only when your course grades
    (hidden tests, and the two accuracy items with their bars: MLP 94.2%, CNN 96.2%)"."""
    bars = [u for u in unchecked if u.bar is not None]
    hidden = [u for u in unchecked if u.bar is None]
    parts = []
    if hidden:
        items = list(dict.fromkeys(u.item for u in hidden))
        parts.append(f"hidden tests of {', '.join(items)}")
    if bars:
        named = ", ".join(f"{u.item.split('.')[0].upper()} {100 * u.bar:.1f}%" for u in bars)
        parts.append(f"the {'two ' if len(bars) == 2 else ''}accuracy item{'s' * (len(bars) != 1)} with "
                     f"{'their bars' if len(bars) != 1 else 'its bar'}: {named}")
    what = ", and ".join(parts)
    checks = f"{len(unchecked)} check{'s' * (len(unchecked) != 1)}"
    known = [u.points for u in unchecked if u.points is not None]
    if len(known) == len(unchecked):
        points = sum(known)
        head = f"Not checked here: {points:g} point{'s' * (points != 1)} in {checks} run only when your course grades"
        total = report.max_score + points
        tail = (f"So {report.score:g} / {report.max_score:g} covers {report.max_score:g} of the course's "
                f"{total:g} points.")
    else:
        head = f"Not checked here: {checks} run only when your course grades"
        tail = (f"Their points are in your course's rubric, not in this grader's: {report.score:g} / "
                f"{report.max_score:g} covers only the checks above.")
    return [f"{head} ({what}).", tail]
