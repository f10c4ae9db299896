# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ships in the collection tarball: no test doubles, no reaching outside a role."""

import pathlib
import subprocess
import tarfile

REPO = pathlib.Path(__file__).resolve().parents[2]
DOUBLES = ("sglang_emulator.py", "sglang_loadgen.py", "assemble_emulator.py")
# the emulator's source package (tools/doubles/sglang_emulator/, assembled into sglang_emulator.py)
EMULATOR_PACKAGE = "sglang_emulator"


def test_doubles_do_not_ship(tmp_path):
    subprocess.run(
        ["ansible-galaxy", "collection", "build", "--force", "--output-path", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (tarball,) = tmp_path.glob("*.tar.gz")
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    assert any(n.startswith("roles/sglang_server/") for n in names)
    shipped = [
        n
        for n in names
        if n.rsplit("/", 1)[-1] in DOUBLES or n.startswith("tools/") or EMULATOR_PACKAGE in n.split("/")
    ]
    assert shipped == []
    # what the check above looks for is really there in the checkout: the package's modules included
    modules = sorted(p.name for p in (REPO / "tools" / "doubles" / EMULATOR_PACKAGE).glob("*.py"))
    assert "__init__.py" in modules and "main.py" in modules


def test_no_role_reads_files_through_role_path_parents():
    offenders = []
    for path in sorted((REPO / "roles").rglob("*.yml")):
        text = path.read_text(encoding="utf-8")
        if "role_path" in text and "/../.." in text:
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_roles_take_a_groups_hosts_from_the_plan():
    """The plan publishes each group's ``hosts`` (rank order); no role or playbook rebuilds it from ``nodes``."""
    offenders = []
    for base in ("roles", "playbooks"):
        for path in sorted((REPO / base).rglob("*.yml")):
            text = path.read_text(encoding="utf-8")
            if "nodes | map(attribute='host')" in text or 'nodes | map(attribute="host")' in text:
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
