# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start the Shepherd Model Gateway (smg) with its keys read from files, not from argv.

    python3 sglang_router_launch.py <`smg launch` arguments>

smg 1.13.0 takes its keys only on the command line: ``--api-key KEY`` (data
plane) and ``--control-plane-api-keys 'id:name:role:KEY'`` (admin API); it
reads neither from a file nor from the environment (smg/router_args.py:
``add_cli_args``, the "Control Plane Authentication" group; the only
environment defaults there are the history-store ones). On argv they would sit
in the unit file and in /proc/<pid>/cmdline. This wrapper builds smg's own
parser (``RouterArgs.add_cli_args``, as ``smg.launch_router.parse_router_args``
does) and sets both keys on the parsed ``RouterArgs`` in-process:

* ``GPUFLEET_ROUTER_API_KEY_FILE``: the data-plane key (clients send
  ``Authorization: Bearer KEY``);
* ``GPUFLEET_ROUTER_ADMIN_API_KEY_FILE``: the control-plane key, registered as
  one admin key (``/workers`` and the other admin routes answer only to it).

Two rules keep keys off the command line:

* every key-carrying flag is refused on argv (``--api-key``,
  ``--control-plane-api-keys``, ``--tenant-api-key``, database passwords);
* abbreviations are refused: smg's parser keeps argparse's ``allow_abbrev``
  (``--api`` would be read as ``--api-key``); this one is built with
  ``allow_abbrev=False``, and an option that is not a full name is refused
  before parsing, naming only the option (argparse's error would print the
  value after it too).

Everything else is smg's own launcher (``smg.launch_router.launch_router``).
"""

import argparse
import os
import sys

# Flags whose value is a credential: only the key files may set them.
SECRET_FLAGS = (
    "--api-key",
    "--control-plane-api-keys",
    "--tenant-api-key",
    "--oracle-password",
    "--postgres-db-url",
    "--redis-url",
)
# id and name of the admin key in smg's control-plane key list ('id:name:role:key').
ADMIN_KEY_ID = "gpufleet-admin"
ADMIN_KEY_NAME = "gpufleet.sglang admin"


class LaunchError(Exception):
    pass


def refuse_secret_flags(argv):
    for token in argv:
        name = token.split("=", 1)[0]
        if name in SECRET_FLAGS:
            raise LaunchError(
                "refusing %s on the command line; keys come from GPUFLEET_ROUTER_API_KEY_FILE and "
                "GPUFLEET_ROUTER_ADMIN_API_KEY_FILE" % name
            )


def read_key(path, what):
    try:
        with open(path) as handle:
            key = handle.read().strip()
    except OSError as exc:
        raise LaunchError("cannot read the %s key file %s: %s" % (what, path, exc.strerror))
    if not key:
        raise LaunchError("the %s key file %s is empty" % (what, path))
    return key


def build_parser(router_args_cls):
    parser = argparse.ArgumentParser(
        prog="sglang_router_launch", allow_abbrev=False, description="smg launch, keys from files"
    )
    router_args_cls.add_cli_args(parser, use_router_prefix=False)
    return parser


def refuse_unknown_flags(argv, parser):
    """Only full option names: refused before argparse, whose error would echo the value too."""
    known = set(parser._option_string_actions)  # pylint: disable=protected-access
    for token in argv:
        name = token.split("=", 1)[0]
        if name.startswith("--") and name not in known:
            raise LaunchError("unknown or abbreviated option %s: smg options are given by their full names" % name)


def router_args(argv, environ, router_args_cls):
    """smg's ``RouterArgs`` from ``argv``, with the keys from the files named in ``environ``."""
    refuse_secret_flags(argv)
    parser = build_parser(router_args_cls)
    refuse_unknown_flags(argv, parser)
    args = router_args_cls.from_cli_args(parser.parse_args(argv), use_router_prefix=False)
    key_file = environ.get("GPUFLEET_ROUTER_API_KEY_FILE")
    if key_file:
        args.api_key = read_key(key_file, "data-plane")
    admin_file = environ.get("GPUFLEET_ROUTER_ADMIN_API_KEY_FILE")
    if admin_file:
        # smg's parsed shape: (id, name, key, role), see RouterArgs._parse_control_plane_api_keys.
        args.control_plane_api_keys = [(ADMIN_KEY_ID, ADMIN_KEY_NAME, read_key(admin_file, "admin"), "admin")]
    return args


def main():
    from smg.launch_router import launch_router
    from smg.router_args import RouterArgs

    try:
        args = router_args(sys.argv[1:], os.environ, RouterArgs)
    except LaunchError as exc:
        sys.stderr.write("sglang_router_launch: %s\n" % exc)
        sys.exit(2)
    launch_router(args)


if __name__ == "__main__":
    main()
