#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sglang_nccl_transport
short_description: Check that NCCL inside a running SGLang rank uses the expected fabric (IB or RoCE)
version_added: 0.1.0
description:
  - Reads the NCCL debug files (C(NCCL_DEBUG=INFO), C(NCCL_DEBUG_SUBSYS=INIT,NET), C(NCCL_DEBUG_FILE)) that the
    unit's processes wrote since its current main process started, one per process (SGLang runs a scheduler per
    GPU), and judges NCCL's own lines (C(Using network IB) and the device list of C(NET/IB) such as
    C([0]mlx5_0:1/IB)) against the expected transport and compute HCAs.
  - A C(NET/Socket) fallback, a missing HCA, another link layer or no debug file at all is a finding naming the
    rank, the file, what NCCL reported and the likely causes. The module does not fail on a finding; it returns
    C(ok=false) and the caller (the sglang_server role) stops and reports the group.
  - Optionally writes a node-exporter textfile C(gpufleet_nccl_transport_ok{model_group,node_rank,expected,observed})
    and removes debug files of earlier starts.
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  unit:
    description: The rank's systemd unit; its C(ExecMainStartTimestamp) bounds which debug files count.
    type: str
    required: true
  debug_dir:
    description: Directory of the unit's NCCL debug files (the directory of C(NCCL_DEBUG_FILE)).
    type: path
    required: true
  pattern:
    description: Glob of the debug files in O(debug_dir) (C(NCCL_DEBUG_FILE=<dir>/nccl.%h.%p) gives C(nccl.*)).
    type: str
    default: nccl.*
  expected:
    description: The transport the fabric facts expect; C(socket) is not held (always ok).
    type: str
    required: true
    choices: [ib, roce, socket]
  expected_hcas:
    description: The compute HCAs (C(mlx5_0) or C(mlx5_0:1)) NCCL must use, from the fabric facts; empty checks none.
    type: list
    elements: str
    default: []
  group:
    description: Model group, named in the finding and the textfile.
    type: str
    default: ""
  node_rank:
    description: Node rank, named in the finding and the textfile.
    type: str
    default: ""
  host:
    description: Host name, named in the finding.
    type: str
    default: ""
  timeout:
    description: Seconds to wait for every debug file to show NCCL's network choice.
    type: int
    default: 30
  textfile:
    description: Node-exporter textfile to write the result to; empty writes none.
    type: path
  prune:
    description: Remove debug files older than the unit's current start.
    type: bool
    default: true
  started_at:
    description: Epoch seconds of the engine's start, instead of reading the unit's C(ExecMainStartTimestamp).
    type: float
extends_documentation_fragment:
  - gpufleet.sglang.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Judge NCCL's transport on this rank
  gpufleet.sglang.sglang_nccl_transport:
    unit: sglang-r1_a
    debug_dir: /var/log/sglang/sglang-r1_a
    expected: ib
    expected_hcas: [mlx5_0:1, mlx5_1:1]
    group: r1_a
    node_rank: "1"
    textfile: /var/lib/prometheus/node-exporter/gpufleet_nccl_transport.prom
  register: nccl
"""

RETURN = r"""
ok:
  description: Whether every process of the rank uses the expected transport and HCAs.
  returned: always
  type: bool
expected:
  description: The expected transport.
  returned: always
  type: str
observed:
  description: What NCCL reported (C(ib), C(roce), C(socket), C(none) without lines).
  returned: always
  type: str
detail:
  description: The finding (rank, file, NCCL's lines, likely causes), or C(ok).
  returned: always
  type: str
files:
  description: The debug files judged (this start's, newest first).
  returned: always
  type: list
  elements: str
evidence:
  description: NCCL's lines that decided.
  returned: always
  type: list
  elements: str
pruned:
  description: Debug files of earlier starts removed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
"""

import glob
import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.atomic_file import write_atomic
from ansible_collections.gpufleet.sglang.plugins.module_utils.nccl_debug import (
    Verdict,
    judge_rank,
    parse,
    prom_text,
    select_current,
)

MAX_READ = 4 * 1024 * 1024


def unit_started_at(module, unit):
    """Epoch seconds of the unit's main process start, or None when it has no main process."""
    rc, out, err = module.run_command(
        ["systemctl", "show", "--property=MainPID", "--property=ExecMainStartTimestampMonotonic", unit]
    )
    props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    if (
        rc != 0
        or props.get("MainPID", "0") in ("", "0")
        or not props.get("ExecMainStartTimestampMonotonic", "0").isdigit()
    ):
        return None
    mono = int(props["ExecMainStartTimestampMonotonic"]) / 1e6
    return time.time() - (time.monotonic() - mono)


def read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_READ).decode("utf-8", "replace")
    except OSError as exc:
        return "unreadable: %s" % exc


def main():
    module = AnsibleModule(
        argument_spec=dict(
            unit=dict(type="str", required=True),
            debug_dir=dict(type="path", required=True),
            pattern=dict(type="str", default="nccl.*"),
            expected=dict(type="str", required=True, choices=["ib", "roce", "socket"]),
            expected_hcas=dict(type="list", elements="str", default=[]),
            group=dict(type="str", default=""),
            node_rank=dict(type="str", default=""),
            host=dict(type="str", default=""),
            timeout=dict(type="int", default=30),
            textfile=dict(type="path"),
            prune=dict(type="bool", default=True),
            started_at=dict(type="float"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    where = (
        " ".join(
            x
            for x in (
                "group %s" % p["group"] if p["group"] else "",
                "rank %s" % p["node_rank"] if p["node_rank"] != "" else "",
                p["host"],
            )
            if x
        )
        or p["unit"]
    )
    started_at = p["started_at"] if p["started_at"] is not None else unit_started_at(module, p["unit"])
    files, stale = [], []
    if started_at is None:
        verdict = Verdict(
            False,
            p["expected"],
            "none",
            "%s: unit %s has no running main process, so NCCL's lines cannot be judged" % (where, p["unit"]),
        )
    else:
        deadline = time.monotonic() + max(p["timeout"], 0)
        while True:
            entries = [
                (f, os.path.getmtime(f))
                for f in glob.glob(os.path.join(p["debug_dir"], p["pattern"]))
                if os.path.isfile(f)
            ]
            files, stale = select_current(entries, started_at)
            contents = [(f, read(f)) for f in files]
            verdict = judge_rank(contents, p["expected"], p["expected_hcas"], where)
            settled = contents and all(parse(text).networks for _f, text in contents)
            if verdict.ok or settled or time.monotonic() >= deadline:
                break
            time.sleep(1)

    changed = False
    pruned = stale if p["prune"] else []
    if pruned and not module.check_mode:
        for path in pruned:
            try:
                os.unlink(path)
            except OSError:
                pass
    changed = changed or bool(pruned)

    if p["textfile"]:
        text = prom_text(p["group"], p["node_rank"], p["expected"], verdict.observed, verdict.ok)
        try:
            with open(p["textfile"], "r") as handle:
                current = handle.read()
        except OSError:
            current = None
        if current != text:
            changed = True
            if not module.check_mode:
                os.makedirs(os.path.dirname(p["textfile"]), mode=0o755, exist_ok=True)
                write_atomic(p["textfile"], text.encode(), 0o644)

    module.exit_json(
        changed=changed,
        ok=verdict.ok,
        expected=verdict.expected,
        observed=verdict.observed,
        detail=verdict.problem or "ok",
        files=files,
        evidence=verdict.evidence,
        pruned=pruned,
    )


if __name__ == "__main__":
    main()
