#!/usr/bin/env bash
# Install the Debian packages named in the given lists (one a line, `#` comments) that are
# missing: as root with apt-get (`apt-get update` first), else print the exact command.
# Used by scripts/bootstrap.sh (infra/apt-packages.txt) and `nox -s bench` (infra/apt-packages-bench.txt).
set -euo pipefail
packages=$(grep -hv '^#' "$@" | xargs)

missing=()
for pkg in $packages; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
((${#missing[@]})) || exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "FAIL: missing Debian packages: ${missing[*]}" >&2
  echo "fix: sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends ${missing[*]}'" >&2
  exit 1
fi
printf '\033[1m==> %s\033[0m\n' "apt-get install ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
