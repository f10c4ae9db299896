#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sglang_node_files
short_description: Write a node's directories and files in one call
version_added: 0.1.0
description:
  - What M(ansible.builtin.file) (O(ignore:state=directory), O(ignore:state=absent)), M(ansible.builtin.copy) and
    M(ansible.builtin.template) do for one path each, for every path of a node at once - one module round trip
    instead of a check, a transfer and a module run per file. The rolling restart pre-stages every node while its
    group serves, so those round trips are time the rollout takes.
  - Directories first (each missing component is created with the entry's mode and owner, as
    M(ansible.builtin.file) does), then files, then O(absent).
  - A file is written when its content differs, whole or not at all (a temporary file in the same directory,
    renamed over the old one); ownership and mode are then set as M(ansible.builtin.copy) sets them.
  - Its action plugin renders O(files[].template) on the controller (as M(ansible.builtin.template) does, with the
    role's C(templates/) search path and the task's variables) and reads O(files[].src) from the controller; the
    module receives content only.
  - Contents are never returned, and are masked in the module's invocation (secrets files go through here); put
    C(no_log) on a task that writes secrets all the same, so nothing of it reaches the output on failure.
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  directories:
    description: Directories to create, or whose mode and owner to set.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      mode:
        description: Octal mode, e.g. C("0755").
        type: raw
      owner:
        description: Owner (name or uid).
        type: str
      group:
        description: Group (name or gid).
        type: str
  files:
    description: Files whose content this call decides.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path; its directory must exist (or be in O(directories)).
        type: path
        required: true
      content:
        description: The file's content (text, written as UTF-8).
        type: str
      content_base64:
        description: The file's content, base64-encoded (bytes as they are).
        type: str
      template:
        description:
          - A template to render on the controller into O(files[].content) (action plugin), found as
            M(ansible.builtin.template) finds its O(ignore:src).
        type: str
      src:
        description:
          - A controller file to send as O(files[].content_base64) (action plugin), found as
            M(ansible.builtin.copy) finds its O(ignore:src).
        type: str
      mode:
        description: Octal mode, e.g. C("0600"); a new file is created with it, before any content is in it.
        type: raw
      owner:
        description: Owner (name or uid).
        type: str
      group:
        description: Group (name or gid).
        type: str
  absent:
    description: Files to remove when they exist (never a directory).
    type: list
    elements: path
    default: []
extends_documentation_fragment:
  - gpufleet.sglang.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
    details: Contents may be secrets; the return says which paths changed, never how.
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Write the unit, its environment and a record in one call
  gpufleet.sglang.sglang_node_files:
    directories:
      - {path: /etc/sglang, mode: "0750", owner: root, group: root}
    files:
      - {path: /etc/sglang/r1_a.env, template: sglang.env.j2, mode: "0600", owner: root, group: root}
      - {path: /etc/systemd/system/sglang-r1_a.service, template: sglang.service.j2, mode: "0644"}
      - {path: /etc/sglang/r1_a.identity, content: "sglang 0.5.23\n", mode: "0644"}
    absent: [/var/lib/prometheus/node-exporter/gpufleet_nccl_transport.prom]
  register: files
  no_log: true

- name: Restart when the unit changed
  ansible.builtin.debug:
    msg: "{{ files.files['/etc/systemd/system/sglang-r1_a.service'].changed }}"
"""

RETURN = r"""
directories:
  description: Per directory path, whether it was created or its mode or owner changed.
  returned: always
  type: dict
  sample: {"/etc/sglang": {"changed": false}}
files:
  description:
    - Per file path, whether it changed (content, mode or owner) and the SHA-1 of its content (C(checksum), the value
      M(ansible.builtin.copy) and M(ansible.builtin.template) return).
  returned: always
  type: dict
  sample: {"/etc/sglang/r1_a.identity": {"changed": true, "checksum": "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"}}
absent:
  description: Per path of O(absent), whether a file was removed.
  returned: always
  type: dict
  sample: {"/var/lib/prometheus/node-exporter/gpufleet_nccl_transport.prom": {"changed": false}}
"""

import base64
import binascii

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_node_files import (
    NodeFilesError,
    Report,
    duplicate_paths,
    make_directories,
    missing_directories,
    parse_mode,
    put_file,
    remove_path,
)

_ATTRS = dict(mode=dict(type="raw"), owner=dict(type="str"), group=dict(type="str"))


def _set_attributes(module, path, entry, changed):
    changed = module.set_owner_if_different(path, entry.get("owner"), changed)
    changed = module.set_group_if_different(path, entry.get("group"), changed)
    if entry.get("mode") not in (None, ""):
        changed = module.set_mode_if_different(path, "%04o" % parse_mode(entry["mode"], path), changed)
    return changed


def _content(entry):
    if entry.get("content_base64") is not None:
        try:
            return base64.b64decode(entry["content_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise NodeFilesError("%s: content_base64 is not base64" % entry["path"]) from None
    if entry.get("content") is not None:
        return entry["content"].encode("utf-8", errors="surrogateescape")
    raise NodeFilesError("%s: give content or content_base64 (template and src need the action plugin)" % entry["path"])


def _without_contents(params):
    out = dict(params)
    out["files"] = [
        dict(entry, **{k: "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" for k in ("content", "content_base64") if entry.get(k)})
        for entry in params["files"]
    ]
    return out


def run(module):
    p = module.params
    dups = duplicate_paths(p["directories"], p["files"], p["absent"])
    if dups:
        raise NodeFilesError("named more than once: %s" % ", ".join(dups))
    report = Report()
    pending = set()
    for entry in p["directories"]:
        created = missing_directories(entry["path"])
        pending.update(created)
        make_directories(created, module.check_mode)
        changed = bool(created)
        for path in created if not module.check_mode else []:
            changed = module.set_default_selinux_context(path, changed)
            changed = _set_attributes(module, path, entry, changed)
        if not created:
            changed = _set_attributes(module, entry["path"], entry, changed)
        report.directories[entry["path"]] = {"changed": changed}
    for entry in p["files"]:
        mode = parse_mode(entry.get("mode"), entry["path"])
        outcome = put_file(entry["path"], _content(entry), mode, module.check_mode, pending)
        changed = outcome.content_changed
        if changed and outcome.created and not module.check_mode:
            changed = module.set_default_selinux_context(entry["path"], changed)
        if not (outcome.created and module.check_mode):
            changed = _set_attributes(module, entry["path"], entry, changed)
        report.files[entry["path"]] = {"changed": changed, "checksum": outcome.checksum}
    for path in p["absent"]:
        report.absent[path] = {"changed": remove_path(path, module.check_mode)}
    return report


def main():
    module = AnsibleModule(
        argument_spec=dict(
            directories=dict(
                type="list", elements="dict", default=[], options=dict(path=dict(type="path", required=True), **_ATTRS)
            ),
            files=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(
                    path=dict(type="path", required=True),
                    # Masked in the invocation the module returns: a secrets file's content comes through here.
                    content=dict(type="str", no_log=True),
                    content_base64=dict(type="str", no_log=True),
                    template=dict(type="str"),
                    src=dict(type="str"),
                    **_ATTRS,
                ),
                mutually_exclusive=[("content", "content_base64", "template", "src")],
            ),
            absent=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    # no_log keeps the contents out of the target's log of the invocation. The return carries no
    # content, so the values are not masked in it too (a short content, say "1", would garble every
    # path and checksum holding it), and the invocation returned is given here, without contents.
    contents = set(
        entry[key] for entry in module.params["files"] for key in ("content", "content_base64") if entry.get(key)
    )
    module.no_log_values.difference_update(contents)
    invocation = {"module_args": _without_contents(module.params)}
    try:
        report = run(module)
    except NodeFilesError as exc:
        module.fail_json(msg=str(exc), invocation=invocation)
    module.exit_json(changed=report.changed, invocation=invocation, **report.as_dict())


if __name__ == "__main__":
    main()
