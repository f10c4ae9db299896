"""The router launcher keeps the API key off the command line."""
from __future__ import annotations

import importlib.util
import pathlib
import sys
import types

import pytest

PATH = pathlib.Path(__file__).resolve().parents[2] / "roles" / "sglang_router" / "files" / "sglang_router_launch.py"


@pytest.fixture
def launcher(monkeypatch):
    # sglang_router itself is not installed in the test venv: a stand-in module for the import.
    fake = types.ModuleType("sglang_router.launch_router")
    fake.launch_router = lambda args: args
    fake.parse_router_args = lambda argv: argv
    monkeypatch.setitem(sys.modules, "sglang_router", types.ModuleType("sglang_router"))
    monkeypatch.setitem(sys.modules, "sglang_router.launch_router", fake)
    spec = importlib.util.spec_from_file_location("sglang_router_launch", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_key_comes_from_the_file(launcher, tmp_path):
    key = tmp_path / "api-key"
    key.write_text("s3cret-key\n")
    argv = launcher.router_argv(["--port", "30000"], {"GPUFLEET_ROUTER_API_KEY_FILE": str(key)})
    assert argv == ["--port", "30000", "--api-key", "s3cret-key"]


def test_no_file_no_key(launcher):
    assert launcher.router_argv(["--port", "1"], {}) == ["--port", "1"]


def test_key_on_argv_is_refused(launcher):
    with pytest.raises(SystemExit) as err:
        launcher.router_argv(["--api-key", "x"], {})
    assert err.value.code == 2
