# Shared test loaders. Tests import them with `from conftest import ...` (pytest puts this
# directory on sys.path when it loads this file, before any test module).
#
# The collection is importable as ansible_collections.gpufleet.sglang from a checkout:
# collections/ansible_collections/gpufleet/sglang links to the repo root.
from __future__ import annotations

import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
REPO = ROOT
sys.path.insert(0, str(ROOT / "collections"))
PLAYBOOK = shutil.which("ansible-playbook", path=str(pathlib.Path(sys.executable).parent)) or "ansible-playbook"


def load_file(path, name=None):
    """Import a Python file that is no package's module (a tool, a role's file, a test double)."""
    path = pathlib.Path(path)
    spec = importlib.util.spec_from_file_location(name or path.stem, str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_fake_nvidia_smi():
    """The nvidia-smi test double (tests/fixtures/gpu/fake_nvidia_smi.py)."""
    return load_file(ROOT / "tests" / "fixtures" / "gpu" / "fake_nvidia_smi.py", "fake_nvidia_smi")


def plain_namespace(path):
    """The top-level names of a Python file of plain data (a module's DOCUMENTATION/RETURN, a catalog),
    executed without its imports being resolved through the collection."""
    namespace = {}
    exec(compile(pathlib.Path(path).read_text(), str(path), "exec"), namespace)
    return namespace


def run_playbook(args, tmp_path, timeout=300):
    """``ansible-playbook ARGS`` as a user runs it from this checkout (the collection through collections/,
    the repository's ansible.cfg, no colour, a private local temp); returns (rc, stdout + stderr)."""
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"),
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_LOCAL_TEMP=str(pathlib.Path(tmp_path) / "tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
    )
    res = subprocess.run(
        [PLAYBOOK] + [str(a) for a in args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=str(ROOT),
        check=False,
    )
    return res.returncode, res.stdout + res.stderr
