"""Parse argv lists with SGLang's own CLI parser (run with the .venv-sglang python).

stdin: JSON list of argv lists (each starting after ``python3 -m sglang.launch_server``).
stdout: JSON list of {"ok": bool, "error": str, "args": {dest: value} for the given flags}.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys

from sglang.srt.server_args import ServerArgs


def parse(argv):
    parser = argparse.ArgumentParser()
    ServerArgs.add_cli_args(parser)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            ns = parser.parse_args(argv)
    except SystemExit:
        return {"ok": False, "error": err.getvalue().strip().splitlines()[-1] if err.getvalue() else "exit"}
    return {"ok": True, "error": "", "args": json.loads(json.dumps(vars(ns), default=str))}


def main():
    json.dump([parse(argv) for argv in json.load(sys.stdin)], sys.stdout)


if __name__ == "__main__":
    main()
