# Shared test loaders. Tests import them with `from conftest import ...` (pytest puts this
# directory on sys.path when it loads this file, before any test module).
#
# The collection is importable as ansible_collections.gpufleet.sglang from a checkout:
# collections/ansible_collections/gpufleet/sglang links to the repo root.
from __future__ import annotations

import importlib.util
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
REPO = ROOT
sys.path.insert(0, str(ROOT / "collections"))


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
