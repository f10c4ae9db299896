#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: model_manifest_create
short_description: Write the manifest of a model directory
version_added: 0.2.0
description:
  - Hashes every regular file of O(path) and writes the manifest to O(dest) (mode 0644), only when its bytes change.
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  path:
    description: The model directory.
    type: path
    required: true
  dest:
    description: Where the manifest is written.
    type: path
    required: true
  name:
    description: Model name recorded in the manifest (metadata, not part of the digest).
    type: str
  revision:
    description: Revision recorded in the manifest (metadata, not part of the digest).
    type: str
extends_documentation_fragment:
  - gpufleet.sglang.attributes
  - gpufleet.sglang.model_manifest
  - gpufleet.sglang.model_manifest.hashing
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
seealso:
  - module: gpufleet.sglang.model_manifest_verify
"""

EXAMPLES = r"""
- name: Write the manifest of a fetched model
  gpufleet.sglang.model_manifest_create:
    path: /models/DeepSeek-R1/staging/main
    dest: /models/DeepSeek-R1/manifests/main.json
    cache: /models/DeepSeek-R1/manifests/main.cache.json
    name: DeepSeek-R1
    revision: main
    host: "{{ inventory_hostname }}"
"""

RETURN = r"""
ok:
  description: Always true (a failure to read the tree fails the task).
  returned: always
  type: bool
digest:
  description: Manifest digest (C(sha256:<hex>)).
  returned: always
  type: str
files:
  description: Number of files in the manifest.
  returned: always
  type: int
bytes:
  description: Bytes in the manifest.
  returned: always
  type: int
stats:
  description: C(hashed_files), C(hashed_bytes), C(reused_files) (from the cache).
  returned: always
  type: dict
msg:
  description: A one-line finding.
  returned: always
  type: str
manifest:
  description: The whole manifest, with O(return_manifest).
  returned: when asked
  type: dict
"""

from ansible_collections.gpufleet.sglang.plugins.module_utils import model_manifest_module as shared
from ansible_collections.gpufleet.sglang.plugins.module_utils.model_manifest import run_create

ARGUMENT_SPEC = shared.argument_spec(
    dict(
        path=dict(type="path", required=True),
        dest=dict(type="path", required=True),
        name=dict(type="str"),
        revision=dict(type="str"),
    ),
    shared.HASHING_OPTIONS,
    shared.HOST_OPTIONS,
)


def main():
    shared.run_module(ARGUMENT_SPEC, run_create)


if __name__ == "__main__":
    main()
