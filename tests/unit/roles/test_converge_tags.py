"""The converge stamp is written after --skip-tags in gpufleet_converge_ignored_skip_tags (issue 19): that is only
sound while no task of the collection carries one of them, or the stamp would record a converge that left tasks out."""

from __future__ import annotations

import pathlib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]


def tags_in(node):
    if isinstance(node, dict):
        tags = node.get("tags")
        if isinstance(tags, str):
            yield tags
        elif isinstance(tags, list):
            yield from (str(t) for t in tags)
        for value in node.values():
            yield from tags_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from tags_in(item)


def test_no_task_carries_an_ignored_skip_tag():
    defaults = yaml.safe_load((ROOT / "roles" / "gpufleet_converge" / "defaults" / "main.yml").read_text())
    ignored = set(defaults["gpufleet_converge_ignored_skip_tags"])
    assert ignored  # molecule's own
    carried = {}
    files = list((ROOT / "roles").glob("*/tasks/*.yml")) + list((ROOT / "playbooks").glob("*.yml"))
    files += list((ROOT / "roles").glob("*/handlers/*.yml"))
    for path in files:
        for tag in tags_in(yaml.safe_load(path.read_text())):
            carried.setdefault(tag, str(path.relative_to(ROOT)))
    assert len(carried) > 10  # the walk finds the collection's tags
    assert {t: carried[t] for t in ignored if t in carried} == {}
