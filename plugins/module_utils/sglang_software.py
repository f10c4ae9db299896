# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which CUDA an SGLang build needs, and whether the planned driver branch can run it.

Pure logic, called by the planner before any host is touched.

Facts (read upstream, 2026-11):
- The sglang 0.5.23 wheel (PyPI, cp311/cp312/cp313 only, Requires-Python >= 3.11) requires
  ``cuda-python>=13.0``, ``torch==2.14.1``, ``flashinfer_python[cu13]``: CUDA 13 only.
- SGLang retired its CUDA 12 image lane after v0.5.19 (sgl-project/sglang PR #38404 "Retire the
  CUDA 12 lane"; docs/get-started/install.mdx: "lmsysorg/sglang:v0.5.19-cu129 is the last CUDA 12
  tag"). Release images carry ``v<version>`` and ``v<version>-cu130`` (the same CUDA 13.0 image).
- CUDA 13.0 needs an R580 or newer driver (NVIDIA's CUDA 13.0 release notes: minimum driver
  580.65.06 on Linux); CUDA 12.x runs on R525 and newer.
"""

from __future__ import annotations

import re
from typing import Any, List, Optional

# SGLang release -> CUDA major of its wheels and its unsuffixed image tag.
SGLANG_CUDA_MAJOR = {"0.5.23": 13}
# CUDA major -> the oldest driver branch that runs it.
MIN_DRIVER_BRANCH = {12: 525, 13: 580}
_CU_TAG_RE = re.compile(r"-cu(1[0-9])([0-9])(?:$|-)")
_VERSION_TAG_RE = re.compile(r"^v?([0-9]+\.[0-9]+\.[0-9]+(?:\.post[0-9]+)?)(?:$|-)")


def image_cuda_major(image: Any, default_version: Any = None) -> Optional[int]:
    """CUDA major of an SGLang image reference, or None when the reference does not say.

    ``repo:v0.5.23-cu130`` -> 13, ``repo:v0.5.19-cu129`` -> 12; ``repo:v0.5.23`` -> the
    release's default CUDA; a digest-only reference -> the default of ``default_version``.
    """
    ref = str(image or "")
    tag = ""
    if "@" in ref:
        name = ref.split("@", 1)[0]
    else:
        name = ref
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        tag = last.split(":", 1)[1]
    match = _CU_TAG_RE.search(tag)
    if match:
        return int(match.group(1))
    match = _VERSION_TAG_RE.match(tag)
    if match:
        return SGLANG_CUDA_MAJOR.get(match.group(1))
    if not tag and "@" in ref:
        return SGLANG_CUDA_MAJOR.get(str(default_version))
    return None


def driver_branch(value: Any) -> Optional[int]:
    """``"580"``, ``580``, ``"580.95.05"`` -> 580; anything else -> None."""
    if isinstance(value, bool):
        return None
    match = re.match(r"^\s*([0-9]{3,4})(?:\.[0-9.]+)?\s*$", str(value))
    return int(match.group(1)) if match else None


def software_problems(
    group: str,
    runtime: str,
    image: Optional[str] = None,
    sglang_version: Optional[str] = None,
    branch: Any = None,
    host_stack: bool = True,
) -> List[str]:
    """Problems of one group's SGLang build against the driver branch the host stack installs."""
    if runtime == "container":
        cuda = image_cuda_major(image, sglang_version)
        what = "the SGLang image %s (sglang_server_image)" % image
    elif runtime == "native":
        cuda = SGLANG_CUDA_MAJOR.get(str(sglang_version))
        what = "sglang %s (sglang_server_sglang_version, native runtime)" % sglang_version
    else:
        return []
    if cuda is None or not host_stack or branch is None:
        return []
    found = driver_branch(branch)
    if found is None:
        return [
            "group %s: nvidia_host_driver_branch=%r is not a driver branch; set it to the branch number, "
            'e.g. "580"' % (group, branch)
        ]
    need = MIN_DRIVER_BRANCH.get(cuda)
    if need is None or found >= need:
        return []
    return [
        "group %s: %s is built for CUDA %d, which needs NVIDIA driver branch %d or newer, but "
        'nvidia_host_driver_branch is %d: set nvidia_host_driver_branch: "%d" (new branches reboot hosts: '
        "roll them one group at a time) or pin an SGLang build for CUDA 12 (lmsysorg/sglang:v0.5.19-cu129 "
        "is the last CUDA 12 image)" % (group, what, cuda, need, found, need)
    ]
