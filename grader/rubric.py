"""Load the rubric (rubric.toml beside this file, or the instructor's copy) and select checks.

A rubric is checked against the grader's check registry both ways when it is loaded: a row whose id
is no check (a typo) and a check with no row (which would silently never run) are both refused,
named, with exit code 2. A rubric may leave checks out on purpose by listing them under
[not_graded] (the public kit does: those checks need the solution), optionally with their points in
the course's rubric (`points = { "id" = 4 }`), so a student's copy can say what is still to come."""
import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:          # Python < 3.11
    import tomli as tomllib

from grader.errors import GraderError
from grader.sandbox.limits import Limits

DEFAULT = Path(__file__).with_name("rubric.toml")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
DEFAULT_VISIBILITY = "visible"          # a row without a visibility key
ROW_KEYS = ("points", "visibility")
SANDBOX = Limits()                      # the [limits] a rubric may leave out: the sandbox's defaults


@dataclass(frozen=True)
class Row:
    id: str
    points: float
    visibility: str

    @property
    def item(self):
        return self.id.split(":")[0]


@dataclass
class Rubric:
    rows: list
    accuracy: dict
    vectorized_factor: float
    allowed_imports: frozenset
    memory_bytes: int
    call_seconds: float
    grading_seconds: float = 300.0     # all checks but the two training runs, per submission
    processes: int = SANDBOX.processes          # [limits] per submission (grader/sandbox/limits.py: Limits)
    disk_bytes: int = SANDBOX.disk_bytes
    cpu_seconds: float = SANDBOX.cpu_seconds
    input_salt: int = 0                # see grader/cases.py; the public kit is built with 0
    not_graded: tuple = ()             # check ids this rubric leaves out on purpose
    not_graded_points: dict = field(default_factory=dict)   # id -> its points in the course's rubric, where known

    def select(self, only=(), skip=(), public=False):
        """Rows chosen by --only / --skip (prefixes of check ids) and --public (visible only)."""
        rows = [r for r in self.rows if not public or r.visibility == "visible"]
        if only:
            rows = [r for r in rows if any(r.id.startswith(p) for p in only)]
        rows = [r for r in rows if not any(r.id.startswith(p) for p in skip)]
        for prefix in list(only) + list(skip):
            if not any(r.id.startswith(prefix) for r in self.rows):
                items = sorted({r.item for r in self.rows})
                raise GraderError(f"No check id starts with {prefix!r}. Items: {', '.join(items)}.")
        return rows


def load_rubric(path=None, check_ids=None):
    """The rubric at path (default: grader/rubric.toml), checked against check_ids (default: every
    registered check). Raises GraderError with the sentence to show for any mistake in it."""
    path = Path(path) if path else DEFAULT
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GraderError(f"Rubric file {path} does not exist.")
    except (OSError, UnicodeDecodeError) as exc:
        raise GraderError(f"Rubric file {path} cannot be read: {exc}")
    except tomllib.TOMLDecodeError as exc:
        raise GraderError(f"Rubric file {path} is not valid TOML: {exc}")
    try:
        rows = read_rows(path, data["checks"])
        not_graded = data.get("not_graded", {}).get("checks", [])
        if not isinstance(not_graded, list) or not all(isinstance(c, str) for c in not_graded):
            raise GraderError(f"Rubric file {path}: [not_graded] checks must be a list of check ids.")
        not_graded_points = read_not_graded_points(path, data.get("not_graded", {}).get("points", {}), not_graded)
        if check_ids is None:
            from grader.checks import load_all
            check_ids = load_all()
        match_registry(path, rows, not_graded, check_ids)
        rubric = Rubric(
            rows=rows,
            accuracy={item: {"threshold": float(v["threshold"]), "seconds": float(v["seconds"])}
                      for item, v in data["accuracy"].items()},
            vectorized_factor=float(data["policy"]["vectorized_factor"]),
            allowed_imports=frozenset(data["policy"]["allowed_imports"]),
            memory_bytes=int(float(data["limits"]["memory_gib"]) * 2**30),
            call_seconds=float(data["limits"]["call_seconds"]),
            grading_seconds=float(data["limits"].get("grading_seconds", 300)),
            processes=int(data["limits"].get("processes", SANDBOX.processes)),
            disk_bytes=int(float(data["limits"].get("disk_mib", SANDBOX.disk_bytes / 2**20)) * 2**20),
            cpu_seconds=float(data["limits"].get("cpu_seconds", SANDBOX.cpu_seconds)),
            input_salt=int(data.get("inputs", {}).get("salt", 0)),
            not_graded=tuple(not_graded),
            not_graded_points=not_graded_points,
        )
        return rubric
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise GraderError(f"Rubric file {path} is missing or mistypes an entry ({exc!r}); "
                          f"compare it with {DEFAULT}.")


def is_points(value):
    """Whether a TOML value is a number of points: finite, 0 or more (not a bool, not a string)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value >= 0


def read_rows(path, checks):
    """The [checks] table as Rows: each a table with points (a finite number, 0 or more) and optionally
    visibility (default "visible"), and nothing else, so a misspelt key cannot pass unnoticed."""
    if not isinstance(checks, dict):
        raise GraderError(f"Rubric file {path}: [checks] must be a table of check id = {{ points = ..., visibility = ... }}.")
    rows = []
    for check_id, entry in checks.items():
        if not isinstance(entry, dict):
            raise GraderError(f"Rubric file {path}: {check_id!r} = {entry!r}; write it as "
                              f"{check_id!r} = {{ points = 1, visibility = \"visible\" }}.")
        unknown = [key for key in entry if key not in ROW_KEYS]
        if unknown:
            raise GraderError(f"Rubric file {path}: {check_id!r} has the key{'s' * (len(unknown) > 1)} "
                              f"{', '.join(map(repr, unknown))}; a row has only {' and '.join(ROW_KEYS)}.")
        if "points" not in entry:
            raise GraderError(f"Rubric file {path}: {check_id!r} has no points.")
        points = entry["points"]
        if not is_points(points):
            raise GraderError(f"Rubric file {path}: {check_id!r} has points = {points!r}; give a number, 0 or more.")
        visibility = entry.get("visibility", DEFAULT_VISIBILITY)
        if visibility not in VISIBILITIES:
            raise GraderError(f"Rubric file {path}: {check_id!r} has visibility {visibility!r}; "
                              f"use one of {', '.join(VISIBILITIES)}.")
        rows.append(Row(check_id, float(points), visibility))
    return rows


def read_not_graded_points(path, points, not_graded):
    """[not_graded] points = { id = points, ... }: for checks listed as not graded only, each a number."""
    if not isinstance(points, dict):
        raise GraderError(f"Rubric file {path}: [not_graded] points must be a table of check id = points.")
    found = {}
    for check_id, value in points.items():
        if check_id not in not_graded:
            raise GraderError(f"Rubric file {path}: [not_graded] points names {check_id!r}, which is not in "
                              "[not_graded] checks; list it there too, or remove its points.")
        if not is_points(value):
            raise GraderError(f"Rubric file {path}: [not_graded] points gives {check_id!r} = {value!r}; "
                              "give a number, 0 or more.")
        found[check_id] = float(value)
    return found


def match_registry(path, rows, not_graded, check_ids):
    """Every row is a check, every check has a row or is listed as not graded; else GraderError naming them."""
    check_ids = set(check_ids)
    in_rubric = [row.id for row in rows] + list(not_graded)
    problems = []
    unknown = [check_id for check_id in in_rubric if check_id not in check_ids]
    if unknown:
        lines = []
        for check_id in unknown:
            close = difflib.get_close_matches(check_id, sorted(check_ids), n=1, cutoff=0.8)
            lines.append(f"  {check_id!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        problems.append(f"{len(unknown)} id{'s are' if len(unknown) > 1 else ' is'} not a check of this grader:\n"
                        + "\n".join(lines))
    both = sorted({row.id for row in rows} & set(not_graded))
    if both:
        problems.append("listed both in [checks] and in [not_graded]:\n" + "\n".join(f"  {c!r}" for c in both))
    missing = sorted(check_ids - set(in_rubric))
    if missing:
        problems.append(f"{len(missing)} check{'s have' if len(missing) > 1 else ' has'} no row in [checks] "
                        "(give each a row, with points = 0 to leave it out of the score, or list it in "
                        "[not_graded] checks = [...] to not run it):\n" + "\n".join(f"  {c!r}" for c in missing))
    if problems:
        raise GraderError(f"Rubric file {path} does not match this grader's checks (the ids are in {DEFAULT}):\n"
                          + "\n".join(f"- {problem}" for problem in problems))
