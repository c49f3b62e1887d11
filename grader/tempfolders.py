"""The grader's temporary folders (a copy of a submission, a child's folder, in the system's temporary
folder): made here, removed by their owner when it is done with them, or all at once by remove_all()
when a batch worker is stopped. A stopped worker exits at once, without the `finally` blocks that
remove them, and would otherwise leave copies of a student's files behind.

The check threads of a grading make and remove folders side by side: a set's add, discard and copy
are each one step under the interpreter's lock, so no lock of ours is needed, and remove_all() can
run in a signal handler whatever the thread it interrupted was doing."""
import shutil
import tempfile
from pathlib import Path

_LIVE = set()


def make(prefix):
    """A new private folder (mode 0o700) named prefix + random characters."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    _LIVE.add(path)
    return path


def remove(path):
    shutil.rmtree(path, ignore_errors=True)
    _LIVE.discard(Path(path))


def remove_all():
    """Remove every folder not removed yet (for a process about to exit at once)."""
    for path in tuple(_LIVE):
        shutil.rmtree(path, ignore_errors=True)
