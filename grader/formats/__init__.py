"""Writers: each turns a finished Report into a file or text, deciding nothing."""
import os
import tempfile
from pathlib import Path


def write_atomically(path, data):
    """Write text (UTF-8) or bytes to path so that no reader ever sees half a file: a temporary file
    beside it, then a rename. Readable by all (0644), like a file written the ordinary way. Text that
    cannot be UTF-8 (a lone surrogate some writer let through) is written with "?" in its place rather
    than lost with the whole file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data.encode("utf-8", "replace") if isinstance(data, str) else data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
