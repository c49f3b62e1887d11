"""Load the rubric (rubric.toml beside this file, or the instructor's copy) and select checks."""
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:          # Python < 3.11
    import tomli as tomllib

from grader.errors import GraderError

DEFAULT = Path(__file__).with_name("rubric.toml")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


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
    processes: int = 64                # [limits] per submission (grader/sandbox/process.py: Limits)
    disk_bytes: int = 2**30
    cpu_seconds: float = 1500.0
    input_salt: int = 0                # see grader/cases.py; the public kit is built with 0

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


def load_rubric(path=None):
    path = Path(path) if path else DEFAULT
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise GraderError(f"Rubric file {path} does not exist.")
    except tomllib.TOMLDecodeError as exc:
        raise GraderError(f"Rubric file {path} is not valid TOML: {exc}")
    try:
        rows = []
        for check_id, entry in data["checks"].items():
            if entry.get("visibility", "visible") not in VISIBILITIES:
                raise GraderError(f"{path}: {check_id!r} has visibility {entry['visibility']!r}; "
                                  f"use one of {', '.join(VISIBILITIES)}.")
            rows.append(Row(check_id, float(entry["points"]), entry.get("visibility", "visible")))
        return Rubric(
            rows=rows,
            accuracy={item: {"threshold": float(v["threshold"]), "seconds": float(v["seconds"])}
                      for item, v in data["accuracy"].items()},
            vectorized_factor=float(data["policy"]["vectorized_factor"]),
            allowed_imports=frozenset(data["policy"]["allowed_imports"]),
            memory_bytes=int(float(data["limits"]["memory_gib"]) * 2**30),
            call_seconds=float(data["limits"]["call_seconds"]),
            grading_seconds=float(data["limits"].get("grading_seconds", 300)),
            processes=int(data["limits"].get("processes", 64)),
            disk_bytes=int(float(data["limits"].get("disk_mib", 1024)) * 2**20),
            cpu_seconds=float(data["limits"].get("cpu_seconds", 1500)),
            input_salt=int(data.get("inputs", {}).get("salt", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise GraderError(f"Rubric file {path} is missing or mistypes an entry ({exc!r}); "
                          f"compare it with {DEFAULT}.")
