# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A role's ``__<role>_`` variables (registers, internal vars and facts) are its own: another role reads
a documented output instead (CONTRIBUTING.md; e.g. sglang_server_changed, sglang_server_smoke)."""

import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[3]
ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if p.is_dir())
PRIVATE = re.compile(r"__([a-z0-9_]+)")


def _owner(name):
    """The role whose private variable ``__name`` is (the longest role name it starts with), or None."""
    owners = [role for role in ROLES if name.startswith(role + "_")]
    return max(owners, key=len) if owners else None


def test_the_owner_of_a_private_name_is_the_longest_matching_role():
    assert _owner("sglang_server_r_wait") == "sglang_server"
    assert _owner("sglang_rollout_batch") == "sglang_rollout"
    assert _owner("ansible_facts") is None


def test_no_role_reads_another_roles_private_variables():
    offenders = []
    for role in ROLES:
        for path in sorted((REPO / "roles" / role).rglob("*")):
            if path.suffix not in (".yml", ".yaml", ".j2"):
                continue
            for match in PRIVATE.finditer(path.read_text(encoding="utf-8")):
                owner = _owner(match.group(1))
                if owner is not None and owner != role:
                    offenders.append("%s: %s" % (path.relative_to(REPO), match.group(0)))
    assert offenders == []
