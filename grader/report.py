"""The result of grading: plain data that round-trips through JSON. Scores are computed once,
here, in build_report; the writers in formats/ only lay them out."""
from dataclasses import asdict, dataclass, field

STATUSES = ("passed", "failed", "error", "not_implemented")


@dataclass
class CheckResult:
    id: str
    status: str            # passed | failed | error | not_implemented
    message: str = ""
    seconds: float = 0.0


@dataclass
class TestResult:
    name: str
    score: float
    max_score: float
    status: str
    output: str
    visibility: str
    seconds: float = 0.0

    @property
    def item(self):
        return self.name.split(":")[0]


@dataclass
class Report:
    submission: str
    tests: list
    score: float
    max_score: float
    execution_time: float
    sandbox: str
    notes: list = field(default_factory=list)
    extras: dict = field(default_factory=dict)      # accuracy figures; "training": per-model curves, predictions

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        data = dict(data)
        data["tests"] = [TestResult(**t) for t in data["tests"]]
        return cls(**data)

    def item_scores(self):
        """{item: (score, max_score)} summed over the item's checks."""
        scores = {}
        for test in self.tests:
            got, total = scores.get(test.item, (0.0, 0.0))
            scores[test.item] = (got + test.score, total + test.max_score)
        return scores


SANDBOX_NOTES = {
    "bwrap": "Student code ran in a bubblewrap sandbox (no network, no access to the grader's files).",
    "user": "Student code ran as an unprivileged user without network isolation.",
    "none": "Student code ran UNSANDBOXED (no bubblewrap, not root): fine for checking your own code, "
            "not for grading other people's.",
}


def build_report(submission, rows, results, execution_time, sandbox, notes=(), extras=None):
    """rows: the selected rubric rows, in order; results: {check id: CheckResult}."""
    tests = []
    for row in rows:
        result = results[row.id]
        score = row.points if result.status == "passed" else 0.0
        tests.append(TestResult(row.id, score, row.points, result.status, result.message, row.visibility,
                                round(result.seconds, 3)))
    return Report(str(submission), tests, sum(t.score for t in tests), sum(t.max_score for t in tests),
                  round(execution_time, 2), sandbox, [SANDBOX_NOTES[sandbox], *notes], extras or {})
