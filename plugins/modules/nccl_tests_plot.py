#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nccl_tests_plot
short_description: Draw the PNG plot of an nccl-tests JSON report on the controller
version_added: 0.2.0
description:
  - Reads a JSON report written by M(gpufleet.sglang.nccl_tests_check) and fetched to the controller, and draws
    bus bandwidth (GB/s) against message size (log2 axis), out-of-place and in-place, with the threshold as a dashed
    line and the judged sizes (at least the report's C(min_bytes)) shaded.
  - Runs on the controller only (an action plugin) and draws with matplotlib, a controller requirement
    (C(requirements/controller.txt)); managed hosts need nothing for it.
  - Writes O(dest) (mode 0644) only when its bytes differ; the same report always gives the same PNG.
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  src:
    description: The JSON report on the controller (C(<name>.json) as fetched by the C(nccl_tests) role).
    type: path
    required: true
  dest:
    description: The PNG to write; default O(src) with C(.png) instead of C(.json) (where the Markdown report links it).
    type: path
extends_documentation_fragment:
  - gpufleet.sglang.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
"""

EXAMPLES = r"""
- name: Plot a fetched report next to it
  gpufleet.sglang.nccl_tests_plot:
    src: /tmp/nccl-reports/gpu-a1/node_gpu-a1_all_reduce_perf.json
"""

RETURN = r"""
src:
  description: The report read.
  returned: success
  type: str
dest:
  description: The PNG written (or that would be, in check mode).
  returned: success
  type: str
threshold:
  description: The threshold drawn (GB/s), null when the report had none.
  returned: success
  type: float
points:
  description: Points plotted per series (C(out-of-place), C(in-place)).
  returned: success
  type: dict
"""
