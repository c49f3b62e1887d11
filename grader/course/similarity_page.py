"""Lays out a finished similarity comparison (grader/course/similarity.py) as similarity.csv (every
pair, ranked) and similarity.html (the top pairs, their shared regions marked side by side). It
decides nothing and says so at the top of the page.

Student code and student ids are hostile text: every string goes through html.escape (the code was
already cleaned of control characters and bidirectional overrides before it was compared, so the
marked regions are regions of exactly the text shown), and the page forbids scripts and every
outside resource in its Content-Security-Policy. Every CSV cell goes through escape.spreadsheet."""
import csv
import html
import io
import statistics
from pathlib import Path

from grader.formats import write_atomically
from grader.formats.escape import spreadsheet
from grader.submission import FILES
from grader.text import clean

CSV_NAME, HTML_NAME = "similarity.csv", "similarity.html"
NOT_A_VERDICT = (
    "This report decides nothing. It ranks pairs of submissions by how much code they share, for a person to "
    "read. Correct solutions of one tightly specified assignment look alike (the contract fixes the names, "
    "shapes and often the natural NumPy call), and students may have started from the same lecture notes or "
    "textbook. A high score is a reason to read a pair side by side, never evidence of misconduct by itself; "
    "a low one proves nothing either.")
HOW = (
    "Each contract file is compared with the same file of the other submission by winnowing (copydetect): names "
    "become placeholders and whitespace and comments are dropped, so renamed variables, reformatting and "
    "reordered functions still match; the skeleton every student got is left out. The score is the share of the "
    "two submissions' compared code that the other also has: (shared in A + shared in B) / (compared in A + "
    "compared in B). A in B is the share of A's code that B has too, B in A the converse.")
STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 110em; padding: 0 1em; color: #222; }
.verdict { border-left: 0.4em solid #c60; background: #fff4e5; padding: 0.6em 1em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.side { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
.side > div { min-width: 0; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: 0.5em; overflow: auto; max-height: 45em;
      font-size: 0.85em; white-space: pre; tab-size: 4; }
mark.a { background: #ffd6d6; } mark.b { background: #d6f0d6; }
h2 { border-top: 1px solid #aaa; padding-top: 0.8em; margin-top: 2em; }
"""


def write_similarity(similarity, out, top):
    """Write OUT/similarity.csv and OUT/similarity.html; returns their paths."""
    out = Path(out)
    csv_path, html_path = out / CSV_NAME, out / HTML_NAME
    write_atomically(csv_path, csv_text(similarity))
    write_atomically(html_path, html_page(similarity, top))
    return html_path, csv_path


def percent(value):
    return f"{100 * value:.0f}%"


# ------------------------------------------------------------------------------------ the CSV

def csv_text(similarity):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(map(spreadsheet, ["rank", "student_a", "student_b", "score", "a_in_b", "b_in_a", "shared_a",
                                      "shared_b", "compared_a", "compared_b", "files_shared", *FILES]))
    for rank, pair in enumerate(similarity.pairs, 1):
        per_file = [f"{pair.files[name].score:.3f}" if name in pair.files else "" for name in FILES]
        shared = "; ".join(name for name, match in pair.files.items() if match.shared_a or match.shared_b)
        writer.writerow(map(spreadsheet, [rank, pair.a.student, pair.b.student, f"{pair.score:.3f}",
                                          f"{pair.a_in_b:.3f}", f"{pair.b_in_a:.3f}", pair.shared_a, pair.shared_b,
                                          pair.a.compared, pair.b.compared, shared, *per_file]))
    return buffer.getvalue()


# ------------------------------------------------------------------------------------ the page

def esc(text):
    return html.escape(clean(str(text), limit=None), quote=True)


def html_page(similarity, top):
    pairs = similarity.pairs
    shown = pairs[:top]
    parts = ['<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
             '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">\n'
             '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
             f'<title>Code similarity</title>\n<style>{STYLE}</style>\n</head>\n<body>\n'
             f'<h1>Code similarity: the {len(shown)} most similar of {len(pairs)} pairs</h1>\n'
             f'<p class="verdict"><strong>Not a verdict.</strong> {esc(NOT_A_VERDICT)}</p>\n<p>{esc(HOW)}</p>\n']
    count = len(similarity.students)
    context = f"{count} submission{'s' if count != 1 else ''} compared, {len(pairs)} pairs"
    if pairs:
        scores = sorted(pair.score for pair in pairs)
        context += (f"; pair scores: median {percent(statistics.median(scores))}, 95th percentile "
                    f"{percent(scores[min(len(scores) - 1, int(0.95 * len(scores)))])}, highest {percent(scores[-1])}")
    parts.append(f"<p>{esc(context)}. The skeleton left out: <code>{esc(similarity.skeleton)}</code>. "
                 f"Every pair is in {CSV_NAME}.</p>\n")
    if shown:
        parts.append(summary_table(shown))
    parts.append(notes_section(similarity))
    for rank, pair in enumerate(shown, 1):
        parts.append(pair_section(rank, pair))
    parts.append("</body>\n</html>\n")
    return "".join(parts)


def summary_table(pairs):
    rows = ["<table>\n<tr><th>rank</th><th>A</th><th>B</th><th>score</th><th>A in B</th><th>B in A</th>"
            + "".join(f"<th>{esc(name)}</th>" for name in FILES) + "</tr>\n"]
    for rank, pair in enumerate(pairs, 1):
        per_file = "".join(f'<td class="num">{percent(pair.files[name].score) if name in pair.files else "-"}</td>'
                           for name in FILES)
        rows.append(f'<tr><td class="num"><a href="#pair-{rank}">{rank}</a></td><td>{esc(pair.a.student)}</td>'
                    f'<td>{esc(pair.b.student)}</td><td class="num">{percent(pair.score)}</td>'
                    f'<td class="num">{percent(pair.a_in_b)}</td><td class="num">{percent(pair.b_in_a)}</td>'
                    f"{per_file}</tr>\n")
    rows.append("</table>\n")
    return "".join(rows)


def notes_section(similarity):
    items = [f"{student} was not compared: {why}" for student, why in similarity.not_compared]
    items += [f"{student.student}: {note}" for student in similarity.students for note in student.notes]
    if not items:
        return ""
    return ("<h2>Notes</h2>\n<ul>\n" + "".join(f"<li>{esc(item)}</li>\n" for item in items) + "</ul>\n")


def pair_section(rank, pair):
    a, b = esc(pair.a.student), esc(pair.b.student)
    parts = [f'<h2 id="pair-{rank}">{rank}. {a} and {b}: score {percent(pair.score)}</h2>\n'
             f"<p>{percent(pair.a_in_b)} of {a}'s compared code is also in {b}'s; {percent(pair.b_in_a)} of {b}'s "
             f"is also in {a}'s. Shared regions are marked.</p>\n"]
    for name in FILES:
        match = pair.files.get(name)
        if match is None:
            missing = [student for student in (pair.a, pair.b) if name not in student.files]
            parts.append(f"<h3>{esc(name)}</h3>\n<p>Not compared: {esc(', '.join(s.student for s in missing))} "
                         "has no readable file of that name.</p>\n")
            continue
        parts.append(f"<h3>{esc(name)}: {percent(match.score)}</h3>\n")
        if not (match.shared_a or match.shared_b):
            parts.append("<p>Nothing shared beyond the skeleton.</p>\n")
            continue
        parts.append('<div class="side">\n')
        for student, code, regions, css in ((pair.a, pair.a.files[name], match.regions_a, "a"),
                                            (pair.b, pair.b.files[name], match.regions_b, "b")):
            cut = " (only the beginning of a longer file)" if code.cut else ""
            parts.append(f"<div><h4>{esc(student.student)}{cut}</h4>\n<pre>{marked(code.text, regions, css)}</pre>"
                         "</div>\n")
        parts.append("</div>\n")
    return "".join(parts)


def marked(text, regions, css):
    """text, HTML-escaped, with each (start, end) region inside <mark class=css>."""
    parts, at = [], 0
    for start, end in regions:
        parts.append(html.escape(text[at:start]))
        parts.append(f'<mark class="{css}">{html.escape(text[start:end])}</mark>')
        at = end
    parts.append(html.escape(text[at:]))
    return "".join(parts)
