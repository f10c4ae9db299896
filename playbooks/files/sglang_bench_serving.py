# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run SGLang's own serving benchmark (``python -m sglang.bench_serving``) unmodified, with every argument
passed through, from a controller venv that holds sglang without its GPU stack.

Why a launcher: sglang 0.5.23's ``sglang/benchmark/serving.py`` (the code behind ``sglang.bench_serving``)
imports ``FAKE_BOOTSTRAP_HOST`` from ``sglang.srt.disaggregation.utils``, and that module imports the engine
(``sglang.srt.configs.model_config`` -> quantization kernels, torchvision, compressed-tensors...). The
constant is the only name taken from it, used only with ``--fake-prefill``. Where that module imports (a
full SGLang install), it is used as is; where it does not (the controller's venv: sglang ``--no-deps``, CPU
torch, transformers), a stand-in module holding only that constant is put in its place and ``--fake-prefill``
is refused. Nothing else of the benchmark is replaced.
"""

from __future__ import annotations

import runpy
import sys
import types
import warnings

# sglang 0.5.23, sglang/srt/disaggregation/utils.py line 53.
FAKE_BOOTSTRAP_HOST = "2.2.2.2"
MODULE = "sglang.srt.disaggregation.utils"


def main():
    try:
        __import__(MODULE)
    except Exception as exc:  # noqa: BLE001 - any failure of the engine's import chain means "no engine here"
        if "--fake-prefill" in sys.argv[1:]:
            sys.exit(
                "sglang_bench_serving: --fake-prefill needs SGLang's engine (%s does not import: %s)" % (MODULE, exc)
            )
        stand_in = types.ModuleType(MODULE)
        stand_in.FAKE_BOOTSTRAP_HOST = FAKE_BOOTSTRAP_HOST
        sys.modules[MODULE] = stand_in
        print(
            "sglang_bench_serving: %s does not import here (%s: %s); using a stand-in with FAKE_BOOTSTRAP_HOST"
            % (MODULE, type(exc).__name__, exc),
            file=sys.stderr,
        )
    # sglang.bench_serving warns that it is a deprecated alias of sglang.benchmark.serving; both are the same code.
    warnings.filterwarnings("ignore", category=FutureWarning, module="sglang.bench_serving")
    sys.argv[0] = "sglang.bench_serving"
    runpy.run_module("sglang.bench_serving", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
