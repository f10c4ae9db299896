# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Metrics: SGLang's Prometheus metric names, the counters and histograms behind them, their text rendering."""

from __future__ import annotations

TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
E2E_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class Histogram:
    def __init__(self, buckets):
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.total = 0
        self.sum = 0.0

    def observe(self, value):
        self.total += 1
        self.sum += value
        for i, b in enumerate(self.buckets):
            if value <= b:
                self.counts[i] += 1


class Series:
    """Counters and histograms of one ``is_streaming`` label value."""

    def __init__(self):
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.num_requests = 0
        self.ttft = Histogram(TTFT_BUCKETS)
        self.e2e = Histogram(E2E_BUCKETS)


def _labels(pairs):
    return "{%s}" % ",".join('%s="%s"' % (k, str(v).replace("\\", "\\\\").replace('"', '\\"')) for k, v in pairs)


def render_metrics(engine):
    """Prometheus text with SGLang's metric names (scheduler gauges, tokenizer counters/histograms)."""
    s = engine.s
    base = [("model_name", s.served_model_name)]
    out = []
    if s.node_rank != 0:  # scheduler metrics are exported by TP rank 0 only
        return "# sglang emulator: node rank %d exports no scheduler metrics\n" % s.node_rank
    with engine.lock:
        gauges = [
            ("sglang:num_running_reqs", "The number of running requests.", engine.running),
            ("sglang:num_queue_reqs", "The number of requests in the waiting queue.", engine.queued),
            ("sglang:num_used_tokens", "The number of used tokens.", max(0, engine.running_tokens)),
            ("sglang:token_usage", "The token usage.", max(0, engine.running_tokens) / float(s.max_total_tokens)),
        ]
        series = {
            k: (
                v.prompt_tokens,
                v.generation_tokens,
                v.num_requests,
                list(zip(v.ttft.buckets, v.ttft.counts)),
                v.ttft.total,
                v.ttft.sum,
                list(zip(v.e2e.buckets, v.e2e.counts)),
                v.e2e.total,
                v.e2e.sum,
            )
            for k, v in engine.series.items()
        }
    gauges.append(("sglang:gen_throughput", "The generation throughput (token/s).", engine.gen_throughput()))
    for name, help_, value in gauges:
        out += [
            "# HELP %s %s" % (name, help_),
            "# TYPE %s gauge" % name,
            "%s%s %s" % (name, _labels(base), float(value)),
        ]
    counters = (
        ("sglang:prompt_tokens_total", "Number of prefill tokens processed.", 0),
        ("sglang:generation_tokens_total", "Number of generation tokens processed.", 1),
        ("sglang:num_requests_total", "Number of requests processed.", 2),
    )
    for name, help_, idx in counters:
        out += ["# HELP %s %s" % (name, help_), "# TYPE %s counter" % name]
        for streaming in (False, True):
            labels = _labels(base + [("is_streaming", str(streaming).lower())])
            out.append("%s%s %s" % (name, labels, float(series[streaming][idx])))
    hists = (
        ("sglang:time_to_first_token_seconds", "Histogram of time to first token in seconds.", 3),
        ("sglang:e2e_request_latency_seconds", "Histogram of End-to-end request latency in seconds", 6),
    )
    for name, help_, idx in hists:
        out += ["# HELP %s %s" % (name, help_), "# TYPE %s histogram" % name]
        for streaming in (False, True):
            pairs = base + [("is_streaming", str(streaming).lower())]
            buckets, total, ssum = series[streaming][idx : idx + 3]
            for b, c in buckets:
                out.append("%s_bucket%s %s" % (name, _labels(pairs + [("le", float(b))]), float(c)))
            out.append("%s_bucket%s %s" % (name, _labels(pairs + [("le", "+Inf")]), float(total)))
            out.append("%s_count%s %s" % (name, _labels(pairs), float(total)))
            out.append("%s_sum%s %s" % (name, _labels(pairs), float(ssum)))
    return "\n".join(out) + "\n"
