"""The @check registry. A check is a function of a Context; it returns normally when it passes and
raises CheckFailed (or NotWritten) with the student's message when it does not.

Every check belongs to one of GROUPS, which decides the child process it talks to. The group is
explicit: given where the check is registered (check(..., group="policy")) or declared once for a
module of checks (GROUP = "models" at its top); a check with neither, or with a group not in GROUPS,
is refused at import, so no check id lands in a group by its spelling.
- "functional": the student's functional.py alone;
- "models": the student's mlp.py and cnn.py (with the reference functional.py when theirs is
  broken and their models use only contract functions from it, so a bug costs points once); also
  policy.vectorized, which times the student's cnn.conv2d_forward and conv2d_backward there;
- "mlp.accuracy", "cnn.accuracy": the student's three files together, trained by the grader;
- "policy": no child at all (policy.no_torch): judged from the sources and from what the other
  groups' children reported, after they are done.
"""
import sys
from dataclasses import dataclass, field
from functools import partial

from grader.contract import MODULES
from grader.timebudget import CHECK_SECONDS, NO_LIMIT, TimeBudget

REGISTRY = {}


@dataclass(frozen=True)
class Group:
    name: str
    modules: tuple         # the student's modules its child imports, in order; () for no child
    trains: bool = False   # its checks train a model: they read MNIST, and the rubric limits their time


GROUPS = {group.name: group for group in (
    Group("functional", ("functional",)),
    Group("models", MODULES),                   # every contract module (grader/contract.py)
    Group("mlp.accuracy", ("functional", "mlp"), trains=True),
    Group("cnn.accuracy", ("functional", "cnn"), trains=True),
    Group("policy", ()),
)}


@dataclass(frozen=True)
class Check:
    id: str
    function: object
    group: str             # a key of GROUPS
    budget: float          # wall-clock seconds the whole check may take (None: its calls set their own)


def check(check_id, group=None, budget=CHECK_SECONDS):
    """Register the decorated function as check `check_id`, in `group` (default: the GROUP its module
    declares)."""
    def register(function):
        module = getattr(function, "func", function).__module__     # a functools.partial: its function's
        chosen = group or getattr(sys.modules.get(module), "GROUP", None)
        if chosen is None:
            raise ValueError(f"check {check_id!r} has no group: pass check(..., group=...) or declare GROUP "
                             f"at the top of {module}; the groups are {', '.join(GROUPS)}")
        if chosen not in GROUPS:
            raise ValueError(f"check {check_id!r}: unknown group {chosen!r}; the groups are {', '.join(GROUPS)}")
        if check_id in REGISTRY:
            raise ValueError(f"duplicate check id {check_id!r}")
        REGISTRY[check_id] = Check(check_id, function, chosen, budget)
        return function
    return register


class ForEach:
    """A check written once as check(ctx, <keyword>) and registered for each of several variants, as
    pytest's parametrize does for tests: `for_models = ForEach("kind", lambda kind: {"item": kind.item})`,
    then `@for_models("{item}.forward: shape")` on each check and `for_models.register(MODELS)` at the
    end of the module. Registration waits for that call, so the registry lists all of the first
    variant's checks, then the next's, in the order written (the rubric's); a check written after the
    call would have no id, and the rubric's test says so."""

    def __init__(self, keyword, fields):
        self.keyword = keyword      # the check function's parameter that receives the variant
        self.fields = fields        # variant -> the id template's fields
        self.marked = []            # (id template, check function, check() options), in the order written

    def __call__(self, template, **options):
        def mark(function):
            self.marked.append((template, function, options))
            return function
        return mark

    def register(self, variants):
        """Each marked check for each variant, bound to it: check.function(ctx) calls function(ctx, keyword=variant)."""
        for variant in variants:
            for template, function, options in self.marked:
                check(template.format(**self.fields(variant)), **options)(partial(function, **{self.keyword: variant}))


def trains(checks):
    """Whether any of these checks trains a model (and so needs the MNIST arrays)."""
    return any(GROUPS[c.group].trains for c in checks)


@dataclass
class GradingRun:
    """What the checks of one grading share beyond their group's child. The groups run side by side,
    so each field has one kind of writer: grade.py, or one kind of check."""
    mnist: object = None        # () -> the MNIST arrays (grade.mnist_loader); None when no check trains
    training: dict = field(default_factory=dict)          # "mlp" / "cnn" -> its record (accuracy.py)
    banned_attempts: list = field(default_factory=list)   # every child's tripwire reports (Session.banned)
    budget: TimeBudget = NO_LIMIT       # the time of all its checks but training (timebudget.py)


@dataclass
class Context:
    """What a check may use: the student's session for its group (None in "policy"), the loaded
    submission, the rubric, and the grading run it is part of; also the trusted reference's session
    the group's timing checks share (rules.py starts it on first use; close() stops it)."""
    student: object
    submission: object
    rubric: object
    run: GradingRun
    reference: object = None

    def close(self):
        """Stop the reference's child, if a check of this group started one."""
        if self.reference is not None:
            self.reference.close()
            self.reference = None


def load_all():
    from grader.checks import accuracy, cnn, functional, models, rules  # noqa: F401  (registers)
    return REGISTRY
