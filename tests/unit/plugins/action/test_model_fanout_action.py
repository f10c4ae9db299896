"""model_fanout as an action plugin (issue 17): holders and sites are read from the play hosts'
variables on the controller; the plan and the pipeline come back; bad input is a message."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils.model_fanout import SOURCE, FanoutError, fanout

ROOT = pathlib.Path(__file__).resolve().parents[4]
PLAYBOOK = shutil.which("ansible-playbook", path=str(pathlib.Path(sys.executable).parent)) or "ansible-playbook"
HOSTS = ["h%d" % i for i in range(1, 9)]


def task_vars(holders=(), sites=None):
    hostvars = dict(
        (h, {"__model_sync_holder": h in holders, "__model_sync_host_site": (sites or {}).get(h, "")}) for h in HOSTS
    )
    return {"ansible_play_hosts": list(HOSTS), "hostvars": hostvars}


def test_holders_and_sites_come_from_the_hosts_variables():
    result = fanout({"pipeline": True}, task_vars(holders=["h4"], sites={"h7": "b", "h8": "b"}))
    assert result["holders"] == ["h4"] and result["seeds"] == ["h7"]
    assert result["wave"] == {"h1": "h4"}
    assert result["pipeline"]["copies"]["h8"] == {"src": "h7", "src_complete": False, "level": 2}
    assert result["pipeline"]["copies"]["h1"] == {"src": "h4", "src_complete": True, "level": 1}


def test_string_booleans_from_set_fact_count():
    tv = task_vars()
    tv["hostvars"]["h2"]["__model_sync_holder"] = "True"
    tv["hostvars"]["h3"]["__model_sync_holder"] = "False"
    assert fanout({}, tv)["holders"] == ["h2"]


def test_nobody_holds_a_copy_one_seed_fetches():
    result = fanout({"seed_count": "1", "peer_fanout": "1", "max_parallel": "8", "pipeline": "true"}, task_vars())
    assert result["seeds"] == ["h1"] and result["pipeline"]["copies"]["h1"]["src"] == SOURCE


@pytest.mark.parametrize(
    "args, message",
    [
        ({"peer_fanout": "two"}, "model_sync_peer_fanout must be an integer >= 1, got 'two'"),
        ({"seed_count": 0}, "model_sync_seed_count must be an integer >= 1, got 0"),
        ({"max_parallel": True}, "model_sync_max_parallel must be an integer >= 1, got True"),
        ({"preferred_seeds": "h1"}, "model_sync_seed_hosts must be a list of host names"),
        ({"pipline": True}, "unknown option(s) pipline"),
        ({"pipeline": "maybe"}, "expected a boolean, got 'maybe'"),
    ],
)
def test_bad_input_is_a_message(args, message):
    with pytest.raises(FanoutError) as err:
        fanout(args, task_vars())
    assert message in str(err.value)


INVENTORY = """
all:
  hosts:
    h1: {holds: false, site: a}
    h2: {holds: true, site: a}
    h3: {holds: false, site: a}
    h4: {holds: false, site: b}
  vars: {ansible_connection: local, ansible_python_interpreter: "%s"}
"""

PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - gpufleet.sglang.model_fanout:
        holder_var: holds
        site_var: site
        pipeline: true
      run_once: true
      register: r
    - ansible.builtin.copy:
        content: "{{ r | to_json }}"
        dest: "%s"
      run_once: true
      delegate_to: localhost
    - gpufleet.sglang.model_fanout:
        holder_var: holds
        peer_fanout: nope
      run_once: true
"""


def test_through_ansible_playbook(tmp_path):
    out = tmp_path / "r.json"
    (tmp_path / "inv.yml").write_text(INVENTORY % sys.executable)
    (tmp_path / "play.yml").write_text(PLAY % out)
    env = {
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / "collections"),
        "PATH": "/usr/bin:/bin",
        "ANSIBLE_NOCOLOR": "1",
        "HOME": str(tmp_path),
    }
    proc = subprocess.run(
        [PLAYBOOK, "-i", str(tmp_path / "inv.yml"), str(tmp_path / "play.yml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
        env=env,
        cwd=str(tmp_path),
        timeout=300,
        check=False,
    )
    result = json.loads(out.read_text())
    assert result["holders"] == ["h2"] and result["seeds"] == ["h4"]
    assert result["pipeline"]["copies"]["h1"] == {"src": "h2", "src_complete": True, "level": 1}
    assert result["changed"] is False
    assert proc.returncode == 2
    assert "model_sync_peer_fanout must be an integer >= 1, got 'nope'" in proc.stdout
    assert "Traceback" not in proc.stdout
