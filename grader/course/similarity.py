"""`mnist-grader similarity SUBMISSIONS_DIR --out DIR`: the pairs of submissions whose code is most
alike, ranked for a person to read. It decides nothing: correct solutions of one tightly specified
assignment look alike, and a high score is a reason to read a pair side by side, never a finding.

What is compared: the three contract files of every pair of submissions, file with file
(functional.py with functional.py, and so on). The submissions are the entries `mnist-grader batch`
grades (grader/batch.py's listing: one sub-folder or .zip per student, the student id its name),
read the way grading reads them (grader/submission.py: untrusted bytes, no links, at most 1 MB a
file). No student code runs: the files are text, and text is all this module looks at.

How: with copydetect, a maintained implementation of winnowing (Schleimer, Wilkerson and Aiken,
SIGMOD 2003). Each file is tokenized by Pygments' Python lexer and reduced: every variable or
attribute name becomes V, function names F, class names O, strings S; whitespace and comments go.
So renaming variables, reformatting and rewording comments change nothing, and reordering functions
changes only the few k-grams that span a boundary between two of them. A k-gram is NOISE characters
of reduced code; two files share the code their common k-grams cover. The k-grams of the skeleton
every student got (assignment/: imports, signatures, docstrings, the class statements) are
copydetect's boilerplate and are left out, so a submission that only kept the skeleton shares
nothing with anyone.

Every k-gram is kept (copydetect's guarantee threshold equal to its noise threshold, a winnowing
window of 1): winnowing proper keeps the smallest hash of each window, and Python's string hashes
differ from one process to the next, so the scores would too. With every k-gram they do not, and a
course's worth of files (a few thousand k-grams each) costs seconds.

The score of a pair is the share of the two submissions' compared code (their three files, the
skeleton left out) that the other one also has:
    score = (shared in A + shared in B) / (compared in A + compared in B)
It is symmetric, and a submission that wrote little can share all of it without making the pair's
score high. A in B and B in A (copydetect's per-side similarities) are shown beside it, and the
score of each file.

OUT_DIR/similarity.csv   every pair, ranked (grader/course/similarity_page.py lays it out)
OUT_DIR/similarity.html  the top pairs with their shared regions marked side by side
"""
import io
import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import GraderError
from grader.submission import FILES, load_submission
from grader.text import clean

KIT_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_SKELETON = KIT_ROOT / "assignment"
NOISE = 25                 # characters of reduced code in a k-gram: copydetect's default noise threshold
MAX_CHARS = 100_000        # compared per file: seven times a complete contract file with its docstrings
DEFAULT_TOP = 30
INSTALL = "pip install 'mnist-from-scratch[course]' (in this kit: .venv/bin/python -m pip install -e '.[course]')"


def add_arguments(parser):
    parser.add_argument("submissions", metavar="SUBMISSIONS_DIR",
                        help="folder with one sub-folder or .zip per student, as for `batch`")
    parser.add_argument("--out", required=True, metavar="DIR", help="write similarity.html and similarity.csv here")
    parser.add_argument("--top", type=int, default=DEFAULT_TOP, metavar="N",
                        help=f"pairs shown side by side in similarity.html (default {DEFAULT_TOP}); "
                             "similarity.csv lists every pair")
    parser.add_argument("--skeleton", metavar="DIR",
                        help="the code every student got, left out of the comparison (default: this kit's assignment/)")


def run(args):
    if args.top < 1:
        raise GraderError(f"--top {args.top}: give at least 1.")
    report_similarity(args.submissions, args.out, top=args.top, skeleton=args.skeleton)
    return 0


def report_similarity(submissions, out, top=DEFAULT_TOP, skeleton=None):
    """Compare every pair of SUBMISSIONS_DIR's submissions and write OUT_DIR/similarity.{html,csv};
    `mnist-grader similarity` and `mnist-grader batch --similarity` both come here."""
    from grader.course.similarity_page import write_similarity
    from grader.formats.escape import terminal

    folder, out = Path(submissions), Path(out)
    if not folder.is_dir():
        raise GraderError(f"{folder} is not a folder. Give the folder that holds one sub-folder or .zip per student.")
    similarity = compare_folder(folder, out, Path(skeleton) if skeleton else DEFAULT_SKELETON)
    try:
        html_path, csv_path = write_similarity(similarity, out, top)
    except OSError as exc:
        raise GraderError(f"Cannot write the similarity report in {out}: {exc.strerror or exc}.")
    for student, why in similarity.not_compared:
        print(terminal(f"note: {student} not compared: {why}"), file=sys.stderr)
    for student in similarity.students:
        for note in student.notes:
            print(terminal(f"note: {student.student}: {note}"), file=sys.stderr)
    compared = len(similarity.students)
    print(f"Compared {compared} submission{'s' if compared != 1 else ''} ({len(similarity.pairs)} pairs). "
          f"Wrote {html_path} (the {min(top, len(similarity.pairs))} most similar pairs side by side) and {csv_path} "
          "(every pair, ranked). A ranking to read, not a verdict.")
    return similarity


# ------------------------------------------------------------------------------------ the data

@dataclass
class Code:
    """One contract file of one submission, as compared and shown."""
    text: str               # cleaned (grader/text.py), at most MAX_CHARS: exactly what the report shows
    fingerprint: object     # copydetect's CodeFingerprint of text
    cut: bool = False       # text is the first MAX_CHARS characters of a longer file

    @property
    def compared(self):
        """Characters of reduced code outside the skeleton (copydetect's token coverage)."""
        return int(self.fingerprint.token_coverage)


@dataclass
class Student:
    student: str
    files: dict                                    # file name -> Code, for the files that could be read
    notes: list = field(default_factory=list)      # sentences about files missing, refused or cut

    @property
    def compared(self):
        return sum(code.compared for code in self.files.values())


@dataclass
class FileMatch:
    """What two submissions' versions of one contract file share."""
    name: str
    shared_a: int           # characters of A's reduced code that B has too
    shared_b: int
    compared_a: int
    compared_b: int
    regions_a: list         # [(start, end)] of A's shown text
    regions_b: list

    @property
    def score(self):
        total = self.compared_a + self.compared_b
        return (self.shared_a + self.shared_b) / total if total else 0.0


@dataclass
class Pair:
    a: Student
    b: Student
    files: dict             # file name -> FileMatch, for the files both have

    @property
    def shared_a(self):
        return sum(match.shared_a for match in self.files.values())

    @property
    def shared_b(self):
        return sum(match.shared_b for match in self.files.values())

    @property
    def score(self):
        total = self.a.compared + self.b.compared
        return (self.shared_a + self.shared_b) / total if total else 0.0

    @property
    def a_in_b(self):
        return self.shared_a / self.a.compared if self.a.compared else 0.0

    @property
    def b_in_a(self):
        return self.shared_b / self.b.compared if self.b.compared else 0.0


@dataclass
class Similarity:
    students: list          # [Student], by id
    pairs: list             # [Pair], most similar first
    not_compared: list      # [(student id, why)]: entries batch cannot grade either
    skeleton: str           # where the left-out code came from


# ------------------------------------------------------------------------------------ comparing

def compare_folder(folder, out, skeleton):
    """Similarity of every pair of the submissions in folder (out: the output folder, skipped when it
    is inside folder). The ranking: score, then shared characters, then the ids."""
    from grader.batch import find_submissions

    detector = copydetect()
    boilerplate = skeleton_hashes(detector, skeleton)
    found, _, errors = find_submissions(folder, out)
    students = [read_student(detector, student, path, boilerplate) for student, path in progress(
        found.items(), "reading")]
    pairs = [compare(detector, a, b) for a, b in progress(
        itertools.combinations(students, 2), "comparing", total=len(students) * (len(students) - 1) // 2)]
    pairs.sort(key=lambda p: (-p.score, -(p.shared_a + p.shared_b), p.a.student, p.b.student))
    not_compared = sorted((student, state["message"]) for student, state in errors.items())
    return Similarity(students, pairs, not_compared, str(skeleton))


def copydetect():
    try:
        from copydetect import detector
    except ImportError:
        raise GraderError(f"The similarity report needs copydetect, which is not installed: {INSTALL}.") from None
    return detector


def skeleton_hashes(detector, skeleton):
    """{file name: array of the skeleton's k-gram hashes}: copydetect's boilerplate, per file."""
    import numpy as np

    hashes = {}
    for name in FILES:
        path = Path(skeleton) / name
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise GraderError(f"Cannot read the skeleton's {name} ({path}: {getattr(exc, 'strerror', None) or exc}); "
                              "give the folder students got with --skeleton.") from None
        fingerprint = fingerprint_of(detector, name, prepared(text)[0], [])
        hashes[name] = np.unique(np.array(sorted(fingerprint.hashes), dtype=np.int64))
    return hashes


def read_student(detector, student, path, boilerplate):
    """The student's contract files, read as untrusted bytes (grader/submission.py) and fingerprinted."""
    submission = load_submission(path)
    try:
        files, notes = {}, []
        for name in FILES:
            source = submission.sources.get(name)
            if source is None:
                notes.append(f"{name} not compared: {clean(submission.problems.get(name, 'missing'), 400)}")
                continue
            text, cut = prepared(source)
            if cut:
                notes.append(f"{name} is longer than {MAX_CHARS:,} characters; only its beginning was compared.")
            files[name] = Code(text, fingerprint_of(detector, name, text, boilerplate[name]), cut)
        return Student(student, files, notes)
    finally:
        submission.cleanup()


def prepared(source):
    """(text, cut): the source with the characters no report shows removed (grader/text.py: control
    characters, bidirectional overrides; line breaks made "\\n"), and at most MAX_CHARS of it. It is
    cleaned before it is compared, so the regions copydetect finds are regions of the text shown."""
    text = clean(source, limit=None)
    return text[:MAX_CHARS], len(text) > MAX_CHARS


def fingerprint_of(detector, name, text, boilerplate):
    return detector.CodeFingerprint(name, NOISE, 1, boilerplate=boilerplate, language="python",
                                    fp=io.StringIO(text))


def compare(detector, a, b):
    files = {}
    for name in FILES:
        if name not in a.files or name not in b.files:
            continue
        code_a, code_b = a.files[name], b.files[name]
        shared_a, (_, b_in_a), (slices_a, slices_b) = detector.compare_files(code_a.fingerprint, code_b.fingerprint)
        files[name] = FileMatch(name, int(shared_a), int(round(b_in_a * code_b.compared)), code_a.compared,
                                code_b.compared, regions(slices_a, len(code_a.text)),
                                regions(slices_b, len(code_b.text)))
    return Pair(a, b, files)


def regions(slices, length):
    """copydetect's slices (a 2 x M array of starts and ends in the file's text) as sorted, disjoint
    (start, end) pairs inside the text."""
    spans = sorted((max(0, min(int(s), length)), max(0, min(int(e), length))) for s, e in zip(*slices)) \
        if len(slices) == 2 else []
    merged = []
    for start, end in spans:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def progress(items, what, total=None):
    from tqdm import tqdm
    return tqdm(items, desc=what, total=total, unit="", file=sys.stderr, disable=None, leave=False)

