#!/usr/bin/env bash
# Set up everything the kit needs, idempotently (a second run takes about a second):
#   - a virtual environment in .venv with the kit installed (pip install -e .: also the command mnist-grader)
#   - .venv-child, the Python that runs student code: numpy (the exact version of .venv's) and nothing else
#   - with --torch: the torch extra (torchvision's MNIST reader, the oracle tests, the benchmark) and pytest
#   - bubblewrap, the grader's sandbox, where apt-get can install it; with --torch also chromium (browser tests)
#   - MNIST in data/MNIST/raw (verified by SHA-256)
# Usage: scripts/setup.sh [--torch]
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
if [[ "${1:-}" == "--torch" ]]; then extras="[torch,test]"; fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    echo "setup: Python 3.9 or newer is needed as '$python' (set PYTHON=/path/to/python3)." >&2
    exit 1
fi

if [[ ! -x .venv/bin/python ]]; then
    echo "setup: creating .venv"
    "$python" -m venv .venv
fi

# Reinstall only when pyproject.toml changed, or the extras asked for are not installed yet.
stamp=".venv/.setup-stamp"
hash="$(sha256sum pyproject.toml | cut -c1-16)"
have_hash=""; have_extras=""
if [[ -f "$stamp" ]]; then read -r have_hash have_extras < "$stamp" || true; fi
if [[ "${have_hash:-}" == "$hash" && ( -z "$extras" || "${have_extras:-}" == "$extras" ) ]]; then
    echo "setup: .venv is up to date"
else
    echo "setup: installing the kit$extras into .venv"
    # setuptools too: the kit's build backend (>=77), for installs without build isolation (the tests')
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip "setuptools>=77"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".$extras"
    echo "$hash $extras" > "$stamp"
fi

# The child environment: student code runs with this Python, so torch and every other package but numpy
# are absent there, not just refused. Same base Python and same numpy as .venv: answers must match the
# reference's bit for bit. Its numpy follows .venv's (reinstalled when that one changes).
read -r python_version numpy_version <<< "$(.venv/bin/python -c 'import sys, numpy; print(sys.version.split()[0], numpy.__version__)')"
if [[ "$(.venv-child/bin/python -I -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || true)" != "$python_version" ]]; then
    echo "setup: creating .venv-child (numpy only, for student code)"
    rm -rf .venv-child
    .venv/bin/python -m venv --without-pip .venv-child
fi
if [[ "$(.venv-child/bin/python -I -c 'import numpy; print(numpy.__version__)' 2>/dev/null || true)" != "$numpy_version" ]]; then
    echo "setup: installing numpy $numpy_version into .venv-child"
    .venv/bin/python -m pip --python .venv-child/bin/python install --quiet --disable-pip-version-check \
        --no-deps "numpy==$numpy_version"
else
    echo "setup: .venv-child is up to date (numpy $numpy_version)"
fi

if ! command -v bwrap >/dev/null 2>&1; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing bubblewrap (the grader's sandbox)"
        (apt-get install -y -qq bubblewrap >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq bubblewrap >/dev/null 2>&1; }) \
            || echo "setup: could not install bubblewrap; the grader will use a weaker sandbox" >&2
    else
        echo "setup: bubblewrap (bwrap) is not installed; the grader will use a weaker sandbox" >&2
    fi
fi

# The test suite opens the HTML feedback in a real headless browser (Debian's chromium).
if [[ -n "$extras" ]] && ! command -v chromium >/dev/null 2>&1; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing chromium (the feedback report's browser test)"
        (apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }) \
            || echo "setup: could not install chromium; the browser tests will fail" >&2
    else
        echo "setup: chromium is not installed; the feedback report's browser tests need it" >&2
    fi
fi

.venv/bin/python data_scripts/fetch_mnist.py --root data
