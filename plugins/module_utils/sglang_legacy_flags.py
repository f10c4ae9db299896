# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flags that blog recipes and older SGLang releases use but SGLang 0.5.23 renamed, deprecated or dropped.

Hand-written (not generated). Every entry was checked against SGLang 0.5.23's own
parser (``ServerArgs.add_cli_args``, the same parser ``sglang_catalog`` is
generated from) and its resolution code (``sglang/srt/arg_groups/``):

- ``removed``: 0.5.23's parser rejects the spelling (not an option string and
  no unambiguous prefix of one) and there is no automatic translation;
  ``replacement`` is None, or the nearest setting, which is not equivalent;
  the note says what to do.
- ``renamed``: 0.5.23's parser rejects the spelling (absent, or now an
  *ambiguous* argparse prefix, which argparse reports as an error) and
  ``replacement`` is the exact equivalent argv.
- ``deprecated``: 0.5.23 still accepts it (SGLang prints a deprecation warning
  and translates it, or argparse expands an unambiguous prefix), but it should
  be written as ``replacement``. ``replacement`` is None where the new
  spelling depends on other arguments (see the note).

``replacement`` holds argv tokens. The one placeholder, ``"<VALUE>"``, stands
for the old flag's own value and only appears where that value carries over
unchanged (1:1) to the new flag.

``LEGACY_VALUES`` lists deprecated *values* of flags that still exist: 0.5.23
accepts them and rewrites them during argument resolution.
"""

from __future__ import annotations

LEGACY_FLAGS = {
    # ------------------------------------------------------------------ deprecated
    # Registered in 0.5.23 with SGLang's DeprecatedStoreTrueAction /
    # DeprecatedStoreConstAction (the parser logs "'<flag>' is deprecated ...")
    # or marked "(Deprecated ...)" in help and rewritten by
    # arg_groups/serving_hook.py:handle_deprecated_args (catalog: deprecated=True).
    "--disable-cuda-graph": {
        "status": "deprecated",
        "replacement": ["--cuda-graph-backend-decode", "disabled", "--cuda-graph-backend-prefill", "disabled"],
        "note": "CUDA graphs are configured per phase now; the old switch disables both decode and prefill graphs",
    },
    "--enable-dp-attention": {
        "status": "deprecated",
        "replacement": None,
        "note": "write '--attn-dp-size N' instead of '--dp-size N --enable-dp-attention' (N = the old --dp-size); "
        "SGLang will drop the flag after 2026-12-31",
    },
    "--enable-flashinfer-allreduce-fusion": {
        "status": "deprecated",
        "replacement": ["--flashinfer-allreduce-fusion-backend", "auto"],
        "note": "the allreduce-fusion switch became a backend choice",
    },
    "--disable-fast-image-processor": {
        "status": "deprecated",
        "replacement": ["--image-processor-backend", "pil"],
        "note": "the image processor is chosen with --image-processor-backend",
    },
    "--grpc-mode": {
        "status": "deprecated",
        "replacement": ["--smg-grpc-mode"],
        "note": "legacy SMG gRPC server; --grpc-port alone starts the native gRPC server",
    },
    "--monokernel-backend": {
        "status": "deprecated",
        "replacement": ["--enable-amd-monokernel"],
        "note": "'--monokernel-backend amd' (its only value) became the switch --enable-amd-monokernel; drop the value",
    },
    # Not option strings in 0.5.23, but unambiguous argparse prefixes of one
    # (SGLang's parser keeps allow_abbrev=True), so the parser still expands
    # them. Such prefixes break as soon as SGLang adds another flag with the same
    # prefix, as --pp and --speculative-draft did (below): write the full name.
    "--tp": {
        "status": "deprecated",
        "replacement": ["--tp-size", "<VALUE>"],
        "note": "argparse abbreviation of --tp-size (alias --tensor-parallel-size); same value",
    },
    "--dp": {
        "status": "deprecated",
        "replacement": ["--dp-size", "<VALUE>"],
        "note": "argparse abbreviation of --dp-size (data-parallel replicas; for DP attention use --attn-dp-size)",
    },
    # ------------------------------------------------------------------ renamed
    # Now an ambiguous prefix: argparse in 0.5.23 stops with
    # "ambiguous option: ... could match ...".
    "--speculative-draft": {
        "status": "renamed",
        "replacement": ["--speculative-draft-model-path", "<VALUE>"],
        "note": "was accepted as a prefix of --speculative-draft-model-path; now ambiguous among the "
        "--speculative-draft-* flags; same value (alias --speculative-draft-model)",
    },
    "--pp": {
        "status": "renamed",
        "replacement": ["--pp-size", "<VALUE>"],
        "note": "was accepted as a prefix of --pp-size; now ambiguous (--pp-max-micro-batch-size, "
        "--pp-async-batch-depth); same value",
    },
    "--cuda-graph-max-bs": {
        "status": "renamed",
        "replacement": ["--cuda-graph-max-bs-decode", "<VALUE>"],
        "note": "CUDA graph settings are per phase now (--cuda-graph-max-bs-{decode,prefill}); the old global "
        "cap was the decode-graph batch size; same value",
    },
    "--cuda-graph-bs": {
        "status": "renamed",
        "replacement": ["--cuda-graph-bs-decode", "<VALUE>"],
        "note": "per-phase now (--cuda-graph-bs-{decode,prefill}); the old list of decode batch sizes carries "
        "over unchanged (a list of integers: nargs='+')",
    },
    "--disable-flashinfer": {
        "status": "renamed",
        "replacement": ["--attention-backend", "triton"],
        "note": "pre-0.3 switch for the Triton attention kernels; now an ambiguous prefix "
        "(--disable-flashinfer-autotune, --disable-flashinfer-cutlass-moe-fp4-allgather)",
    },
    # Absent from 0.5.23 (not in sglang_catalog.OPTION_TO_FLAG, argparse:
    # "unrecognized arguments"); the replacement flag and value exist in the catalog.
    "--enable-flashinfer-mla": {
        "status": "renamed",
        "replacement": ["--attention-backend", "flashinfer"],
        "note": "MLA kernels are chosen with --attention-backend",
    },
    "--enable-flashmla": {
        "status": "renamed",
        "replacement": ["--attention-backend", "flashmla"],
        "note": "MLA kernels are chosen with --attention-backend",
    },
    "--enable-deepep-moe": {
        "status": "renamed",
        "replacement": ["--moe-a2a-backend", "deepep"],
        "note": "the MoE all-to-all backend is chosen with --moe-a2a-backend (DeepEP tuning: --deepep-mode)",
    },
    "--enable-flashinfer-cutlass-moe": {
        "status": "renamed",
        "replacement": ["--moe-runner-backend", "flashinfer_cutlass"],
        "note": "MoE kernels are chosen with --moe-runner-backend",
    },
    "--enable-flashinfer-trtllm-moe": {
        "status": "renamed",
        "replacement": ["--moe-runner-backend", "flashinfer_trtllm"],
        "note": "MoE kernels are chosen with --moe-runner-backend",
    },
    "--enable-flashinfer-cutedsl-moe": {
        "status": "renamed",
        "replacement": ["--moe-runner-backend", "flashinfer_cutedsl"],
        "note": "MoE kernels are chosen with --moe-runner-backend",
    },
    "--enable-flashinfer-mxfp4-moe": {
        "status": "renamed",
        "replacement": ["--moe-runner-backend", "flashinfer_mxfp4"],
        "note": "MoE kernels are chosen with --moe-runner-backend",
    },
    "--enable-triton-kernel-moe": {
        "status": "renamed",
        "replacement": ["--moe-runner-backend", "triton_kernel"],
        "note": "MoE kernels are chosen with --moe-runner-backend",
    },
    "--nsa-prefill-backend": {
        "status": "renamed",
        "replacement": ["--dsa-prefill-backend", "<VALUE>"],
        "note": "NSA was renamed DSA (DeepSeek Sparse Attention); same value (flashmla_sparse, flashmla_kv, "
        "fa3, tilelang, aiter are all still choices)",
    },
    "--nsa-decode-backend": {
        "status": "renamed",
        "replacement": ["--dsa-decode-backend", "<VALUE>"],
        "note": "NSA was renamed DSA (DeepSeek Sparse Attention); same value (flashmla_sparse, flashmla_kv, "
        "fa3, tilelang, aiter are all still choices)",
    },
    "--disable-piecewise-cuda-graph": {
        "status": "renamed",
        "replacement": ["--cuda-graph-backend-prefill", "disabled"],
        "note": "the piecewise (tc_piecewise) prefill graph is gone; prefill graphs are set with "
        "--cuda-graph-backend-prefill {full,breakable,disabled}",
    },
    "--stream-output": {
        "status": "renamed",
        "replacement": ["--incremental-streaming-output"],
        "note": "same meaning (output as a sequence of disjoint segments), new name",
    },
    "--file-storage-pth": {
        "status": "renamed",
        "replacement": ["--file-storage-path", "<VALUE>"],
        "note": "typo fixed in the flag name; same value",
    },
    "--attention-reduce-in-fp32": {
        "status": "renamed",
        "replacement": ["--triton-attention-reduce-in-fp32"],
        "note": "the switch only concerns the Triton attention kernels and was renamed accordingly",
    },
    "--enable-llama4-multimodal": {
        "status": "renamed",
        "replacement": ["--enable-multimodal"],
        "note": "multimodal serving is one switch for all models",
    },
    "--disable-disk-cache": {
        "status": "renamed",
        "replacement": ["--disable-outlines-disk-cache"],
        "note": "the disk cache in question is Outlines' grammar cache",
    },
    "--disable-flashinfer-sampling": {
        "status": "renamed",
        "replacement": ["--sampling-backend", "pytorch"],
        "note": "sampling kernels are chosen with --sampling-backend",
    },
    # ------------------------------------------------------------------ removed
    # Absent from 0.5.23 (argparse: "unrecognized arguments"), no equivalent.
    "--enable-ep-moe": {
        "status": "removed",
        "replacement": None,
        "note": "expert parallelism is sized explicitly: set --ep-size to the --tp-size value (what the old "
        "switch did)",
    },
    "--enable-piecewise-cuda-graph": {
        "status": "removed",
        "replacement": ["--cuda-graph-backend-prefill", "breakable"],
        "note": "the piecewise (tc_piecewise) prefill graph is gone; on CUDA, prefill already defaults to the "
        "'breakable' graph backend, so the switch can simply be dropped",
    },
    "--piecewise-cuda-graph-compiler": {
        "status": "removed",
        "replacement": None,
        "note": "went away with the piecewise prefill graph (tc_compiler was removed with tc_piecewise); drop it",
    },
    "--piecewise-cuda-graph-max-tokens": {
        "status": "removed",
        "replacement": None,
        "note": "went away with the piecewise prefill graph; prefill graph sizes are set with "
        "--cuda-graph-bs-prefill / --cuda-graph-max-bs-prefill / --cuda-graph-max-seq-len-prefill",
    },
    "--piecewise-cuda-graph-tokens": {
        "status": "removed",
        "replacement": None,
        "note": "went away with the piecewise prefill graph; prefill token buckets are set with "
        "--cuda-graph-bs-prefill",
    },
    "--enable-nsa-prefill-context-parallel": {
        "status": "removed",
        "replacement": None,
        "note": "prefill context parallelism is now --enable-prefill-cp with --attn-cp-size N and --cp-strategy "
        "{zigzag,interleave}",
    },
    "--nsa-prefill-cp-mode": {
        "status": "removed",
        "replacement": None,
        "note": "prefill context-parallel layout is now --cp-strategy {zigzag,interleave} (with --enable-prefill-cp)",
    },
    "--enable-mla": {
        "status": "removed",
        "replacement": None,
        "note": "MLA is always used for models that have it; drop the flag",
    },
    "--disable-mla": {
        "status": "removed",
        "replacement": None,
        "note": "MLA can no longer be switched off; drop the flag",
    },
    "--enable-overlap-schedule": {
        "status": "removed",
        "replacement": None,
        "note": "the overlap scheduler is on by default; drop the flag (--disable-overlap-schedule turns it off)",
    },
    "--disable-jump-forward": {
        "status": "removed",
        "replacement": None,
        "note": "jump-forward decoding was removed; drop the flag",
    },
    "--disable-regex-jump-forward": {
        "status": "removed",
        "replacement": None,
        "note": "jump-forward decoding was removed; drop the flag",
    },
    "--efficient-weight-load": {
        "status": "removed",
        "replacement": None,
        "note": "weight loading no longer has this mode; drop the flag",
    },
    "--torchao-config": {
        "status": "removed",
        "replacement": None,
        "note": "torchao online quantization is gone; use a --quantization method (e.g. fp8) or a "
        "pre-quantized checkpoint",
    },
    "--enable-double-sparsity": {
        "status": "removed",
        "replacement": None,
        "note": "double-sparsity attention was removed, together with its --ds-* options; drop them",
    },
    "--ds-channel-config-path": {
        "status": "removed",
        "replacement": None,
        "note": "double-sparsity attention was removed; drop it",
    },
    "--ds-heavy-channel-num": {
        "status": "removed",
        "replacement": None,
        "note": "double-sparsity attention was removed; drop it",
    },
    "--ds-heavy-token-num": {
        "status": "removed",
        "replacement": None,
        "note": "double-sparsity attention was removed; drop it",
    },
    "--ds-heavy-channel-type": {
        "status": "removed",
        "replacement": None,
        "note": "double-sparsity attention was removed; drop it",
    },
    "--ds-sparse-decode-threshold": {
        "status": "removed",
        "replacement": None,
        "note": "double-sparsity attention was removed; drop it",
    },
    "--hybrid-kvcache-ratio": {
        "status": "removed",
        "replacement": None,
        "note": "no longer configurable this way (sliding-window models: see --swa-full-tokens-ratio); drop it",
    },
    "--enable-nan-detection": {
        "status": "removed",
        "replacement": None,
        "note": "no longer a server flag; drop it",
    },
    "--collect-tokens-histogram": {
        "status": "removed",
        "replacement": None,
        "note": "no longer a flag; with --enable-metrics, histogram buckets are set by --prompt-tokens-buckets "
        "/ --generation-tokens-buckets",
    },
    "--enable-expert-distribution-metrics": {
        "status": "removed",
        "replacement": None,
        "note": "no longer a flag; the expert-distribution recorder is configured with "
        "--expert-distribution-recorder-mode",
    },
    "--disaggregation-decode-tp": {
        "status": "removed",
        "replacement": None,
        "note": "the prefill server is no longer told the decode side's TP size; drop it",
    },
    "--disaggregation-decode-dp": {
        "status": "removed",
        "replacement": None,
        "note": "the prefill server is no longer told the decode side's DP size; drop it",
    },
    "--disaggregation-prefill-pp": {
        "status": "removed",
        "replacement": None,
        "note": "no longer a flag; drop it",
    },
}

# Deprecated values of flags that still exist. 0.5.23's parser accepts them (they
# are still in the flag's choices, or the flag has no choices) and rewrites them
# with a warning: arg_groups/serving_hook.py:handle_deprecated_args for
# compressed, tokenspeed_mla and the tool-call parsers; nsa is kept as an alias
# of dsa by the attention registry (layers/attention/attention_registry.py).
# tokenspeed_mla also implied --kv-cache-dtype fp8_e4m3, which SGLang sets for you.
LEGACY_VALUES = {
    "--attention-backend": {"nsa": "dsa", "compressed": "dsv4", "tokenspeed_mla": "cutedsl_mla"},
    "--decode-attention-backend": {"nsa": "dsa", "compressed": "dsv4", "tokenspeed_mla": "cutedsl_mla"},
    # cutedsl_mla is decode-only: SGLang maps a prefill tokenspeed_mla to trtllm_mla.
    "--prefill-attention-backend": {"nsa": "dsa", "compressed": "dsv4", "tokenspeed_mla": "trtllm_mla"},
    "--speculative-draft-attention-backend": {"nsa": "dsa", "compressed": "dsv4", "tokenspeed_mla": "cutedsl_mla"},
    "--tool-call-parser": {"qwen25": "qwen", "glm45": "glm"},
}
