"""The gateway launcher keeps both keys off the command line and refuses abbreviated flags."""

from __future__ import annotations

import argparse
import pathlib

import pytest
from conftest import load_file

PATH = pathlib.Path(__file__).resolve().parents[2] / "roles" / "sglang_router" / "files" / "sglang_router_launch.py"


class FakeRouterArgs(object):
    """The part of smg.router_args.RouterArgs the launcher uses (smg is not installed in the test venv).

    Mirrors smg 1.13.0: add_cli_args registers the full option names (with the key flags), and
    from_cli_args parses --control-plane-api-keys 'id:name:role:key' into (id, name, key, role).
    """

    @staticmethod
    def add_cli_args(parser, use_router_prefix=False):
        parser.add_argument("--port", type=int, default=30000)
        parser.add_argument("--api-key", default=None)
        parser.add_argument("--control-plane-api-keys", nargs="*", action="extend", default=[])
        parser.add_argument("--health-check-interval-secs", type=int, default=60)

    @classmethod
    def from_cli_args(cls, ns, use_router_prefix=False):
        obj = cls()
        obj.port = ns.port
        obj.api_key = ns.api_key
        obj.control_plane_api_keys = ns.control_plane_api_keys
        obj.health_check_interval_secs = ns.health_check_interval_secs
        return obj


@pytest.fixture
def launcher():
    return load_file(PATH)


def test_keys_come_from_the_files(launcher, tmp_path):
    (tmp_path / "api-key").write_text("data-s3cret\n")
    (tmp_path / "admin").write_text("admin-s3cret\n")
    args = launcher.router_args(
        ["--port", "30000"],
        {
            "GPUFLEET_ROUTER_API_KEY_FILE": str(tmp_path / "api-key"),
            "GPUFLEET_ROUTER_ADMIN_API_KEY_FILE": str(tmp_path / "admin"),
        },
        FakeRouterArgs,
    )
    assert args.port == 30000
    assert args.api_key == "data-s3cret"
    assert args.control_plane_api_keys == [("gpufleet-admin", "gpufleet.sglang admin", "admin-s3cret", "admin")]


def test_no_files_no_keys(launcher):
    args = launcher.router_args(["--port", "1"], {}, FakeRouterArgs)
    assert args.api_key is None and args.control_plane_api_keys == []


@pytest.mark.parametrize(
    "argv",
    [
        ["--api-key", "x"],
        ["--api-key=x"],
        ["--control-plane-api-keys", "a:b:admin:x"],
        ["--tenant-api-key", "t:x"],
    ],
)
def test_key_flags_on_argv_are_refused(launcher, argv):
    with pytest.raises(launcher.LaunchError) as err:
        launcher.router_args(argv, {}, FakeRouterArgs)
    assert "refusing" in str(err.value) and "x" not in str(err.value).replace("refusing", "")


@pytest.mark.parametrize(
    "argv",
    [["--api", "s3cret"], ["--api=s3cret"], ["--control-plane", "a:b:admin:s3cret"], ["--health-check-int", "5"]],
)
def test_abbreviations_are_refused_without_echoing_the_value(launcher, argv):
    # argparse's allow_abbrev would read --api as --api-key: the launcher allows no abbreviation,
    # and names only the option (argparse's own error would print the value after it).
    with pytest.raises(launcher.LaunchError) as err:
        launcher.router_args(argv, {}, FakeRouterArgs)
    assert "unknown or abbreviated option " + argv[0].split("=")[0] in str(err.value)
    assert "s3cret" not in str(err.value)


def test_an_empty_key_file_is_an_error(launcher, tmp_path):
    (tmp_path / "admin").write_text("\n")
    with pytest.raises(launcher.LaunchError) as err:
        launcher.router_args([], {"GPUFLEET_ROUTER_ADMIN_API_KEY_FILE": str(tmp_path / "admin")}, FakeRouterArgs)
    assert "admin key file" in str(err.value) and "empty" in str(err.value)


def test_the_parser_is_strict(launcher):
    parser = launcher.build_parser(FakeRouterArgs)
    assert isinstance(parser, argparse.ArgumentParser) and parser.allow_abbrev is False
