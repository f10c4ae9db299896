"""The README's Layout section names what the tree holds (issue 17): every top-level folder and file a
contributor edits, every role, every plugins/ kind, every tools/ and tests/ folder."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Checkout plumbing, not layout: the collection symlink, CI and tool configuration, metadata files.
NOT_LAYOUT = {"collections", "meta", "site.yml", "Makefile", "README.md", "ansible.cfg", "galaxy.yml"}


def layout():
    text = (ROOT / "README.md").read_text()
    match = re.search(r"^## Layout\n+```\n(.*?)^```", text, re.S | re.M)
    assert match, "README.md has no ## Layout section with a code block"
    return match.group(1)


def names_in(folder):
    return sorted(
        p.name for p in (ROOT / folder).iterdir() if not p.name.startswith((".", "_")) and p.name != "README.md"
    )


def missing(names, text):
    return [n for n in names if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(n.replace(".py", "")), text)]


def test_top_level_entries_are_in_the_layout():
    top = [n for n in names_in(".") if n not in NOT_LAYOUT and not n.startswith("venv")]
    assert missing(top, layout()) == []


def test_every_role_is_in_the_layout():
    assert missing(names_in("roles"), layout()) == []


def test_plugins_tools_and_tests_folders_are_in_the_layout():
    folders = [p for base in ("plugins", "tools", "tests") for p in names_in(base) if (ROOT / base / p).is_dir()]
    assert missing(folders, layout()) == []
