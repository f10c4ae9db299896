# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters used by the roles; logic lives in module_utils.sglang_unit."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_unit import (
    exec_line,
    parity_problems,
    runtime_argv,
)


def systemd_exec(argv):
    if not isinstance(argv, (list, tuple)):
        raise AnsibleFilterError("systemd_exec expects an argv list, got %s" % type(argv).__name__)
    try:
        return exec_line(argv)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


def sglang_runtime_argv(node, runtime, **kwargs):
    try:
        return runtime_argv(node, runtime, **kwargs)
    except (KeyError, ValueError) as exc:
        raise AnsibleFilterError("sglang_runtime_argv: %s" % exc)


def sglang_parity_problems(hosts, group, identities, argvs):
    nodes = [{"host": h, "identity": i, "argv": a} for h, i, a in zip(hosts, identities, argvs)]
    return parity_problems(group, nodes)


class FilterModule(object):
    def filters(self):
        return {
            "systemd_exec": systemd_exec,
            "sglang_runtime_argv": sglang_runtime_argv,
            "sglang_parity_problems": sglang_parity_problems,
        }
