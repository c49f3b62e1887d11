"""The grader's temporary folders (a copy of a submission, a child's folder, in the system's temporary
folder): made here, removed by their owner when it is done with them, or all at once by remove_all()
when a batch worker is stopped. A stopped worker exits at once, without the `finally` blocks that
remove them, and would otherwise leave copies of a student's files behind."""
import shutil
import tempfile
import threading
from pathlib import Path

_LIVE = set()
_LOCK = threading.Lock()


def make(prefix):
    """A new private folder (mode 0o700) named prefix + random characters."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    with _LOCK:
        _LIVE.add(path)
    return path


def remove(path):
    shutil.rmtree(path, ignore_errors=True)
    with _LOCK:
        _LIVE.discard(Path(path))


def remove_all():
    """Remove every folder not removed yet. For a signal handler that exits next: it takes no lock (the
    thread it interrupted may hold it) and copies the set first, which another thread may change."""
    for _ in range(3):
        try:
            folders = tuple(_LIVE)
            break
        except RuntimeError:          # the set changed size during the copy
            continue
    else:
        return
    for path in folders:
        shutil.rmtree(path, ignore_errors=True)
