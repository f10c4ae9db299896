#!/usr/bin/env bash
# The controller venv for playbooks/benchmark.yml: SGLang's serving benchmark (sglang.bench_serving, 0.5.23)
# without a GPU stack.
#
#   tools/sglang-bench-venv.sh [VENV]     # default VENV: <repo>/.venv-sglang (the parser venv, extended)
#
# 1. tools/sglang-parser-venv.sh VENV: CPU torch, triton, sglang 0.5.23 --no-deps and its light deps;
# 2. requirements/sglang-bench.txt on top (transformers, tokenizers, datasets: what bench_serving imports),
#    with both requirement files as constraints.
# Idempotent: exits at once when VENV already imports sglang.benchmark.serving's dependencies.
set -euo pipefail

log() { printf '[sglang-bench-venv] %s\n' "$*" >&2; }
die() { printf '[sglang-bench-venv] ERROR: %s\n' "$*" >&2; exit 1; }

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-$REPO_ROOT/.venv-sglang}"
REQ="$REPO_ROOT/requirements/sglang-bench.txt"

"$REPO_ROOT/tools/sglang-parser-venv.sh" "$VENV"

ok() {
  "$VENV/bin/python" - "$REQ" >/dev/null 2>&1 <<'PY'
import re, sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)
    if m and version(m.group(1)) != m.group(2):
        sys.exit(1)
import transformers, tokenizers, datasets  # noqa: F401,E401
PY
}

if ok; then
  log "$VENV already has the benchmark's dependencies"
  exit 0
fi
log "installing requirements/sglang-bench.txt into $VENV"
"$VENV/bin/python" -m pip --disable-pip-version-check --no-input install --quiet \
  -c "$REPO_ROOT/requirements/sglang-parser.txt" -c "$REQ" -r "$REQ" \
  2> >(grep -v -e "is neither a file nor a directory" -e "dependency resolver does not currently" \
       -e "^sglang [^ ]* requires " >&2)
ok || die "the benchmark's dependencies still do not import in $VENV"
log "done: $VENV"
