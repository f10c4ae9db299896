# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Size of a Hugging Face repo at a revision, for the disk-space preflight.

Run with the hub venv's python:  model_sync_hub_size.py REPO REVISION [--include P]... [--exclude P]...
Prints one JSON line: {"bytes": N, "files": N, "commit": "<sha>"}. The endpoint
(HF_ENDPOINT) and the token (HF_TOKEN_PATH, a 0600 file) come from the
environment, as for `hf download`.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("repo")
    parser.add_argument("revision")
    parser.add_argument("--include", action="append", default=None)
    parser.add_argument("--exclude", action="append", default=None)
    args = parser.parse_args(argv)
    try:
        from huggingface_hub import snapshot_download

        files = snapshot_download(
            args.repo, revision=args.revision, allow_patterns=args.include, ignore_patterns=args.exclude, dry_run=True
        )
        sizes = [f.file_size for f in files]
        commit = files[0].commit_hash if files else ""
    except TypeError:  # an older huggingface_hub without dry_run
        from huggingface_hub import HfApi
        from huggingface_hub.utils import filter_repo_objects

        info = HfApi().model_info(args.repo, revision=args.revision, files_metadata=True)
        names = set(
            filter_repo_objects(
                [s.rfilename for s in info.siblings], allow_patterns=args.include, ignore_patterns=args.exclude
            )
        )
        sizes = [s.size for s in info.siblings if s.rfilename in names]
        commit = info.sha or ""
    if any(size is None for size in sizes):
        sys.stderr.write("the hub did not report every file's size; set model_sync_size_bytes\n")
        return 2
    print(json.dumps({"bytes": sum(sizes), "files": len(sizes), "commit": commit}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
