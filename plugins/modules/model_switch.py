#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: model_switch
short_description: Promote a verified model revision and switch the current link to it atomically
version_added: 0.2.0
description:
  - Layout under O(path) (one model) is C(revisions/<revision>/), C(staging/<revision>/), C(manifests/<revision>.json)
    and the link C(current) -> C(revisions/<revision>) (relative, so the tree can be mounted elsewhere).
  - When C(revisions/<revision>) does not exist yet, the staged copy is verified against the manifest and renamed
    into place. The revision is verified (every file's size and sha256, from the hash cache where size and mtime are
    unchanged) and only then is the link switched, by renaming a temporary link over it.
  - Never switches to a copy that does not match the manifest; fails listing the problems instead.
  - Prunes old revisions beyond O(keep), always keeping the new target and the previous one.
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  path:
    description: The model's directory (C(<model_sync_root>/<name>)).
    type: path
    required: true
  revision:
    description: Revision to make current (a directory name).
    type: str
    required: true
  manifest:
    description: Manifest file; default C(<path>/manifests/<revision>.json).
    type: path
  cache:
    description: Hash cache file; default C(<path>/manifests/<revision>.cache.json).
    type: path
  staging:
    description: Staged copy to promote; default C(<path>/staging/<revision>).
    type: path
  link:
    description: Name of the link inside O(path).
    type: str
    default: current
  keep:
    description: Revisions to keep (the target and the previous target are always kept); 0 keeps all.
    type: int
    default: 2
  full:
    description: Hash every file, ignoring the cache.
    type: bool
    default: false
  clean_staging:
    description: Remove a leftover staged copy of a revision that is already in place.
    type: bool
    default: true
extends_documentation_fragment:
  - gpufleet.sglang.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Make the verified revision current
  gpufleet.sglang.model_switch:
    path: /models/DeepSeek-R1
    revision: 56d4cbbb4d29f4355bab4b9a39ccb717a14ad5ad
    keep: 2
"""

RETURN = r"""
digest:
  description: Manifest digest of the revision now current.
  returned: always
  type: str
promoted:
  description: The staged copy was renamed into C(revisions/).
  returned: always
  type: bool
switched:
  description: The link changed.
  returned: always
  type: bool
previous:
  description: The link's previous target (null when there was none).
  returned: success
  type: str
target:
  description: The link's target.
  returned: always
  type: str
revision_path:
  description: Absolute path of the revision directory.
  returned: always
  type: str
pruned:
  description: Revisions removed.
  returned: always
  type: list
  elements: str
problems:
  description: Why the copy does not match, when it does not (C({kind, path, detail})).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.model_manifest import ManifestError, run_switch


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            revision=dict(type="str", required=True),
            manifest=dict(type="path"),
            cache=dict(type="path"),
            staging=dict(type="path"),
            link=dict(type="str", default="current"),
            keep=dict(type="int", default=2),
            full=dict(type="bool", default=False),
            clean_staging=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    try:
        result = run_switch(module.params, check_mode=module.check_mode)
    except ManifestError as exc:
        module.fail_json(msg=str(exc))
    if result.pop("failed", False):
        module.fail_json(**result)
    if result["switched"]:
        result["diff"] = {
            "before": "%s -> %s\n" % (result["link"], result.get("previous")),
            "after": "%s -> %s\n" % (result["link"], result["target"]),
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
