"""Text that comes from a student, made safe once, where it enters the grader.

Exception messages, traceback lines and warnings from the child, file names and the names of the
folders or zips a batch grades are written by students. Any of them may hold a lone surrogate (which
no UTF-8 writer accepts), control characters (ESC sequences that retitle or repaint a terminal, NUL
and form feeds that make XML invalid) or a megabyte of text. `clean` turns such a string into one
every writer can lay out; `clean_name` does the same for a name shown on one line. The writers in
grader/formats/ still escape what their format needs (Markdown, HTML, XML, CSV) themselves.
"""
import re

REPLACEMENT = "\ufffd"
# Lone surrogates (UTF-16 halves: not characters, unencodable) and the two non-characters XML forbids
UNENCODABLE = re.compile("[\ud800-\udfff\ufffe\uffff]")
# C0 controls but tab and newline, DEL, C1 controls; the bidirectional overrides and isolates that make
# a terminal or a page show text in another order than it is stored ("Trojan Source")
INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
LINE_BREAKS = re.compile("\r\n|[\r\x85\u2028\u2029]")


def clean(text, limit=4000):
    """text as a str every writer accepts: lone surrogates replaced by U+FFFD, line breaks made "\\n",
    other control characters removed, and at most `limit` characters (a note says how many were cut)."""
    text = as_text(text)
    text = UNENCODABLE.sub(REPLACEMENT, text)
    text = INVISIBLE.sub("", LINE_BREAKS.sub("\n", text))
    return cap(text, limit)


def clean_name(name, limit=80):
    """A file or student name for one line: like clean, but every character clean would remove, and
    tab and newline, become U+FFFD, so two names that differ only there stay apart. At most `limit`
    characters and 240 bytes of UTF-8 (a student's output folder is named after it)."""
    name = as_text(name)
    name = UNENCODABLE.sub(REPLACEMENT, name)
    name = re.sub("[\t\n]", REPLACEMENT, INVISIBLE.sub(REPLACEMENT, LINE_BREAKS.sub("\n", name)))
    if len(name) > limit:
        name = name[:limit - 1] + "\u2026"
    while len(name.encode("utf-8")) > 240:
        name = name[:-2] + "\u2026"
    return name


def cap(text, limit):
    if limit is None or len(text) <= limit:
        return text
    note = f"\n[... {len(text) - limit:,} more characters cut]"
    return text[:max(0, limit - len(note))] + note


def as_text(value):
    """str(value), for values that should have been strings (a hostile child may send anything)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"
