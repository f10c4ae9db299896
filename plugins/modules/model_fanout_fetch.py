#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: model_fanout_fetch
short_description: Fetch a model file by file behind a parent that may itself still be fetching (pipelined fan-out)
version_added: 0.2.0
description:
  - One host's part of a pipelined fan-out (M(gpufleet.sglang.model_fanout) with O(gpufleet.sglang.model_fanout#module:pipeline)).
    Every file of the reference manifest is fetched with rsync from O(src) as soon as the parent lists it in its ready
    file, verified here (size and sha256) while the next file moves, and published in this host's own ready file
    (O(dest) with C(.ready) appended), so this host's receivers take it at once.
  - A file that does not verify is deleted and fetched again, up to O(attempts) times. A parent that fails, finishes
    without a file or shows no progress for O(stall_timeout) seconds ends this host's follow with an error.
  - Meant to run with C(async) and C(poll=0) on every receiver at once.
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  dest:
    description: The staging directory the files go to.
    type: path
    required: true
  manifest:
    description: The reference manifest (a file on this host).
    type: path
    required: true
  cache:
    description: Hash cache file to reuse and update (the one M(gpufleet.sglang.model_switch) reads).
    type: path
  src:
    description: The parent's copy, as rsync names it (C(user@host:dir/) or a local path), ending in the revision directory.
    type: str
    required: true
  src_ready:
    description: The parent's ready file, as rsync names it. Unused with O(src_complete).
    type: str
    default: ""
  src_complete:
    description: The parent holds the whole verified model (the source, or a holder); no ready file to wait for.
    type: bool
    default: false
  cut_through:
    description:
      - With a parent that is still fetching, take each file while the parent receives it (rsync C(--append) passes
        over the parent's growing file, one O(poll_interval) apart) instead of waiting until the parent lists it
        verified. Only this host's own size and sha256 check publishes a file, so bytes the parent later rejects
        fail here too and the file is fetched again from the parent's verified copy.
      - Needs nothing but read access on the parent (works through C(rrsync -ro)).
    type: bool
    default: true
  ssh:
    description:
      - The ssh command for rsync's C(-e); one connection to the parent is opened with it and multiplexed for every
        file and every look at the parent's ready file.
    type: str
    default: ""
  token:
    description: The run's token; a ready file of another run counts as absent.
    type: str
    required: true
  rsync_flags:
    description:
      - rsync flags of every file's copy.
      - C(--append) is added (the file is written in place from its first byte, so it is hashed while it arrives).
    type: list
    elements: str
    default: [--archive, --partial, --no-compress]
  attempts:
    description: Fetches of one file before giving up.
    type: int
    default: 3
  poll_interval:
    description: Seconds between two looks at the parent's ready file while waiting.
    type: float
    default: 0.25
  stall_timeout:
    description: Seconds the parent may show no progress before this host gives up.
    type: int
    default: 600
  host:
    description: Name of this host in messages.
    type: str
    default: ""
extends_documentation_fragment:
  - gpufleet.sglang.attributes
attributes:
  check_mode:
    support: none
  diff_mode:
    support: none
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Follow the parent file by file
  gpufleet.sglang.model_fanout_fetch:
    dest: /models/DeepSeek-R1/staging/r1
    manifest: /models/DeepSeek-R1/manifests/r1.json
    src: model-sync@10.20.0.11:DeepSeek-R1/staging/r1/
    src_ready: model-sync@10.20.0.11:DeepSeek-R1/staging/r1.ready
    ssh: ssh -i /root/.ssh/model_sync_ed25519 -o BatchMode=yes
    token: "{{ run_token }}"
  async: 86400
  poll: 0
"""

RETURN = r"""
files:
  description: Files this host holds verified.
  returned: success
  type: int
fetched_files:
  description: Files fetched (retries included).
  returned: success
  type: int
fetched_bytes:
  description: Bytes fetched.
  returned: success
  type: int
reused_files:
  description: Files already here and verified from the hash cache.
  returned: success
  type: int
refetched_files:
  description: Files fetched again after a failed transfer or verification.
  returned: success
  type: int
streamed_files:
  description: Fetched files hashed while they arrived (not read again to verify them).
  returned: success
  type: int
cut_through_files:
  description: Fetched files taken while the parent still received them (O(cut_through)).
  returned: success
  type: int
removed_extra:
  description: Files not in the manifest removed from O(dest).
  returned: success
  type: int
waited_s:
  description: Seconds spent waiting for the parent.
  returned: success
  type: float
seconds:
  description: Seconds the follow took.
  returned: success
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.model_fanout_fetch import FollowError, run
from ansible_collections.gpufleet.sglang.plugins.module_utils.model_manifest import ManifestError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path", required=True),
            manifest=dict(type="path", required=True),
            cache=dict(type="path"),
            src=dict(type="str", required=True),
            src_ready=dict(type="str", default=""),
            src_complete=dict(type="bool", default=False),
            cut_through=dict(type="bool", default=True),
            ssh=dict(type="str", default=""),
            token=dict(type="str", required=True, no_log=False),
            rsync_flags=dict(type="list", elements="str", default=["--archive", "--partial", "--no-compress"]),
            attempts=dict(type="int", default=3),
            poll_interval=dict(type="float", default=0.25),
            stall_timeout=dict(type="int", default=600),
            host=dict(type="str", default=""),
        ),
        supports_check_mode=False,
    )
    p = module.params
    if not p["src_complete"] and not p["src_ready"]:
        module.fail_json(msg="%s: src_ready is needed unless src_complete is true" % (p["host"] or p["dest"]))
    try:
        stats = run(p)
    except (FollowError, ManifestError, OSError) as exc:
        module.fail_json(msg="%s: from %s: %s" % (p["host"] or p["dest"], p["src"], exc))
    module.exit_json(changed=stats["fetched_files"] > 0 or stats["removed_extra"] > 0, **stats)


if __name__ == "__main__":
    main()
