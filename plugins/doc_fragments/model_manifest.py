# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    # The options the model_manifest_* modules share.
    DOCUMENTATION = r"""
options:
  host:
    description: Host name used in messages (normally C(inventory_hostname)).
    type: str
    default: this host
notes:
  - A manifest lists every regular file of a model directory (relative path, size, sha256), sorted, as deterministic
    JSON with a C(digest) of the list. Two hosts hold the same model exactly when their digests match.
  - The top-level C(.cache) directory (hub CLIs' resume metadata) is never part of a model.
"""

    # Hashing with a cache (create and verify).
    HASHING = r"""
options:
  cache:
    description:
      - Hash cache file; read and rewritten. A file whose size, mtime, ctime and inode did not change since it was
        hashed is not hashed again. The cache only saves time; writing it is not a change.
    type: path
  full:
    description: Hash every file, ignoring the cache.
    type: bool
    default: false
  return_manifest:
    description: Return the whole manifest.
    type: bool
    default: false
"""
