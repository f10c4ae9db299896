# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start sglang-router with its API key read from a file, not from the command line.

    python3 sglang_router_launch.py <sglang_router.launch_router arguments>

sglang-router takes its key only as ``--api-key KEY``, which would put it in the
unit file and in /proc/<pid>/cmdline. This wrapper reads the key from the 0600
file named by ``GPUFLEET_ROUTER_API_KEY_FILE`` (when set) and hands it to the
router's own argument parser in-process; the process command line never
carries it. Everything else is sglang-router's own launcher.
"""

import os
import sys

from sglang_router.launch_router import launch_router, parse_router_args


def router_argv(argv, environ):
    argv = list(argv)
    if any(a == "--api-key" or a.startswith("--api-key=") for a in argv):
        sys.stderr.write("sglang_router_launch: refusing --api-key on the command line; "
                         "use GPUFLEET_ROUTER_API_KEY_FILE\n")
        sys.exit(2)
    key_file = environ.get("GPUFLEET_ROUTER_API_KEY_FILE")
    if key_file:
        with open(key_file) as handle:
            key = handle.read().strip()
        if key:
            argv += ["--api-key", key]
    return argv


def main():
    launch_router(parse_router_args(router_argv(sys.argv[1:], os.environ)))


if __name__ == "__main__":
    main()
