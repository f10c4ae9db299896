# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side fan-out planning for model_sync: which hosts hold a verified copy, their
sites, and who copies from whom (seeds, waves, or one pipeline), read from the play's hosts'
variables and computed by module_utils.model_fanout; never contacts a host."""

from __future__ import annotations

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.gpufleet.sglang.plugins.module_utils.model_fanout import FanoutError, fanout


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        try:
            result.update(fanout(dict(self._task.args), task_vars))
        except FanoutError as exc:
            result.update(failed=True, msg=to_native(exc))
            return result
        result["changed"] = False
        return result
