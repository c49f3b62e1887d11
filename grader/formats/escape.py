"""What each output format needs done to a string before it is laid out in it.

Report strings are cleaned where they enter the grader (grader/text.py); every writer still passes
each string through the function for its format, so that no report, however it was built, can make
a writer crash or produce output that does something else than show the text: a terminal escape
sequence, an XML character the parser rejects, inline HTML in Markdown, a spreadsheet formula.
"""
import re

from grader.text import clean

MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]|~])")
BLOCK_START = re.compile(r"^(\d*)([#+=.)-])")       # "# x", "- x", "+ x", "1. x", "1) x", "==="
# Cells a spreadsheet would evaluate (OWASP's list, and the full-width forms some spreadsheets accept)
FORMULA_START = tuple("=+-@\t\r\uff1d\uff0b\uff0d\uff20")


def terminal(text):
    """Text for a terminal: no escape sequence, no other control character but newline and tab."""
    return clean(text, limit=None)


def xml(text):
    """Text for an XML attribute or element: only characters XML 1.0 allows (ElementTree escapes & < >
    and quotes itself, but writes control characters and lone surrogates as they are)."""
    return clean(text, limit=None)


def markdown(text):
    """Text for one line of Markdown (a table cell, a list item, a heading): whitespace runs made one
    space, & < > as entities (no inline HTML), the punctuation of emphasis, code, links and tables
    backslash-escaped, and a start that would open a heading, list or quote escaped."""
    text = " ".join(clean(text, limit=None).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = MARKDOWN_PUNCTUATION.sub(r"\\\1", text)
    return BLOCK_START.sub(r"\1\\\2", text, count=1)


def markdown_code(text):
    """An inline code span showing text verbatim on one line: delimited by more backticks than any run
    inside it; pipes escaped, since a GitHub table splits cells on them even inside code."""
    text = " ".join(clean(text, limit=None).split()).replace("|", "\\|")
    fence = "`" * (1 + max((len(run) for run in re.findall("`+", text)), default=0))
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def spreadsheet(text):
    """A CSV cell that Excel, LibreOffice and Google Sheets show as text, never evaluate: one starting
    (after spaces) with = + - @, a tab or a carriage return gets a leading apostrophe."""
    text = clean(text, limit=None)
    return "'" + text if text.lstrip(" ").startswith(FORMULA_START) else text
