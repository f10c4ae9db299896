#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sglang_node_read
short_description: Read several of a node's files in one call
version_added: 0.1.0
description:
  - What M(ansible.builtin.stat) (with its checksum) and M(ansible.builtin.slurp) tell about one path each, for several
    paths at once - whether a file is there, the SHA-1 of its content and, for O(content), the content itself
    (base64). One module round trip instead of one per file; the rolling restart reads every node before any group
    leaves a router, so those round trips are time the rollout takes.
  - A missing file is no error (RV(files) says C(exists=false)).
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  paths:
    description: Absolute paths whose existence and checksum to return.
    type: list
    elements: path
    default: []
  content:
    description: Absolute paths whose content to return as well (base64, as M(ansible.builtin.slurp) does).
    type: list
    elements: path
    default: []
extends_documentation_fragment:
  - gpufleet.sglang.attributes
attributes:
  check_mode:
    support: full
    details: Only reads; runs in check mode as outside it.
  diff_mode:
    support: none
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Read the fabric facts and look for the NCCL env file
  gpufleet.sglang.sglang_node_read:
    content: [/etc/gpufleet/fabric.json]
    paths: [/etc/nccl.conf.d/gpufleet.env]
  register: node

- name: Use them
  ansible.builtin.debug:
    msg: >-
      {{ node.files['/etc/gpufleet/fabric.json'].content | default('') | b64decode }}
      {{ node.files['/etc/nccl.conf.d/gpufleet.env'].checksum | default('none') }}
"""

RETURN = r"""
files:
  description:
    - Per path, C(exists), and for a file that exists C(checksum) (SHA-1 of its content, as M(ansible.builtin.stat)
      returns it) and, for a path in O(content), C(content) (base64).
  returned: always
  type: dict
  sample: {"/etc/nccl.conf.d/gpufleet.env": {"exists": true, "checksum": "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_node_files import NodeFilesError, read_file


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type="list", elements="path", default=[]),
            content=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    files = {}
    try:
        for path in module.params["paths"] + module.params["content"]:
            files[path] = read_file(path, path in module.params["content"])
    except NodeFilesError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, files=files)


if __name__ == "__main__":
    main()
