#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: model_manifest_measure
short_description: Count the files and bytes of a model directory without hashing
version_added: 0.2.0
description:
  - Counts the regular files of O(path) and their bytes (a missing directory counts 0), hashing nothing.
  - With O(manifest), also the bytes already present toward it (sizes only).
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  path:
    description: The directory to measure.
    type: path
    required: true
  manifest:
    description: Manifest file on the host to count the present bytes toward.
    type: path
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
- name: Measure a local source
  gpufleet.sglang.model_manifest_measure:
    path: /srv/models/DeepSeek-R1
    host: "{{ inventory_hostname }}"
  register: measured
"""

RETURN = r"""
ok:
  description: Always true.
  returned: always
  type: bool
files:
  description: Number of files found.
  returned: always
  type: int
bytes:
  description: Bytes found.
  returned: always
  type: int
present_bytes:
  description: Bytes already present toward O(manifest).
  returned: with O(manifest)
  type: int
digest:
  description: Digest of O(manifest).
  returned: with O(manifest)
  type: str
msg:
  description: A one-line finding.
  returned: always
  type: str
"""

from ansible_collections.gpufleet.sglang.plugins.module_utils import model_manifest_module as shared
from ansible_collections.gpufleet.sglang.plugins.module_utils.model_manifest import run_measure

ARGUMENT_SPEC = shared.argument_spec(
    dict(
        path=dict(type="path", required=True),
        manifest=dict(type="path"),
    ),
    shared.HOST_OPTIONS,
)


def main():
    shared.run_module(ARGUMENT_SPEC, lambda params, check_mode: run_measure(params))  # reads only


if __name__ == "__main__":
    main()
