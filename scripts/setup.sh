#!/usr/bin/env bash
# Set up everything the kit needs, idempotently (a second run takes about a second):
#   - a virtual environment in .venv with the kit installed (pip install -e .)
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
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".$extras"
    echo "$hash $extras" > "$stamp"
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
