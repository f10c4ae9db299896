# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Launch presets for the seed workloads, as SGLang currently recommends them.

A preset gives group shape defaults and ``args``: ordered ``(flag, value)``
pairs. Inventory variables override any of them (set a value to null to drop it).

Choices, with their reasons:
- No ``--quantization fp8``: the official DeepSeek-R1/V3 checkpoints are already
  FP8 (block-wise); SGLang reads the scheme from the checkpoint's config.
- ``--dist-timeout 3600``: unset means torch's 600 s NCCL timeout, which loading
  671B weights across two nodes can exceed (SGLang #3360/#3368; 3600 is what the
  maintainers suggest in #3932).
- ``--watchdog-timeout 600``: the 300 s default can kill a healthy 671B group
  on a long prefill batch; it still crashes a truly hung batch.
- MTP (``--speculative-algorithm EAGLE`` with 3 steps, top-k 1, 4 draft tokens)
  is SGLang's documented setting for R1/V3; the draft (NextN) weights are found
  from the model path, so no draft model path is needed. EAGLE caps
  ``--max-running-requests`` low by default, so the MTP presets raise it.
- DP attention is left off: it pays off at large batch sizes and is a per-site
  choice (``sglang_attn_dp_size``).
"""

from __future__ import annotations

_R1_COMMON = (
    ("--trust-remote-code", True),
    ("--dist-timeout", 3600),
    ("--watchdog-timeout", 600),
    ("--enable-metrics", True),
)

_MTP = (
    ("--speculative-algorithm", "EAGLE"),
    ("--speculative-num-steps", 3),
    ("--speculative-eagle-topk", 1),
    ("--speculative-num-draft-tokens", 4),
    ("--max-running-requests", 64),
)

PRESETS = {
    "deepseek-r1-fp8-2x8": {
        "description": "DeepSeek-R1/V3 FP8 (671B) on 2 nodes x 8 H100/H800 80 GB, tp 16",
        "nodes_per_group": 2,
        "gpus_per_node": 8,
        "served_model_name": "deepseek-r1",
        "args": _R1_COMMON,
    },
    "deepseek-r1-fp8-2x8-mtp": {
        "description": "DeepSeek-R1/V3 FP8 on 2 x 8 H100/H800, tp 16, MTP speculative decoding",
        "nodes_per_group": 2,
        "gpus_per_node": 8,
        "served_model_name": "deepseek-r1",
        "args": _R1_COMMON + _MTP,
    },
    "deepseek-r1-fp8-1x8-h200": {
        "description": "DeepSeek-R1/V3 FP8 (671B) on 1 node x 8 H200 141 GB, tp 8",
        "nodes_per_group": 1,
        "gpus_per_node": 8,
        "served_model_name": "deepseek-r1",
        "args": _R1_COMMON,
    },
    "deepseek-r1-fp8-1x8-h200-mtp": {
        "description": "DeepSeek-R1/V3 FP8 on 1 x 8 H200, tp 8, MTP speculative decoding",
        "nodes_per_group": 1,
        "gpus_per_node": 8,
        "served_model_name": "deepseek-r1",
        "args": _R1_COMMON + _MTP,
    },
    "deepseek-r1-distill-qwen-32b-1x8": {
        "description": "DeepSeek-R1-Distill-Qwen-32B (BF16) on 1 node x 8 GPUs: 4 data-parallel replicas of tp 2",
        "nodes_per_group": 1,
        "gpus_per_node": 8,
        "tp_size": 2,
        "served_model_name": "deepseek-r1-distill-qwen-32b",
        "args": (
            ("--dp-size", 4),
            ("--enable-metrics", True),
        ),
    },
}
