# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of gpufleet.sglang.sglang_node_files: renders each ``template`` entry (through
ansible.builtin.template's lookup: the role's templates/ search path, the task's variables, the
template action's defaults of trim_blocks on, lstrip_blocks off, newline \\n) and reads each ``src``
entry, then runs the module once with content only. Nothing rendered is returned or displayed."""

from __future__ import annotations

import base64
import json

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase

_ARGS = frozenset(("directories", "files", "absent"))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = _ARGS

    def _render(self, name, task_vars):
        lookup = self._shared_loader_obj.lookup_loader.get(
            "ansible.builtin.template", loader=self._loader, templar=self._templar
        )
        try:
            return to_text(lookup.run([name], variables=task_vars)[0])
        except AnsibleError as exc:
            raise AnsibleActionFail("template %s: %s" % (name, to_text(exc))) from None

    def _read(self, name):
        try:
            path = self._find_needle("files", name)
            with open(to_bytes(path, errors="surrogate_or_strict"), "rb") as handle:
                return base64.b64encode(handle.read()).decode("ascii")
        except (AnsibleError, OSError) as exc:
            raise AnsibleActionFail("src %s: %s" % (name, to_text(exc))) from None

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        files = []
        for entry in args.get("files") or []:
            if not isinstance(entry, dict):
                raise AnsibleActionFail("files: each entry is a dict with path and one of content/template/src")
            entry = dict(entry)
            given = [k for k in ("content", "content_base64", "template", "src") if entry.get(k) is not None]
            if len(given) != 1:
                raise AnsibleActionFail(
                    "files: %s needs exactly one of content, content_base64, template, src (got %s)"
                    % (entry.get("path"), ", ".join(given) or "none")
                )
            if "template" in given:
                entry["content"] = self._render(entry.pop("template"), task_vars)
            elif "src" in given:
                entry["content_base64"] = self._read(entry.pop("src"))
            elif isinstance(entry.get("content"), (dict, list)):
                # Templating may hand a JSON text over as data (ansible-core < 2.19): write it as JSON, as copy does.
                entry["content"] = json.dumps(entry["content"])
            entry.pop("template", None)
            entry.pop("src", None)
            files.append(entry)
        args["files"] = files
        result.update(
            self._execute_module(module_name="gpufleet.sglang.sglang_node_files", module_args=args, task_vars=task_vars)
        )
        return result
