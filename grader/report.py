"""The result of grading: plain data (formats/report_json.py writes it as JSON and reads it back).
Scores are computed once, here, in build_report; the writers in formats/ only lay them out, each in
its own words (Gradescope's "tests", "name", "output" stay there).

build_report also decides how much is kept per student: every message and note is cleaned and capped
(grader/text.py), and the training record keeps only what the contract says it holds (a student's
model may rebind conv_W to any array after training; only the contract's shape is kept and drawn)."""
import math
from dataclasses import dataclass, field, replace

from grader.text import clean

STATUSES = ("passed", "failed", "error", "not_implemented")


@dataclass
class CheckResult:
    """One check's outcome. grade.run_one gives id, status, message and seconds; build_report adds
    what the rubric says (max_score, visibility) and the score it earned."""
    id: str
    status: str                 # one of STATUSES
    message: str = ""           # what the student reads; "" when passed without a summary
    seconds: float = 0.0
    score: float = 0.0
    max_score: float = 0.0
    visibility: str = "hidden"  # the rubric's: visible | after_due_date | after_published | hidden

    @property
    def item(self):
        return self.id.split(":")[0]


@dataclass
class Report:
    submission: str
    results: list               # a scored CheckResult per selected check, in rubric order
    score: float
    max_score: float
    execution_time: float
    sandbox: str
    notes: list = field(default_factory=list)
    extras: dict = field(default_factory=dict)      # accuracy figures; "training": per-model curves, predictions

    def item_scores(self):
        """{item: (score, max_score)} summed over the item's checks."""
        scores = {}
        for result in self.results:
            got, total = scores.get(result.item, (0.0, 0.0))
            scores[result.item] = (got + result.score, total + result.max_score)
        return scores


SANDBOX_NOTES = {
    "bwrap": "Student code ran in a bubblewrap sandbox (no network, no access to the grader's files).",
    "user": "Student code ran as an unprivileged user without network isolation.",
    "none": "Student code ran UNSANDBOXED (no bubblewrap, not root): fine for checking your own code, "
            "not for grading other people's.",
}


MESSAGE_CHARS = 4000        # one check's message
NOTE_CHARS = 1000           # one note, and the submission's path
NOTES = 50                  # notes kept
TEST_SET_SIZE = 10_000      # MNIST's test digits: one prediction each
MAX_EPOCHS = 100
CONV_W_SHAPE = (8, 1, 3, 3)     # CNN() with the contract's defaults, as the grader trains it
NOT_RUN = ("The grader has no result for this check (it was not run); this is a problem of the grader, "
           "not of your code.")


def build_report(submission, rows, results, execution_time, sandbox, notes=(), extras=None):
    """rows: the selected rubric rows, in order; results: {check id: CheckResult}. A row without a
    result becomes an error entry, never a missing one."""
    scored = []
    for row in rows:
        result = results.get(row.id) or CheckResult(row.id, "error", NOT_RUN)
        status = result.status if result.status in STATUSES else "error"
        score = row.points if status == "passed" else 0.0
        seconds = result.seconds if is_number(result.seconds) and math.isfinite(result.seconds) else 0.0
        scored.append(replace(result, id=row.id, status=status, message=clean(result.message, MESSAGE_CHARS),
                              seconds=round(seconds, 3), score=score, max_score=row.points, visibility=row.visibility))
    notes = ([SANDBOX_NOTES[sandbox]] if sandbox in SANDBOX_NOTES else []) + list(notes)
    notes = [clean(note, NOTE_CHARS) for note in notes[:NOTES]]
    return Report(clean(str(submission), NOTE_CHARS), scored, sum(r.score for r in scored),
                  sum(r.max_score for r in scored), round(execution_time, 2), sandbox, notes, kept_extras(extras))


def crashed_report(submission, rows, message, execution_time, sandbox="unknown", notes=()):
    """The report of a grading that stopped early: every selected check an error entry saying why."""
    results = {row.id: CheckResult(row.id, "error", message) for row in rows}
    return build_report(submission, rows, results, execution_time, sandbox, notes)


# ------------------------------------------------------------------------------------ training records

def kept_extras(extras):
    """The accuracy figures and the training records, holding only what the contract describes."""
    extras = extras if isinstance(extras, dict) else {}
    kept = {}
    for model in ("mlp", "cnn"):
        accuracy = extras.get(f"{model}.accuracy")
        if is_number(accuracy) and 0.0 <= accuracy <= 1.0:
            kept[f"{model}.accuracy"] = float(accuracy)
    training = extras.get("training")
    if isinstance(training, dict):
        kept["training"] = {model: training_record(training[model]) for model in ("mlp", "cnn")
                            if isinstance(training.get(model), dict)}
    return kept


def training_record(record):
    """accuracy (a fraction), epoch_loss and epoch_seconds (a number per epoch; NaN and inf become
    None), predictions (one digit per test image) and conv_W (the trained CNN's filters: shape
    CONV_W_SHAPE, finite). Anything else, or of another shape, is dropped."""
    kept = {}
    accuracy = record.get("accuracy")
    if is_number(accuracy) and 0.0 <= accuracy <= 1.0:
        kept["accuracy"] = float(accuracy)
    for key in ("epoch_loss", "epoch_seconds"):
        values = as_list(record.get(key))
        if values is not None and len(values) <= MAX_EPOCHS and all(is_number(v) or v is None for v in values):
            kept[key] = [float(v) if v is not None and math.isfinite(v) else None for v in values]
    predictions = as_list(record.get("predictions"))
    if (predictions is not None and len(predictions) == TEST_SET_SIZE
            and all(isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 9 for p in predictions)):
        kept["predictions"] = predictions
    conv_W = record.get("conv_W")
    if hasattr(conv_W, "tolist"):
        conv_W = conv_W.tolist()
    if finite_of_shape(conv_W, CONV_W_SHAPE):
        kept["conv_W"] = [[[[float(x) for x in row] for row in channel] for channel in f] for f in conv_W]
    return kept


def is_number(value):
    """A real number (NaN and inf included; not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def as_list(value):
    """value as a list when it is a list or a 1-d array (a record made in this process may hold arrays)."""
    if hasattr(value, "tolist") and getattr(value, "ndim", None) == 1:
        value = value.tolist()
    return value if isinstance(value, list) else None


def finite_of_shape(value, shape):
    """Whether value is nested lists of exactly this shape holding finite numbers."""
    if not shape:
        return is_number(value) and math.isfinite(value)
    return (isinstance(value, list) and len(value) == shape[0]
            and all(finite_of_shape(v, shape[1:]) for v in value))
