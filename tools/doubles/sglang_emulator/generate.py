# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deterministic generation and the endpoints that produce text: /generate, /v1/completions, /v1/chat/completions."""

from __future__ import annotations

import hashlib
import random
import time
import uuid

from .engine import NotAdmitted

VOCAB = (
    "the model emulator says hello from a test double that streams tokens at a "
    "steady pace so drains and rolling restarts can be observed without any gpu "
    "tensor parallel group node rank ready health router request answer token"
).split()


def count_tokens(text):
    return max(1, len(str(text).split()))


def generate_words(prompt, n):
    seed = int.from_bytes(hashlib.sha256(str(prompt).encode("utf-8")).digest()[:8], "big")
    rng = random.Random(seed)
    return [rng.choice(VOCAB) for _i in range(n)]


def chat_prompt(messages):
    parts = []
    for m in messages or []:
        if not isinstance(m, dict):
            continue
        content = m.get("content")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        parts.append("%s: %s" % (m.get("role", "user"), content or ""))
    return "\n".join(parts)


def stream_words(engine, req, words):
    """Yield (index, piece) with the per-token delay; each yielded piece is one token."""
    for i, w in enumerate(words):
        if engine.s.token_delay:
            time.sleep(engine.s.token_delay)
        req.token()
        yield i, (w if i == 0 else " " + w)


class GenerateEndpoints:
    """The generation endpoints of http_server.Handler (a mixin: it uses the handler's _body, _send, _error,
    _start_stream, _chunk, _end_stream and engine)."""

    @staticmethod
    def _limit(value, natural=16):
        """(n_tokens, finish_reason): honour an explicit limit; otherwise 'stop' after ``natural``."""
        if value is None:
            return natural, "stop"
        n = int(value)
        if n < 0:
            raise ValueError("max tokens must be >= 0")
        return n, "length"

    def _admit(self, streaming=False):
        try:
            return self.engine.admit(streaming)
        except NotAdmitted:
            self._error(503, "The server is not ready" if not self.engine.draining else "The server is shutting down")
            return None

    def h_generate(self):
        body = self._body()
        text = body.get("text")
        if text is None and body.get("input_ids") is not None:
            text = " ".join(str(t) for t in body.get("input_ids"))
        if isinstance(text, list):
            if body.get("stream"):
                return self._error(400, "the emulator does not stream batched /generate requests")
            results = [self._generate_one(t, body, None) for t in text]
            if any(r is None for r in results):
                return None
            return self._send(200, results)
        if text is None:
            return self._error(400, "Either text or input_ids should be provided.")
        if body.get("stream"):
            return self._generate_stream(text, body)
        result = self._generate_one(text, body, None)
        if result is not None:
            self._send(200, result)

    def _gen_params(self, body):
        sp = body.get("sampling_params") or {}
        try:
            return self._limit(sp.get("max_new_tokens"))
        except (TypeError, ValueError) as exc:
            self._error(400, str(exc))
            return None

    def _meta(self, rid, req, finish, n):
        return {
            "id": rid,
            "finish_reason": (
                {"type": "length", "length": n} if finish == "length" else {"type": "stop", "matched": None}
            ),
            "prompt_tokens": req.prompt_tokens,
            "completion_tokens": req.tokens,
            "cached_tokens": 0,
            "weight_version": "default",
            "e2e_latency": round(time.monotonic() - req.t0, 6),
        }

    def _generate_one(self, text, body, _unused):
        params = self._gen_params(body)
        if params is None:
            return None
        n, finish = params
        admitted = self._admit(False)
        if admitted is None:
            return None
        rid = body.get("rid") or uuid.uuid4().hex
        with admitted as req:
            req.start(count_tokens(text))
            out = "".join(p for _t, p in stream_words(self.engine, req, generate_words(text, n)))
            return {"text": out, "meta_info": self._meta(rid, req, finish, n)}

    def _generate_stream(self, text, body):
        params = self._gen_params(body)
        if params is None:
            return
        n, finish = params
        admitted = self._admit(True)
        if admitted is None:
            return
        rid = body.get("rid") or uuid.uuid4().hex
        with admitted as req:
            req.start(count_tokens(text))
            self._start_stream()
            acc = ""
            words = generate_words(text, n)
            for i, piece in stream_words(self.engine, req, words):
                acc += piece
                meta = self._meta(rid, req, finish if i == n - 1 else None, n)
                if i != n - 1:
                    meta["finish_reason"] = None
                self._chunk({"text": acc, "meta_info": meta, "index": 0})
            if n == 0:
                self._chunk({"text": "", "meta_info": self._meta(rid, req, finish, n), "index": 0})
            self._chunk("[DONE]")
            self._end_stream()

    def h_completions(self):
        self._openai(chat=False)

    def h_chat(self):
        self._openai(chat=True)

    def _openai(self, chat):
        body = self._body()
        s = self.engine.s
        if chat:
            if not isinstance(body.get("messages"), list) or not body.get("messages"):
                return self._error(400, "messages must be a non-empty list")
            prompt = chat_prompt(body["messages"])
            prompt_tokens = count_tokens(prompt) + 3 * len(body["messages"])
            limit = body.get("max_completion_tokens", body.get("max_tokens"))
        else:
            if "prompt" not in body:
                return self._error(400, "prompt is required")
            prompt = body["prompt"]
            if isinstance(prompt, list):
                prompt = " ".join(str(p) for p in prompt)
            prompt_tokens = count_tokens(prompt)
            limit = body.get("max_tokens", 16)
        try:
            n, finish = self._limit(limit)
        except (TypeError, ValueError) as exc:
            return self._error(400, str(exc))
        admitted = self._admit(bool(body.get("stream")))
        if admitted is None:
            return
        model = body.get("model") or s.served_model_name
        cid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex
        created = int(time.time())
        words = generate_words(prompt, n)
        with admitted as req:
            req.start(prompt_tokens)
            if body.get("stream"):
                self._openai_stream(chat, req, words, n, finish, model, cid, created, body)
                return
            text = "".join(p for _t, p in stream_words(self.engine, req, words))
            usage = {
                "prompt_tokens": req.prompt_tokens,
                "completion_tokens": req.tokens,
                "total_tokens": req.prompt_tokens + req.tokens,
                "prompt_tokens_details": None,
            }
            if chat:
                choice = {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "reasoning_content": None, "tool_calls": None},
                    "logprobs": None,
                    "finish_reason": finish,
                    "matched_stop": None,
                }
                obj = "chat.completion"
            else:
                choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish, "matched_stop": None}
                obj = "text_completion"
            self._send(
                200, {"id": cid, "object": obj, "created": created, "model": model, "choices": [choice], "usage": usage}
            )

    def _openai_stream(self, chat, req, words, n, finish, model, cid, created, body):
        obj = "chat.completion.chunk" if chat else "text_completion"
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta_text, reason, first=False):
            if chat:
                delta = {"role": "assistant", "content": delta_text} if first else {"content": delta_text}
                choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
            else:
                choice = {"index": 0, "text": delta_text, "logprobs": None, "finish_reason": reason}
            return {"id": cid, "object": obj, "created": created, "model": model, "choices": [choice], "usage": None}

        self._start_stream()
        if chat:
            self._chunk(chunk("", None, first=True))
        for _i, piece in stream_words(self.engine, req, words):
            self._chunk(chunk(piece, None))
        self._chunk(chunk("", finish))
        if include_usage:
            self._chunk(
                {
                    "id": cid,
                    "object": obj,
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": req.prompt_tokens,
                        "completion_tokens": req.tokens,
                        "total_tokens": req.prompt_tokens + req.tokens,
                    },
                }
            )
        self._chunk("[DONE]")
        self._end_stream()
