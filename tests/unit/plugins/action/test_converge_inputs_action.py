"""gpufleet.sglang.converge_inputs through real ``ansible-playbook`` runs (issue 19, converge cost): which changes
count as inputs, which do not, and that no value (a secret) leaves it, -vvv included."""

from __future__ import annotations

import json
import pathlib

from conftest import run_playbook

ROOT = pathlib.Path(__file__).resolve().parents[4]

INVENTORY = """
all:
  children:
    sglang_model_groups:
      children:
        g1:
          hosts:
            h1: {ansible_host: 10.0.0.1, sglang_api_key: SECRET-KEY-4242}
            h2: {ansible_host: 10.0.0.2}
          vars: {sglang_model_path: /models/m, unrelated_var: 1}
"""

PLAY = """
- hosts: h1
  gather_facts: false
  tasks:
    - gpufleet.sglang.converge_inputs:
        hosts: [h1, h2]
        controller_paths: "{{ paths | default([]) }}"
      register: r
    - ansible.builtin.copy:
        content: "{{ r.inputs | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
      delegate_to: localhost
"""


def inputs(tmp_path, *extra, verbose=False):
    inv = tmp_path / "hosts.yml"
    inv.write_text(INVENTORY)
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    out = tmp_path / "out.json"
    argv = [play, "-i", inv, "-c", "local", "-e", "out=%s" % out] + list(extra) + (["-vvv"] if verbose else [])
    rc, said = run_playbook(argv, tmp_path)
    assert rc == 0, said[-3000:]
    return json.loads(out.read_text()), said


def test_inputs_change_with_the_fleets_variables_only(tmp_path):
    base, said = inputs(tmp_path, verbose=True)
    assert set(base) == {"collection", "plan", "fleet", "controller_files"}
    assert "SECRET-KEY-4242" not in said and "SECRET-KEY-4242" not in json.dumps(base)
    assert inputs(tmp_path)[0] == base  # stable
    # A collection variable (extra vars count), a changed secret: the fleet part only.
    for extra in (["-e", "sglang_mem_fraction_static=0.8"], ["-e", "sglang_api_key=SECRET-KEY-4343"]):
        changed = inputs(tmp_path, *extra)[0]
        assert changed["fleet"] != base["fleet"]
        assert {k: v for k, v in changed.items() if k != "fleet"} == {k: v for k, v in base.items() if k != "fleet"}
    # Neither another tool's variable nor the converge knobs themselves.
    assert inputs(tmp_path, "-e", "unrelated_var=2")[0] == base
    assert inputs(tmp_path, "-e", "gpufleet_converge_fast=false")[0] == base


def test_controller_files_count_by_content(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "smg-1.whl").write_bytes(b"1")
    arg = ["-e", json.dumps({"paths": [str(wheels)]})]
    first = inputs(tmp_path, *arg)[0]
    assert inputs(tmp_path, *arg)[0] == first
    (wheels / "smg-1.whl").write_bytes(b"2")
    second = inputs(tmp_path, *arg)[0]
    assert second["controller_files"] != first["controller_files"]
    assert second["fleet"] == first["fleet"]
