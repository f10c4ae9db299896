"""The AWX / Automation Platform execution environment (execution-environment.yml, ansible-builder 3.x)
carries the controller's runtime requirements at requirements/controller.txt's pins (issue 17).

Building the image needs a container runtime and the base image's registry, neither reachable here;
what can be checked offline is checked: the schema ansible-builder validates (when ansible_builder is
importable) and the pins.
"""

from __future__ import annotations

import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
EE = ROOT / "execution-environment.yml"
CONTROLLER = ROOT / "requirements" / "controller.txt"
# Direct requirements that test, lint or develop the collection: not in the EE.
DEV_ONLY = {
    "molecule",
    "molecule-plugins",
    "docker",
    "requests",
    "pytest",
    "pytest-testinfra",
    "ansible-lint",
    "yamllint",
    "hypothesis",
    "ruff",
    "antsibull-changelog",
    "ansible-builder",
}
TOP_LEVEL = {
    "version",
    "images",
    "dependencies",
    "build_arg_defaults",
    "additional_build_files",
    "additional_build_steps",
    "options",
}


def pins(lines):
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        match = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^\s;]+)$", line)
        if match:
            out[match.group(1).lower()] = match.group(3)
        elif line:
            raise AssertionError("not an exact pin: %r" % line)
    return out


def controller_direct():
    """requirements/controller.txt's first block: the direct requirements (the rest are their dependencies)."""
    text = CONTROLLER.read_text()
    body = [line for line in text.splitlines() if not line.startswith("#")]
    blocks = "\n".join(body).strip().split("\n\n")
    return pins(blocks[0].splitlines())


def definition():
    return yaml.safe_load(EE.read_text())


def ee_pins(ee):
    deps = ee["dependencies"]
    lines = list(deps["python"]) + [deps["ansible_core"]["package_pip"]]
    return pins(lines)


def test_version_3_and_known_sections():
    ee = definition()
    assert ee["version"] == 3
    assert set(ee) <= TOP_LEVEL
    assert ee["images"]["base_image"]["name"]


def test_python_requirements_are_the_controllers_runtime_pins():
    direct = controller_direct()
    assert DEV_ONLY <= set(direct), "a dev-only name left requirements/controller.txt: update DEV_ONLY"
    runtime = dict((k, v) for k, v in direct.items() if k not in DEV_ONLY)
    assert ee_pins(definition()) == runtime


def test_the_interpreter_runs_ansible_core():
    # ansible-core 2.19's controller needs Python >= 3.11 (its setup.cfg python_requires).
    path = definition()["dependencies"]["python_interpreter"]["python_path"]
    version = tuple(int(x) for x in re.search(r"python(\d+)\.(\d+)$", path).groups())
    assert version >= (3, 11)


def test_ansible_builder_accepts_it():
    ee_schema = pytest.importorskip("ansible_builder.ee_schema", reason="ansible-builder not in this venv")
    ee_schema.validate_schema(definition())


@pytest.mark.parametrize(
    "lines, expected",
    [
        (["ansible==12.3.0", "matplotlib==3.11.2"], {"ansible": "12.3.0", "matplotlib": "3.11.2"}),
        (["molecule-plugins[docker]==26.10.12"], {"molecule-plugins": "26.10.12"}),
    ],
)
def test_pins_reads_exact_pins(lines, expected):
    assert pins(lines) == expected


def test_an_unpinned_requirement_is_refused():
    with pytest.raises(AssertionError, match="not an exact pin"):
        pins(["matplotlib>=3"])
