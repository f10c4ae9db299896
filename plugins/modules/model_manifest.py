#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: model_manifest
short_description: Build or verify the manifest of a model directory, measure it, check disk space for it
version_added: 0.2.0
description:
  - A manifest lists every regular file of a model directory (relative path, size, sha256), sorted, as
    deterministic JSON with a C(digest) of the list. Two hosts hold the same model exactly when their digests match.
  - O(state=create) writes the manifest of O(path) to O(dest).
  - O(state=verify) compares O(path) with the manifest O(manifest) and reports missing files, size and hash
    mismatches and extra files; O(repair=true) deletes the files a fetch has to bring again.
  - O(state=measure) counts files and bytes without hashing (with O(manifest), also the bytes already present toward it).
  - O(state=space) is the disk-space preflight; it fails, naming the host, the path and the shortfall, when the rest
    of a model of O(total_bytes) (or of O(manifest)) does not fit with the margin.
  - With O(cache), a file whose size, mtime, ctime and inode did not change since it was hashed is not hashed again
    (O(full=true) hashes everything). The cache only saves time; writing it is not a change.
  - The top-level C(.cache) directory (hub CLIs' resume metadata) is never part of a model.
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  path:
    description: The model directory (for O(state=space), where the data will be written).
    type: path
    required: true
  state:
    description: What to do.
    type: str
    choices: [create, verify, measure, space]
    default: verify
  manifest:
    description: Manifest file on the host to verify against, or to size the O(state=space) and O(state=measure) checks.
    type: path
  dest:
    description: Where O(state=create) writes the manifest.
    type: path
  cache:
    description: Hash cache file (size and mtime per file); read and rewritten.
    type: path
  full:
    description: Hash every file, ignoring the cache.
    type: bool
    default: false
  repair:
    description: With O(state=verify), delete the files that do not match (and extra files) so the next fetch brings them again.
    type: bool
    default: false
  fail_on_problems:
    description: With O(state=verify), fail when the directory does not match (after a repair, too).
    type: bool
    default: true
  return_manifest:
    description: Return the whole manifest (O(state=create) or O(state=verify)).
    type: bool
    default: false
  name:
    description: Model name recorded in a created manifest (metadata, not part of the digest).
    type: str
  revision:
    description: Revision recorded in a created manifest (metadata, not part of the digest).
    type: str
  total_bytes:
    description: Size of the whole model for O(state=space) when no O(manifest) is given.
    type: int
    default: 0
  present_paths:
    description: Directories whose files already count toward the model for O(state=space) (staging, a revision).
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
  host:
    description: Host name used in messages (normally C(inventory_hostname)).
    type: str
    default: this host
extends_documentation_fragment:
  - gpufleet.sglang.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Write the manifest of a fetched model
  gpufleet.sglang.model_manifest:
    state: create
    path: /models/DeepSeek-R1/staging/main
    dest: /models/DeepSeek-R1/manifests/main.json
    cache: /models/DeepSeek-R1/manifests/main.cache.json

- name: Verify a copy, deleting what must be fetched again
  gpufleet.sglang.model_manifest:
    state: verify
    path: /models/DeepSeek-R1/staging/main
    manifest: /models/DeepSeek-R1/manifests/main.json
    repair: true
    fail_on_problems: false
  register: verified

- name: Refuse a host without room for the rest of the model
  gpufleet.sglang.model_manifest:
    state: space
    path: /models/DeepSeek-R1
    manifest: /models/DeepSeek-R1/manifests/main.json
    present_paths: [/models/DeepSeek-R1/staging/main]
    margin_pct: 5
    host: "{{ inventory_hostname }}"
"""

RETURN = r"""
ok:
  description: The directory matches the manifest (verify), or the model fits (space).
  returned: always
  type: bool
digest:
  description: Manifest digest (C(sha256:<hex>)) of the created or the expected manifest.
  returned: when a manifest is created or read
  type: str
files:
  description: Number of files in the manifest (create, verify) or found (measure).
  returned: always
  type: int
bytes:
  description: Bytes in the manifest (create, verify), found (measure), or the model size (space).
  returned: always
  type: int
present_bytes:
  description: Bytes already present toward the manifest.
  returned: verify, measure with a manifest, space
  type: int
problems:
  description: Mismatches, each C({kind, path, detail}); kind is missing, size, hash, unreadable or extra.
  returned: verify
  type: list
  elements: dict
removed:
  description: Files deleted by O(repair).
  returned: verify
  type: list
  elements: str
stats:
  description: C(hashed_files), C(hashed_bytes), C(reused_files) (from the cache).
  returned: create, verify
  type: dict
needed:
  description: Bytes needed including the margin.
  returned: space
  type: int
free:
  description: Free bytes of the filesystem.
  returned: space
  type: int
shortfall:
  description: Bytes missing (0 when it fits).
  returned: space
  type: int
msg:
  description: A one-line finding.
  returned: always
  type: str
manifest:
  description: The whole manifest, with O(return_manifest).
  returned: when asked
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.model_manifest import ManifestError, run_manifest


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", default="verify", choices=["create", "verify", "measure", "space"]),
            manifest=dict(type="path"),
            dest=dict(type="path"),
            cache=dict(type="path"),
            full=dict(type="bool", default=False),
            repair=dict(type="bool", default=False),
            fail_on_problems=dict(type="bool", default=True),
            return_manifest=dict(type="bool", default=False),
            name=dict(type="str"),
            revision=dict(type="str"),
            total_bytes=dict(type="int", default=0),
            present_paths=dict(type="list", elements="path", default=[]),
            margin_pct=dict(type="float", default=5.0),
            margin_bytes=dict(type="int", default=0),
            extra_bytes=dict(type="int", default=0),
            host=dict(type="str", default="this host"),
        ),
        required_if=[("state", "create", ("dest",)), ("state", "verify", ("manifest",))],
        supports_check_mode=True,
    )
    try:
        result = run_manifest(module.params, check_mode=module.check_mode)
    except ManifestError as exc:
        module.fail_json(msg="%s: %s" % (module.params["host"], exc))
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
