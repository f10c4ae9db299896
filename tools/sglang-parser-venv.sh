#!/usr/bin/env bash
# Create a virtualenv that holds SGLang's real CLI parser (no GPU stack), for
# tools/gen_flag_catalog.py and for validating argv against SGLang itself.
#
#   tools/sglang-parser-venv.sh [VENV]      # default VENV: <repo>/.venv-sglang
#
# Installs, in this order, with the versions pinned in requirements/sglang-parser.txt:
#   1. torch   -- the CPU wheel (torch-2.13.0+cpu, found by pip in the local wheel
#                 dir). Any other torch build pulls GBs of CUDA packages, so the
#                 script refuses one unless SGLANG_PARSER_ALLOW_NON_CPU_TORCH=1.
#   2. triton  -- the version torch 2.13.0 itself pins.
#   3. sglang  -- with --no-deps (its declared deps include torch 2.14 + CUDA).
#   4. the rest of requirements/sglang-parser.txt (the file is also passed as a
#      constraints file to every step, so transitive dependencies stay pinned).
# Idempotent: exits at once when the venv already imports sglang.srt.server_args
# at the pinned SGLang version. Uses pip's own configuration (index / find-links)
# as it is. Env knobs: PYTHON (interpreter to create the venv with, default python3).
set -euo pipefail

log() { printf '[sglang-parser-venv] %s\n' "$*" >&2; }
die() { printf '[sglang-parser-venv] ERROR: %s\n' "$*" >&2; exit 1; }

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$REPO_ROOT/requirements/sglang-parser.txt"
VENV="${1:-$REPO_ROOT/.venv-sglang}"
PYTHON="${PYTHON:-python3}"

[ -f "$REQ" ] || die "missing $REQ"

pin_of() {  # pin_of NAME -> the "NAME==X" line of the requirements file
  local line
  line="$(grep -E "^$1==[^[:space:]]+" "$REQ" | head -n1 | tr -d '[:space:]')" || true
  [ -n "$line" ] || die "no '$1==<version>' line in $REQ"
  printf '%s\n' "$line"
}

TORCH_PIN="$(pin_of torch)"
TRITON_PIN="$(pin_of triton)"
SGLANG_PIN="$(pin_of sglang)"
SGLANG_VERSION="${SGLANG_PIN#sglang==}"

venv_ok() {
  [ -x "$VENV/bin/python" ] || return 1
  "$VENV/bin/python" - "$SGLANG_VERSION" >/dev/null 2>&1 <<'EOF'
import sys
from importlib.metadata import version
import sglang.srt.server_args  # noqa: F401
sys.exit(0 if version("sglang") == sys.argv[1] else 1)
EOF
}

if venv_ok; then
  log "$VENV already has sglang $SGLANG_VERSION's parser; nothing to do"
  exit 0
fi

start=$SECONDS
if [ ! -x "$VENV/bin/python" ]; then
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found"
  log "creating $VENV with $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
  "$PYTHON" -m venv "$VENV" || die "python venv failed (Debian: apt-get install python3-venv)"
fi

PIP=("$VENV/bin/python" -m pip --disable-pip-version-check --no-input)
# pip, minus known noise: find-links/index dirs that lack a package, and the
# warning that sglang's declared deps (torch 2.14, CUDA kernels, ...) are not
# installed -- which is the point of --no-deps.
pipq() {
  "${PIP[@]}" "$@" 2> >(grep -v -e "is neither a file nor a directory" \
    -e "dependency resolver does not currently take into account" -e "^sglang [^ ]* requires " >&2)
}

# 1. torch: make sure pip would pick a CPU build before it pulls any CUDA dependency.
if ! "$VENV/bin/python" -c 'import torch' >/dev/null 2>&1; then
  report="$(mktemp)"
  trap 'rm -f "$report"' EXIT
  pipq install --quiet --dry-run --no-deps --ignore-installed --report "$report" "$TORCH_PIN" \
    || die "pip cannot resolve $TORCH_PIN"
  chosen="$("$VENV/bin/python" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["install"][0]["metadata"]["version"])' "$report")"
  if [[ "$chosen" != *+cpu* ]] && [ "${SGLANG_PARSER_ALLOW_NON_CPU_TORCH:-0}" != 1 ]; then
    die "pip would install torch $chosen, not a +cpu build: that pulls GBs of CUDA wheels. Put the" \
        "torch ${TORCH_PIN#torch==} CPU wheel where pip's find-links points, or set SGLANG_PARSER_ALLOW_NON_CPU_TORCH=1"
  fi
  log "installing torch $chosen"
fi
pipq install --quiet -c "$REQ" "$TORCH_PIN"

# 2. triton, 3. sglang (no deps), 4. everything else.
log "installing $TRITON_PIN"
pipq install --quiet -c "$REQ" "$TRITON_PIN"
log "installing $SGLANG_PIN --no-deps"
pipq install --quiet --no-deps "$SGLANG_PIN"

rest="$(mktemp)"
trap 'rm -f "$rest" "${report:-}"' EXIT
grep -Ev '^[[:space:]]*(torch|triton|sglang)([[:space:]]*[=<>!~;[]|[[:space:]]*$)' "$REQ" >"$rest"
log "installing the parser's dependencies"
pipq install --quiet -c "$REQ" -r "$rest"

if ! venv_ok; then
  "$VENV/bin/python" -c 'import sglang.srt.server_args' || true
  die "sglang.srt.server_args still does not import in $VENV"
fi
"$VENV/bin/python" - <<'EOF' || die "ServerArgs.add_cli_args failed"
import argparse
from sglang.srt.server_args import ServerArgs
p = argparse.ArgumentParser()
ServerArgs.add_cli_args(p)
EOF
log "done in $((SECONDS - start))s: $VENV (sglang $SGLANG_VERSION)"
