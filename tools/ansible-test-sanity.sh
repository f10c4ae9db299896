#!/usr/bin/env bash
# Run `ansible-test sanity` on this collection, offline-safe (PyPI only).
#
#   tools/ansible-test-sanity.sh [extra ansible-test sanity args, e.g. --test pylint]
#
# How:
#   1. .venv-sanity: a venv of its own holding only ansible-core, pinned to the
#      version in requirements/controller.txt.  `ansible-test --local
#      --requirements` installs each sanity test's requirements into the python
#      that runs ansible-test, so it must not be the controller venv (.venv).
#   2. ansible-test bootstraps pip into the per-test venvs it creates with a
#      get-pip script fetched from ci-files.testing.ansible.com (unreachable).
#      It first looks for a cached copy at ~/.ansible/test/cache/get_pip_<ver>.py,
#      so we put a stand-in there: `python -m ensurepip`, then pip-install the
#      pip version ansible-test asked for, from PyPI.
#   3. ansible-test insists on running from .../ansible_collections/<ns>/<name>
#      (physical cwd, a symlink won't do), so the collection's files
#      (git ls-files -co --exclude-standard, minus collections/ and the
#      galaxy.yml build_ignore entries other than tests/) are copied fresh to
#      .cache/sanity/ansible_collections/gpufleet/sglang and tested there.  The
#      copy gets a throwaway `git init` (else ansible-test would ask the outer
#      repo's git, which ignores .cache/, and find no targets).
# Exits non-zero if any sanity test fails.
set -euo pipefail

START=$SECONDS
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$REPO"

PYTHON="${PYTHON:-python3}"
SANITY_VENV="$REPO/.venv-sanity"
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

log() { printf '[sanity] %s\n' "$*" >&2; }
die() { printf '[sanity] ERROR: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------ 1. sanity venv
CORE_PIN="$(grep -E '^ansible-core==' requirements/controller.txt | head -n1 | tr -d '[:space:]')"
[ -n "$CORE_PIN" ] || die "no ansible-core==X pin in requirements/controller.txt"

if [ "$(cat "$SANITY_VENV/.stamp" 2>/dev/null || true)" != "$CORE_PIN" ]; then
  log "creating $SANITY_VENV with $CORE_PIN"
  rm -rf "$SANITY_VENV"
  "$PYTHON" -m venv "$SANITY_VENV"
  "$SANITY_VENV/bin/python" -m pip install -q --disable-pip-version-check "$CORE_PIN"
  printf '%s\n' "$CORE_PIN" >"$SANITY_VENV/.stamp"
fi
PY="$SANITY_VENV/bin/python"
PY_VERSION="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

# ------------------------------------------- 2. get-pip stand-in in the cache
# The file name carries the pip version ansible-test wants (get_venv_packages).
PIP_VERSION="$("$PY" -c '
import sys, types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version=sys.argv[1]))["pip"])
' "$PY_VERSION")"
[ -n "$PIP_VERSION" ] || die "cannot find the pip version ansible-test bootstraps"
GET_PIP="$HOME/.ansible/test/cache/get_pip_${PIP_VERSION//./_}.py"
mkdir -p "$(dirname "$GET_PIP")"
GET_PIP_TMP="$(mktemp "$GET_PIP.XXXXXX")"
cat >"$GET_PIP_TMP" <<EOF
"""Stand-in for get-pip.py written by gpufleet.sglang tools/ansible-test-sanity.sh.

ansible-test runs it as: python quiet_pip.py [pip options] pip==X [--no-setuptools] [--no-wheel]
(with GET_PIP pointing here).  Bootstrap pip from the stdlib (ensurepip), then
install the requested packages from PyPI, then drop the setuptools that
ensurepip brings along if asked to (get-pip would not install it).
"""
import os
import subprocess
import sys

CA_BUNDLE = "$CA_BUNDLE"

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]
if os.path.isfile(CA_BUNDLE):
    cmd += ["--cert", CA_BUNDLE]
subprocess.check_call(cmd + args)
if "--no-setuptools" in sys.argv[1:]:
    subprocess.check_call([sys.executable, "-m", "pip", "uninstall", "-q", "-y", "setuptools"])
EOF
if cmp -s "$GET_PIP_TMP" "$GET_PIP"; then rm -f "$GET_PIP_TMP"; else mv -f "$GET_PIP_TMP" "$GET_PIP"; fi

# ----------------------------------------------- 3. copy of the collection
read -r NS NAME < <("$PY" -c 'import yaml; g = yaml.safe_load(open("galaxy.yml")); print(g["namespace"], g["name"])')
DEST="$REPO/.cache/sanity/ansible_collections/$NS/$NAME"
rm -rf "$REPO/.cache/sanity"
mkdir -p "$DEST"

git ls-files -co --exclude-standard -z | "$PY" -c '
import fnmatch, os, sys, yaml
keep = ("tests", ".gitignore")   # ansible-test reads tests/sanity/; git needs the ignores
ignore = [p for p in yaml.safe_load(open("galaxy.yml")).get("build_ignore") or []
          if p.rstrip("/") not in keep]
ignore.append("collections")                    # symlink loop back to the repo root
def skipped(path):
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return any(fnmatch.fnmatch(p, pat) for p in prefixes for pat in ignore)
for path in sys.stdin.buffer.read().decode().split("\0"):
    if path and os.path.lexists(path) and not skipped(path):
        sys.stdout.write(path + "\0")
' | xargs -0 -r cp -P --parents -t "$DEST"

# ansible-test lists content with git when it finds a .git at or above cwd; the
# copy sits inside this repo's (ignored) .cache/, so give it a throwaway repo of
# its own (untracked files are enough: it uses ls-files --cached --others).
git init -q "$DEST"

# --------------------------------------------------------- 4. ansible-test
cd "$DEST"
log "ansible-test sanity in $DEST (python $PY_VERSION, $CORE_PIN, pip $PIP_VERSION bootstrap)"
rc=0
PATH="$SANITY_VENV/bin:$PATH" "$SANITY_VENV/bin/ansible-test" sanity \
  --local --requirements --python "$PY_VERSION" --color no "$@" || rc=$?

log "finished in $((SECONDS - START))s (rc=$rc)"
exit "$rc"
