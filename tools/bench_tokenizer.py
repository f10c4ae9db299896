#!/usr/bin/env python3
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write a small word-level Hugging Face tokenizer directory, offline, for benchmarking the emulator.

    tools/bench_tokenizer.py DIR [--vocab-size N]

SGLang's ``bench_serving`` needs a tokenizer even for its synthetic datasets: ``random-ids`` draws token ids
in ``[0, tokenizer.vocab_size)`` and decodes them into the prompt text, and every answer is re-tokenized for
``total_output_tokens_retokenized`` (sglang 0.5.23, ``sglang/benchmark/datasets/random.py``
``sample_random_requests`` and ``sglang/benchmark/serving.py`` ``calculate_metrics``). It loads one with
``AutoTokenizer.from_pretrained(path)`` (``sglang/benchmark/utils.py`` ``get_tokenizer``).

A real fleet points the playbook at the served model's own tokenizer (the model directory on the controller).
The emulator has no tokenizer: it counts one token per whitespace-separated word
(``tools/doubles/sglang_emulator.py`` ``count_tokens``). This writes a tokenizer that counts the same way:
a ``tokenizers`` WordLevel model over ``w0 … w<N-1>`` plus ``[UNK]``, split on whitespace, no special tokens
added, loaded by transformers as a ``PreTrainedTokenizerFast``. So the prompt lengths the benchmark asks for are
the lengths the emulator sees. It is a test tokenizer, not a model's: figures measured with it say nothing about
a real model's tokenization.

Needs the ``tokenizers`` package (in the benchmark venv, tools/sglang-bench-venv.sh).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

UNK = "[UNK]"


def vocab(size):
    if size < 2:
        raise ValueError("vocab size must be at least 2 (got %d)" % size)
    words = {"w%d" % i: i for i in range(size - 1)}
    words[UNK] = size - 1
    return words


def write_tokenizer(directory, size=4096):
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit

    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(WordLevel(vocab=vocab(size), unk_token=UNK))
    tok.pre_tokenizer = WhitespaceSplit()
    tok.save(str(directory / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": UNK,
        "model_max_length": 1 << 20,
        "clean_up_tokenization_spaces": False,
    }
    (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    (directory / "special_tokens_map.json").write_text(json.dumps({"unk_token": UNK}) + "\n")
    (directory / "README.md").write_text(
        "Word-level test tokenizer written by gpufleet.sglang tools/bench_tokenizer.py: one token per\n"
        "whitespace-separated word, as the engine emulator counts. Not a model's tokenizer.\n"
    )
    return directory


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("--vocab-size", type=int, default=4096)
    args = parser.parse_args(argv)
    try:
        write_tokenizer(args.directory, args.vocab_size)
    except ImportError:
        sys.exit(
            "bench_tokenizer: the 'tokenizers' package is missing: run it with the benchmark venv's python "
            "(tools/sglang-bench-venv.sh)"
        )
    except (OSError, ValueError) as exc:
        sys.exit("bench_tokenizer: %s" % exc)
    print(args.directory)


if __name__ == "__main__":
    main()
