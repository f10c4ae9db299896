#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: model_manifest_space
short_description: Check that the rest of a model fits on the disk, before any download
version_added: 0.2.0
description:
  - The disk-space preflight. Fails, naming the host, the path and the shortfall, when the rest of a model of
    O(total_bytes) (or of O(manifest)) does not fit under O(path) with the margin.
  - The bytes already present in O(present_paths) (sizes only) count toward the model.
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  path:
    description: Where the data will be written (its filesystem is measured; it need not exist yet).
    type: path
    required: true
  manifest:
    description: Manifest file on the host that sizes the model; wins over O(total_bytes).
    type: path
  total_bytes:
    description: Size of the whole model when no O(manifest) is given.
    type: int
    default: 0
  present_paths:
    description: Directories whose files already count toward the model (staging, a revision).
    type: list
    elements: path
    default: []
  margin_pct:
    description: Extra room on top of the bytes still to fetch, in percent.
    type: float
    default: 5.0
  margin_bytes:
    description: Extra room in bytes on top of the percentage.
    type: int
    default: 0
  extra_bytes:
    description: More room needed besides the model (e.g. an archive unpacked next to its download).
    type: int
    default: 0
extends_documentation_fragment:
  - gpufleet.sglang.attributes
  - gpufleet.sglang.model_manifest
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Refuse a host without room for the rest of the model
  gpufleet.sglang.model_manifest_space:
    path: /models/DeepSeek-R1
    manifest: /models/DeepSeek-R1/manifests/main.json
    present_paths: [/models/DeepSeek-R1/staging/main]
    margin_pct: 5
    host: "{{ inventory_hostname }}"
"""

RETURN = r"""
ok:
  description: The model fits.
  returned: always
  type: bool
bytes:
  description: The model size.
  returned: always
  type: int
files:
  description: Number of files in O(manifest) (0 without one).
  returned: always
  type: int
digest:
  description: Digest of O(manifest).
  returned: with O(manifest)
  type: str
present_bytes:
  description: Bytes already present toward the model.
  returned: always
  type: int
needed:
  description: Bytes needed including the margin.
  returned: always
  type: int
free:
  description: Free bytes of the filesystem.
  returned: always
  type: int
shortfall:
  description: Bytes missing (0 when it fits).
  returned: always
  type: int
filesystem:
  description: The existing directory whose filesystem was measured.
  returned: always
  type: str
msg:
  description: A one-line finding.
  returned: always
  type: str
"""

from ansible_collections.gpufleet.sglang.plugins.module_utils import model_manifest_module as shared
from ansible_collections.gpufleet.sglang.plugins.module_utils.model_manifest import run_space

ARGUMENT_SPEC = shared.argument_spec(
    dict(
        path=dict(type="path", required=True),
        manifest=dict(type="path"),
        total_bytes=dict(type="int", default=0),
        present_paths=dict(type="list", elements="path", default=[]),
        margin_pct=dict(type="float", default=5.0),
        margin_bytes=dict(type="int", default=0),
        extra_bytes=dict(type="int", default=0),
    ),
    shared.HOST_OPTIONS,
)


def main():
    shared.run_module(ARGUMENT_SPEC, lambda params, check_mode: run_space(params))  # reads only


if __name__ == "__main__":
    main()
