#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: converge_state
short_description: Record what a full converge left on a host, or check that it still holds
version_added: 0.1.0
description:
  - C(state=stamp) writes the converge stamp (root-only JSON) after a full converge of site.yml - the digests of
    the run's inputs (from M(gpufleet.sglang.converge_inputs)) and a fingerprint of what the roles manage on the
    host - the content, mode and owner of the files the O(watch) globs match and the state of the systemd units
    the O(units) patterns match.
  - C(state=check) compares the stamp with the run's inputs and the host as it is now, in one round trip, and
    returns C(converged) with every reason it is not (a changed input, a changed, new or missing file, a unit in
    another state, an old stamp).
  - Checks only what the stamp lists. Weights, package versions and venv contents are not watched (they are too
    large to fingerprint on every run); a full converge (C(-e gpufleet_converge_fast=false)) re-checks them.
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  state:
    description: C(check) compares, C(stamp) records.
    type: str
    choices: [check, stamp]
    default: check
  inputs:
    description: Part name to digest, from M(gpufleet.sglang.converge_inputs) (C(collection), C(plan), C(fleet), C(controller_files)).
    type: dict
    required: true
  watch:
    description: Globs of the files the roles manage on the host (C(**) for any depth).
    type: list
    elements: str
    default: []
  units:
    description: Glob patterns of the systemd units whose state (active/sub state and enablement) is recorded.
    type: list
    elements: str
    default: []
  commands:
    description:
      - Read-only command lines (split like a shell, run without one) whose output shows live state the files do
        not - the loaded nftables table of the firewall role; the stamp keeps a digest of each output and its exit
        status. A missing program counts as its own state.
    type: list
    elements: str
    default: []
  max_age_h:
    description: A stamp older than this many hours does not count (C(0) never expires).
    type: float
    default: 24
  path:
    description: The stamp file (mode 0600).
    type: path
    default: /var/lib/gpufleet/converge.json
extends_documentation_fragment:
  - gpufleet.sglang.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
notes:
  - C(state=stamp) always reports C(changed=false) - the stamp is the collection's bookkeeping, not a change to what
    the host serves - and returns C(recorded=true) when the recorded state differs from the previous stamp.
"""

EXAMPLES = r"""
- name: Compare the host with its converge stamp
  gpufleet.sglang.converge_state:
    inputs: "{{ __converge_inputs.inputs }}"
    watch: [/etc/sglang/**, /etc/systemd/system/sglang*.service]
    units: ["sglang*"]
  register: converge

- name: Record the converge
  gpufleet.sglang.converge_state:
    state: stamp
    inputs: "{{ __converge_inputs.inputs }}"
    watch: [/etc/sglang/**, /etc/systemd/system/sglang*.service]
    units: ["sglang*"]
"""

RETURN = r"""
converged:
  description: Whether the stamp matches the inputs and the host (C(state=check)); C(true) after C(state=stamp).
  returned: always
  type: bool
reasons:
  description: Why the host is not converged as stamped; empty when it is.
  returned: always
  type: list
  elements: str
stamped_at:
  description: Epoch seconds of the stamp compared (or written); C(0) without one.
  returned: always
  type: int
recorded:
  description: Whether C(state=stamp) recorded a state other than the previous stamp's.
  returned: always
  type: bool
"""

import json
import os
import shlex
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.atomic_file import write_atomic
from ansible_collections.gpufleet.sglang.plugins.module_utils.converge_state import (
    compare,
    make_stamp,
    observe,
    same_state,
)


def _read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["check", "stamp"], default="check"),
            inputs=dict(type="dict", required=True),
            watch=dict(type="list", elements="str", default=[]),
            units=dict(type="list", elements="str", default=[]),
            commands=dict(type="list", elements="str", default=[]),
            max_age_h=dict(type="float", default=24),
            path=dict(type="path", default="/var/lib/gpufleet/converge.json"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    inputs = {str(k): str(v) for k, v in p["inputs"].items()}
    systemctl = module.get_bin_path("systemctl")

    def run(argv):
        if not systemctl:
            return ""
        rc, out, _err = module.run_command([systemctl] + argv[1:])
        return out if rc == 0 else ""

    def run_rc(command):
        argv = shlex.split(command)
        if not argv or not module.get_bin_path(argv[0]):
            return 127, ""
        rc, out, _err = module.run_command(argv)
        return rc, out

    old = _read(p["path"])
    now = time.time()
    if p["state"] == "check":
        reasons = compare(old, inputs, None, now, p["max_age_h"] * 3600, p["watch"], p["units"], p["commands"])
        if not reasons:
            # Inputs match: now what the host has, for the stamp's own watch lists.
            reasons = compare(
                old,
                inputs,
                observe(old["watch"], old["unit_patterns"], run, old.get("commands") or [], run_rc),
                now,
                p["max_age_h"] * 3600,
                p["watch"],
                p["units"],
                p["commands"],
            )
        module.exit_json(
            changed=False,
            converged=not reasons,
            reasons=reasons,
            stamped_at=int((old or {}).get("written", 0)),
            recorded=False,
        )

    observed = observe(p["watch"], p["units"], run, p["commands"], run_rc)
    stamp = make_stamp(inputs, observed, now, p["watch"], p["units"], p["commands"])
    recorded = not same_state(old, stamp)
    if not module.check_mode:
        directory = os.path.dirname(p["path"])
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            write_atomic(p["path"], json.dumps(stamp, indent=1, sort_keys=True).encode("utf-8"), 0o600)
        except OSError as exc:
            module.fail_json(msg="cannot write the converge stamp %s: %s" % (p["path"], exc))
    module.exit_json(changed=False, converged=True, reasons=[], stamped_at=int(now), recorded=recorded)


if __name__ == "__main__":
    main()
