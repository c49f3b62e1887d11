"""`mnist-grader export OUT_DIR --roster roster.csv --canvas canvas.csv --moodle moodle.csv
--assignment "HW2 (12345)"`: a batch's grades.csv in the layouts Canvas and Moodle import.

A batch knows students by the names of their folders or zips; an LMS knows them by its own ids. The
roster (a CSV the instructor writes, or an LMS export with one column added) maps one to the other:

    folder,name,canvas_id,sis_user_id,sis_login_id,section,email,idnumber,username
    alice_smith,"Smith, Alice",1234,S001,asmith,Section 1,asmith@uni.edu,S001,asmith

Only `folder` is required (the submission's folder or zip name, as grades.csv's `student` column
shows it); each export needs one identifier column of its own. Header names are matched ignoring
case, spaces and underscores, and Canvas's and Moodle's own export headers are understood ("SIS
User ID", "Email address", "ID number"), so a Canvas gradebook export with a `folder` column added is
a roster.

Canvas (Grades > Import): the columns of its gradebook export, Student, ID, SIS User ID, SIS Login
ID, Section, then one column named like the assignment, "HW2 (12345)": with the id Canvas updates
that assignment, without it Canvas matches the title or creates a new assignment. Canvas finds each
student by ID, else SIS User ID, else SIS Login ID.
Moodle (Grades > Import > CSV file): an identifier column, "Email address", "ID number" or
"Username" (--moodle-id), and one grade column named like the grade item; at import, map the
identifier column to the user field of that name and the grade column to the grade item. Moodle
stops the whole import at a user it cannot find, so only matched students are written.

Nothing is dropped silently: a folder with no roster row, a roster row with no submission, a
submission that could not be graded (its grade is left for a person to enter, never a 0) and a
roster row without the identifier an export needs are printed and written to the unmatched file
(default OUT_DIR/unmatched.csv), with the closest names where a typo is likely. Every cell is
spreadsheet-safe (grader/formats/escape.py): a name is never a formula.
"""
import csv
import difflib
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import GraderError
from grader.formats import write_atomically
from grader.formats.escape import FORMULA_START, spreadsheet, terminal
from grader.text import clean, clean_name

# roster field -> header spellings accepted (compared after normalized())
ROSTER_FIELDS = {
    "folder": ("folder", "submission", "submission folder"),
    "name": ("name", "student", "student name", "full name"),
    "canvas_id": ("canvas id", "id", "canvas user id", "user id"),
    "sis_user_id": ("sis user id",),
    "sis_login_id": ("sis login id", "login id"),
    "section": ("section",),
    "email": ("email", "email address", "e mail"),
    "idnumber": ("idnumber", "id number"),
    "username": ("username", "user name"),
}
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_IDS = ("canvas_id", "sis_user_id", "sis_login_id")
MOODLE_IDS = {"email": "Email address", "idnumber": "ID number", "username": "Username"}
CANVAS_ID_SUFFIX = re.compile(r"\s*\((\d+)\)\s*$")
MAX_ROSTER_BYTES = 20_000_000


def add_arguments(parser):
    parser.add_argument("out", metavar="OUT_DIR", help="the batch's output folder (the one holding grades.csv)")
    parser.add_argument("--roster", required=True, metavar="FILE",
                        help="CSV mapping each submission's folder name (column `folder`) to the LMS's ids")
    parser.add_argument("--assignment", required=True, metavar="NAME",
                        help='the assignment\'s column title, e.g. "HW2 (12345)": Canvas\'s assignment name and id '
                             "(Moodle gets the name without the id)")
    parser.add_argument("--canvas", metavar="FILE", help="write Canvas's gradebook import CSV here")
    parser.add_argument("--moodle", metavar="FILE", help="write Moodle's grade import CSV here")
    parser.add_argument("--moodle-id", choices=sorted(MOODLE_IDS), default=None,
                        help="the roster column that identifies users in Moodle (default: email, else idnumber, "
                             "else username, whichever the roster has)")
    parser.add_argument("--unmatched", metavar="FILE",
                        help="list what could not be exported here (default: OUT_DIR/unmatched.csv)")


def run(args):
    if not (args.canvas or args.moodle):
        raise GraderError("Nothing to write: give --canvas FILE, --moodle FILE or both.")
    assignment = clean(args.assignment, limit=None).strip()
    if not assignment:
        raise GraderError("--assignment is empty; give the assignment's name, e.g. \"HW2 (12345)\".")
    out = Path(args.out)
    grades = read_grades(out / "grades.csv")
    roster = read_roster(Path(args.roster))
    moodle_id = None
    if args.moodle:
        moodle_id = args.moodle_id or next((key for key in MOODLE_IDS if key in roster.columns), None)
        if moodle_id is None or moodle_id not in roster.columns:
            wanted = f"a column {moodle_id!r}" if moodle_id else "a column email, idnumber or username"
            raise GraderError(f"The roster {args.roster} has no Moodle identifier: add {wanted} (header row).")
    if args.canvas and not any(key in roster.columns for key in CANVAS_IDS):
        raise GraderError(f"The roster {args.roster} has no Canvas identifier: add a column canvas_id (Canvas's "
                          "ID), sis_user_id or sis_login_id (header row).")
    export = match(grades, roster)
    written = []
    if args.canvas:
        rows, problems = canvas_rows(export, assignment)
        export.problems += problems
        written.append(write_csv(args.canvas, rows, "Canvas"))
    if args.moodle:
        rows, problems = moodle_rows(export, moodle_id, CANVAS_ID_SUFFIX.sub("", assignment) or assignment)
        export.problems += problems
        written.append(write_csv(args.moodle, rows, "Moodle"))
    unmatched = Path(args.unmatched) if args.unmatched else out / "unmatched.csv"
    write_csv(unmatched, [["kind", "name", "detail"]] + [[p.kind, p.name, p.detail] for p in export.problems],
              "unmatched")
    for problem in export.problems:
        print(terminal(f"{problem.kind}: {problem.name}" + (f" ({problem.detail})" if problem.detail else "")),
              file=sys.stderr)
    print(f"Matched {len(export.matched)} of the {len(grades)} submissions in grades.csv with the roster; "
          + "; ".join(f"wrote {path}" for path in written) + ". "
          + (f"{len(export.problems)} not exported, listed in {unmatched}." if export.problems
             else f"Nothing left out ({unmatched} lists no one)."))
    return 0


# ------------------------------------------------------------------------------------ reading

@dataclass
class Grade:
    student: str            # as grades.csv shows it, unescaped
    score: str              # "" when the submission could not be graded
    max_score: str
    status: str             # graded | error
    message: str


@dataclass
class Roster:
    columns: set            # the fields (ROSTER_FIELDS keys) the header has
    rows: list              # [(line number, {field: value})]


@dataclass
class Problem:
    kind: str
    name: str
    detail: str = ""


@dataclass
class Export:
    matched: list                                   # [(Grade, roster fields)], graded, in grades.csv order
    problems: list = field(default_factory=list)    # [Problem]


def read_grades(path):
    """grades.csv as batch writes it: {student: Grade}, in its order."""
    text = read_text(path, f"{path} cannot be read", "Run `mnist-grader batch` first, or give the folder it wrote.")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [unescaped(c) for c in rows[0][:4]] != ["student", "score", "max_score", "status"]:
        raise GraderError(f"{path} is not a grades.csv written by `mnist-grader batch` (its header should start "
                          "with student, score, max_score, status).")
    has_message = unescaped(rows[0][-1]) == "message"
    grades = {}
    for row in rows[1:]:
        if not row:
            continue
        row = [unescaped(cell) for cell in row] + [""] * 4
        message = row[len(rows[0]) - 1] if has_message else ""
        grades[row[0]] = Grade(row[0], row[1], row[2], row[3], message)
    return grades


def read_roster(path):
    text = read_text(path, f"The roster {path} cannot be read", "Give the CSV that maps folder names to LMS ids.")
    try:                # Excel saves with ";" where "," is the decimal separator; quoting is always Excel's
        delimiter = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        raise GraderError(f"The roster {path} is empty; its first row names the columns (folder, canvas_id, ...).")
    spellings = {spelling: key for key, names in ROSTER_FIELDS.items() for spelling in names}
    header = [spellings.get(normalized(cell)) for cell in rows[0]]
    if "folder" not in header:
        raise GraderError(f"The roster {path} has no `folder` column: its header row needs one, holding each "
                          "submission's folder or zip name as grades.csv shows it.")
    seen, entries = {}, []
    for number, row in enumerate(rows[1:], start=2):
        values = {}
        for key, cell in zip(header, row):
            if key and key not in values:           # the first column of a field wins (an LMS export repeats some)
                values[key] = clean(cell, limit=None).strip()
        if not any(values.values()):
            continue                                # a blank line
        folder = clean_name(values.get("folder", ""))
        if folder.lower().endswith(".zip"):          # batch names a zip's student without ".zip"
            folder = folder[:-4]
        values["folder"] = folder
        if not folder and "points possible" in values.get("name", "").lower():
            continue                                # the second row of a Canvas gradebook export
        if not folder:
            entries.append((number, values))        # listed as a roster row without a submission
            continue
        if folder in seen:
            raise GraderError(f"The roster {path} names the folder {folder!r} twice (lines {seen[folder]} and "
                              f"{number}); keep one row per submission.")
        seen[folder] = number
        entries.append((number, values))
    return Roster({key for key in header if key}, entries)


def read_text(path, cannot, fix):
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_ROSTER_BYTES + 1)
    except OSError as exc:
        raise GraderError(f"{cannot}: {exc.strerror}. {fix}") from None
    if len(data) > MAX_ROSTER_BYTES:
        raise GraderError(f"{path} is larger than {MAX_ROSTER_BYTES // 1_000_000} MB; is it the right file?")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise GraderError(f"{path} is not UTF-8 text; save it as \"CSV UTF-8\" and try again.") from None


def normalized(header):
    return " ".join(re.split(r"[\s_-]+", header.strip().lower())).strip()


def unescaped(cell):
    """A cell as it was before escape.spreadsheet: the apostrophe it puts before a formula-like start
    taken off again (grades.csv's student ids are compared with the roster's folder names)."""
    if cell.startswith("'") and cell[1:].lstrip(" ").startswith(FORMULA_START):
        return cell[1:]
    return cell


# ------------------------------------------------------------------------------------ matching

def match(grades, roster):
    """Pair grades.csv's students with the roster's rows by folder name; list the rest."""
    by_folder = {values["folder"]: (number, values) for number, values in roster.rows if values["folder"]}
    export = Export([])
    for student, grade in grades.items():
        entry = by_folder.get(student)
        if entry is None:
            export.problems.append(Problem("folder without a roster row", student,
                                           suggestion(student, by_folder) + "its grade is not exported"))
        elif grade.status != "graded" or not grade.score:
            export.problems.append(Problem("not graded", student, f"roster line {entry[0]}; enter its grade by hand "
                                           f"or grade it again: {grade.message}".rstrip(": ")))
        else:
            export.matched.append((grade, entry[1]))
    for number, values in roster.rows:
        if values["folder"] not in grades:
            label = values["folder"] or values.get("name") or f"line {number}"
            export.problems.append(Problem("roster row without a submission", label,
                                           f"roster line {number}; " + suggestion(values["folder"], grades)
                                           + "no grade exported"))
    return export


def suggestion(name, names):
    close = difflib.get_close_matches(name, list(names), n=2, cutoff=0.75) if name else []
    return f"closest: {', '.join(close)}; " if close else ""


# ------------------------------------------------------------------------------------ writing

def canvas_rows(export, assignment):
    """Canvas finds a student by the first of ID, SIS User ID, SIS Login ID that is filled in."""
    def identity(values):
        return next(((key, values[key]) for key in CANVAS_IDS if values.get(key)), None)

    rows, problems = [list(CANVAS_COLUMNS) + [assignment]], []
    for grade, values in unique(export.matched, identity, "Canvas", problems):
        rows.append([values.get("name") or grade.student, *(values.get(key, "") for key in CANVAS_IDS),
                     values.get("section", ""), grade.score])
    return rows, problems


def moodle_rows(export, moodle_id, item):
    def identity(values):
        value = values.get(moodle_id, "")
        return value.lower() if moodle_id == "email" else value or None

    rows, problems = [[MOODLE_IDS[moodle_id], item]], []
    for grade, values in unique(export.matched, identity, "Moodle", problems):
        rows.append([values[moodle_id], grade.score])
    return rows, problems


def unique(matched, identity, lms, problems):
    """The matched students that have an identity for the LMS and share it with no one else; the
    others become problems (two grades for one LMS user would overwrite each other at import)."""
    owners = {}
    for grade, values in matched:
        key = identity(values)
        if key:
            owners.setdefault(key, []).append(grade.student)
    kept = []
    for grade, values in matched:
        key = identity(values)
        if not key:
            problems.append(Problem(f"no {lms} identifier in the roster", grade.student,
                                    f"not in the {lms} file; add it to the roster"))
        elif len(owners[key]) > 1:
            problems.append(Problem(f"{lms} identifier shared", grade.student,
                                    f"{' and '.join(owners[key])} have the same one in the roster; not in the {lms} "
                                    "file"))
        else:
            kept.append((grade, values))
    return kept


def write_csv(path, rows, what):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([spreadsheet(str(cell)) for cell in row])
    try:
        write_atomically(path, buffer.getvalue())
    except OSError as exc:
        raise GraderError(f"Cannot write the {what} file {path}: {exc.strerror or exc}.") from None
    return path
