"""The @check registry. A check is a function of a Context; it returns normally when it passes and
raises CheckFailed (or NotWritten) with the student's message when it does not.

Groups decide which child process a check talks to:
- "functional": the student's functional.py alone;
- "models": the student's mlp.py and cnn.py (with the reference functional.py when theirs is
  broken and their models use only contract functions from it, so a bug costs points once);
- "mlp.accuracy", "cnn.accuracy": the student's three files together, trained by the grader;
- "policy": no child of its own; judged from the sources and what the other groups saw.
"""
from dataclasses import dataclass

REGISTRY = {}


@dataclass(frozen=True)
class Check:
    id: str
    function: object
    group: str
    budget: float          # wall-clock seconds the whole check may take (None: its calls set their own)


def default_group(check_id):
    item = check_id.split(":")[0]
    if item.startswith("functional."):
        return "functional"
    if item.endswith(".accuracy"):
        return item
    return "models"


def check(check_id, group=None, budget=30.0):
    group = group or default_group(check_id)

    def register(function):
        if check_id in REGISTRY:
            raise ValueError(f"duplicate check id {check_id!r}")
        REGISTRY[check_id] = Check(check_id, function, group, budget)
        return function
    return register


@dataclass
class Context:
    """What a check may use: the student's session for its group, the loaded submission, the rubric."""
    student: object
    submission: object
    rubric: object
    shared: dict


def load_all():
    from grader.checks import accuracy, cnn, functional, models, rules  # noqa: F401  (registers)
    return REGISTRY
