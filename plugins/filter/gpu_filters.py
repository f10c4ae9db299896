# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU filters; logic lives in module_utils.gpu_preflight."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.sglang.plugins.module_utils.gpu_preflight import group_problems


def _facts_of(hostvars, host):
    if host not in hostvars:
        return None
    found = hostvars[host]
    return dict((key, found.get(key)) for key in ("gpufleet_gpus", "gpufleet_gpu_driver") if key in found)


def gpu_group_problems(hosts, hostvars, group):
    if isinstance(hosts, (str, bytes)) or not hasattr(hosts, "__iter__"):
        raise AnsibleFilterError(
            "gpu_group_problems expects the group's host names as a list, got %s" % type(hosts).__name__
        )
    if not isinstance(hostvars, Mapping) and not hasattr(hostvars, "__getitem__"):
        raise AnsibleFilterError(
            "gpu_group_problems: hostvars must map host names to their variables, got %s" % type(hostvars).__name__
        )
    return group_problems(group, [(host, _facts_of(hostvars, host)) for host in hosts])


class FilterModule(object):
    def filters(self):
        return {
            "gpu_group_problems": gpu_group_problems,
        }
