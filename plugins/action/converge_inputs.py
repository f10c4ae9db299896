# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side digests of what a site.yml run is made of (never contacts a host).

The parts, each a sha256 (module_utils.converge_state.INPUT_PARTS):
- ``collection``: the content of the collection's roles, plugins and playbooks;
- ``plan``: the plan fact (gpufleet.sglang.sglang_plan);
- ``fleet``: every host's groups and the values (templated, extra vars included) of its
  variables with the collection's prefixes, secrets included - only digests leave here;
- ``controller_files``: the controller paths the roles copy from (router wheels, the emulator
  checkout's tools/doubles, ``gpufleet_converge_controller_paths``).
"""

from __future__ import annotations

import os

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.gpufleet.sglang.plugins.module_utils.converge_state import digest, tree_digest

PREFIXES = ("gpufleet_", "sglang_", "nvidia_host_", "nccl_", "model_sync_", "gpu_verify_")
EXTRA_VARS = ("ansible_host", "ansible_port")
# Facts this run set before the check (the plan counts as its own part), and the converge
# knobs themselves (they change what is compared, not what a host gets; the watch lists are
# compared on their own).
_SKIP = ("sglang_plan",)
_SKIP_PREFIXES = ("gpufleet_converge",)
# Controller paths the roles copy from: variable -> the part of it that is copied.
PATH_VARS = {"sglang_router_wheel_dir": "", "sglang_server_emulator_checkout": "tools/doubles"}
_COLLECTION_DIRS = ("roles", "plugins", "playbooks")


def collection_root() -> str:
    """The collection's root (this file is plugins/action/converge_inputs.py)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _facts_of(hostvars, host):
    """Names of the facts set for ``host`` (they are outputs of runs, not inputs)."""
    vm = getattr(hostvars, "_variable_manager", None)
    names = set()
    for cache in ("_nonpersistent_fact_cache", "_fact_cache"):
        try:
            names.update(getattr(vm, cache).get(host, {}) or {})
        except Exception:  # pylint: disable=broad-except
            pass
    return names


def host_inputs(hostvars, host: str) -> dict:
    """``{var: templated value or the error it raised}`` for ``host``'s inputs, and its groups."""
    hv = hostvars[host]
    facts = _facts_of(hostvars, host)
    out = {}
    for name in sorted(hv.keys()):
        name = to_native(name)
        if name in _SKIP or name in facts or name.startswith(_SKIP_PREFIXES):
            continue
        if not (name.startswith(PREFIXES) or name in EXTRA_VARS):
            continue
        try:
            out[name] = hv[name]
        except Exception as exc:  # pylint: disable=broad-except
            # An undefined or failing template is an input too (the run fails the same way).
            out[name] = "<%s>" % type(exc).__name__
    out["group_names"] = sorted(hv.get("group_names") or [])
    return out


def controller_paths(hostvars, hosts, extra) -> list[str]:
    """The controller paths whose content counts, from every host's path variables and ``extra``."""
    paths = set(p for p in extra if p)
    for host in hosts:
        hv = hostvars[host]
        for var, sub in PATH_VARS.items():
            try:
                value = hv.get(var)
            except Exception:  # pylint: disable=broad-except
                continue
            if value:
                paths.add(os.path.join(to_native(value), sub) if sub else to_native(value))
    return sorted(paths)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("hosts", "controller_paths"))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        hosts = sorted(set(to_native(h) for h in self._task.args.get("hosts") or []))
        hostvars = task_vars["hostvars"]
        root = collection_root()
        fleet = {h: host_inputs(hostvars, h) for h in hosts}
        paths = controller_paths(hostvars, hosts, self._task.args.get("controller_paths") or [])
        result.update(
            changed=False,
            inputs={
                "collection": digest([[d, tree_digest(os.path.join(root, d))] for d in _COLLECTION_DIRS]),
                "plan": digest(task_vars.get("sglang_plan")),
                "fleet": digest(fleet),
                "controller_files": digest([[p, tree_digest(os.path.expanduser(p))] for p in paths]),
            },
        )
        return result
