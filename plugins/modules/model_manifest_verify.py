#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: model_manifest_verify
short_description: Verify a model directory against its manifest, optionally deleting what must be fetched again
version_added: 0.2.0
description:
  - Compares O(path) with the manifest O(manifest) and reports missing files, size and hash mismatches and extra files.
  - O(repair=true) deletes the mismatching and extra files, so that the next fetch brings them again.
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  path:
    description: The model directory.
    type: path
    required: true
  manifest:
    description: Manifest file on the host (written by M(gpufleet.sglang.model_manifest_create)).
    type: path
    required: true
  repair:
    description: Delete the files that do not match (and extra files) so the next fetch brings them again.
    type: bool
    default: false
  fail_on_problems:
    description: Fail when the directory does not match (after a repair, too).
    type: bool
    default: true
extends_documentation_fragment:
  - gpufleet.sglang.attributes
  - gpufleet.sglang.model_manifest
  - gpufleet.sglang.model_manifest.hashing
attributes:
  check_mode:
    support: full
    details: In check mode O(repair) deletes nothing and returns what it would delete.
  diff_mode:
    support: none
  idempotent:
    support: full
seealso:
  - module: gpufleet.sglang.model_manifest_create
"""

EXAMPLES = r"""
- name: Verify a copy, deleting what must be fetched again
  gpufleet.sglang.model_manifest_verify:
    path: /models/DeepSeek-R1/staging/main
    manifest: /models/DeepSeek-R1/manifests/main.json
    cache: /models/DeepSeek-R1/manifests/main.cache.json
    repair: true
    fail_on_problems: false
    host: "{{ inventory_hostname }}"
  register: verified
"""

RETURN = r"""
ok:
  description: The directory matches the manifest.
  returned: always
  type: bool
digest:
  description: Digest of the expected manifest (C(sha256:<hex>)).
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
present_bytes:
  description: Bytes already present toward the manifest.
  returned: always
  type: int
problems:
  description: Mismatches, each C({kind, path, detail}); kind is missing, size, hash, unreadable or extra.
  returned: always
  type: list
  elements: dict
removed:
  description: Files deleted by O(repair) (or that would be, in check mode).
  returned: always
  type: list
  elements: str
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
from ansible_collections.gpufleet.sglang.plugins.module_utils.model_manifest import run_verify

ARGUMENT_SPEC = shared.argument_spec(
    dict(
        path=dict(type="path", required=True),
        manifest=dict(type="path", required=True),
        repair=dict(type="bool", default=False),
        fail_on_problems=dict(type="bool", default=True),
    ),
    shared.HASHING_OPTIONS,
    shared.HOST_OPTIONS,
)


def main():
    shared.run_module(ARGUMENT_SPEC, run_verify)


if __name__ == "__main__":
    main()
