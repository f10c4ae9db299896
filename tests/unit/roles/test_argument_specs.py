"""Every role's meta/argument_specs.yml matches its defaults/main.yml (issue 17), as
prometheus-community/ansible checks in CI (.github/scripts/lint_arguments_spec.sh): the same
variable names, and where a default is a plain value (not a template), the same default.
"""

from __future__ import annotations

import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLES = sorted(p.parent.parent for p in (ROOT / "roles").glob("*/meta/argument_specs.yml"))
MISSING = object()


def defaults_of(role):
    path = role / "defaults" / "main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def options_of(role):
    spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    return spec["argument_specs"]["main"].get("options") or {}


def spec_problems(defaults, options):
    problems = []
    for name in sorted(set(defaults) - set(options)):
        problems.append("%s: in defaults/main.yml, not in meta/argument_specs.yml" % name)
    for name in sorted(set(options) - set(defaults)):
        if options[name].get("required"):
            continue  # required: the inventory must set it, there is nothing to default
        problems.append("%s: in meta/argument_specs.yml, not in defaults/main.yml" % name)
    for name in sorted(set(defaults) & set(options)):
        value, spec = defaults[name], options[name]
        if isinstance(value, str) and "{{" in value:
            if "default" in spec:
                problems.append(
                    "%s: defaults/main.yml computes it (%s), the spec states default %r; drop the "
                    "spec's default and describe it" % (name, value.strip(), spec["default"])
                )
            continue
        stated = spec.get("default", MISSING)
        if value is None:
            if stated not in (MISSING, None):
                problems.append("%s: defaults/main.yml has null, the spec default %r" % (name, stated))
        elif stated is MISSING:
            problems.append("%s: defaults/main.yml has %r, the spec states no default" % (name, value))
        elif stated != value or type(stated) is not type(value):
            problems.append("%s: defaults/main.yml has %r, the spec default %r" % (name, value, stated))
    return problems


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_argument_specs_match_defaults(role):
    assert spec_problems(defaults_of(role), options_of(role)) == []


def test_every_role_has_argument_specs():
    assert sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir()) == [r.name for r in ROLES]


@pytest.mark.parametrize(
    "defaults, options, expected",
    [
        ({"r_a": 1}, {}, "r_a: in defaults/main.yml, not in meta/argument_specs.yml"),
        ({}, {"r_a": {"type": "int"}}, "r_a: in meta/argument_specs.yml, not in defaults/main.yml"),
        ({"r_a": 1}, {"r_a": {"default": 2}}, "r_a: defaults/main.yml has 1, the spec default 2"),
        ({"r_a": "1"}, {"r_a": {"default": 1}}, "r_a: defaults/main.yml has '1', the spec default 1"),
        ({"r_a": []}, {"r_a": {"type": "list"}}, "r_a: defaults/main.yml has [], the spec states no default"),
        ({"r_a": None}, {"r_a": {"default": 3}}, "r_a: defaults/main.yml has null, the spec default 3"),
        ({"r_a": "{{ x }}"}, {"r_a": {"default": ""}}, "r_a: defaults/main.yml computes it ({{ x }})"),
    ],
)
def test_the_check_finds_each_kind_of_drift(defaults, options, expected):
    problems = spec_problems(defaults, options)
    assert len(problems) == 1 and problems[0].startswith(expected)


def test_required_options_need_no_default():
    assert spec_problems({}, {"r_a": {"required": True}}) == []
