# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small, bounded load generator for an SGLang router (OpenAI chat API).

Used while a rolling restart runs (tests, demo, benchmark) to show whether
clients saw failures.  Python standard library only, one file, python3 >= 3.9::

    LOADGEN_API_KEY=... python3 sglang_loadgen.py --url http://127.0.0.1:30000 \\
        --model r1 --duration 600 --stop-file /tmp/rollout.done \\
        --sample-workers --out /tmp/loadgen.json

Behaviour
---------
* ``--concurrency N`` threads, closed loop: each thread sends its next
  ``POST {url}/v1/chat/completions`` right after the previous one finished;
  ``--rate R`` optionally caps the total at R requests/s.
* Request n (0-based) is streamed when floor((n+1)*ratio) > floor(n*ratio),
  so exactly ``--stream-ratio`` of the requests stream, deterministically.
* Success: HTTP 200 and, non-stream, a JSON body with
  ``choices[0].message.content`` (a string); stream, SSE ``data: {...}`` lines
  with at least one non-empty ``choices[0].delta.content`` and a final
  ``data: [DONE]``.  Everything else is a failure with a short reason
  (``http_503``, ``connect_refused``, ``timeout``, ``stream_truncated``,
  ``stream_no_done``, ...).
* Sending stops at the first of: ``--duration`` seconds, ``--stop-file``
  appearing, SIGTERM/SIGINT.  In-flight requests are then awaited for at most
  ``--drain`` seconds (default: ``--timeout``); requests still running after
  that are reported as ``abandoned`` (neither ok nor failed).  The whole run
  therefore takes at most duration + drain (+ well under a second).
* ``--sample-workers``: every 0.25 s ``GET {url}/workers`` and count the
  workers that serve (``{"workers": [...]}``, a plain list, or ``{"urls": [...]}``;
  a worker object whose ``status`` is not ``ready``, as the Shepherd Model
  Gateway lists a draining or unhealthy one, does not count); the timeline
  records (t, count) only when the count changes.
* Keys are never taken from argv: ``$LOADGEN_API_KEY_FILE`` (a 0600 file) or ``$LOADGEN_API_KEY`` (if set and not
  empty) is sent as ``Authorization: Bearer ...`` on every request; the
  gateway's admin key for ``GET /workers`` likewise from
  ``$LOADGEN_ADMIN_API_KEY_FILE`` or ``$LOADGEN_ADMIN_API_KEY`` (else the API key).
* Results: ``--out FILE`` (JSON, written atomically) and a summary on stdout
  whose LAST line is ``requests=.. ok=.. failed=.. p50_ms=.. p99_ms=..
  [workers_min=..]`` (``na`` where there is no value).
* Exit 0 when it ran (even with failures: the caller judges), 2 on bad
  arguments, 1 when the results could not be written.
"""

import argparse
import datetime
import http.client
import json
import math
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse

MAX_FAILURE_RECORDS = 50
SAMPLE_INTERVAL_S = 0.25
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_LINE_BYTES = 1024 * 1024
DETAIL_CHARS = 200


class RequestFailed(Exception):
    """A request that did not succeed: ``reason`` is short and countable."""

    def __init__(self, reason, detail=""):
        super(RequestFailed, self).__init__(reason)
        self.reason = reason
        self.detail = str(detail)[:DETAIL_CHARS]


# ----------------------------------------------------------------------------
# pure helpers (imported by the unit tests)
# ----------------------------------------------------------------------------


def is_stream_request(n, ratio):
    """Deterministic: exactly ``ratio`` of requests 0..n-1 stream."""
    if ratio <= 0:
        return False
    if ratio >= 1:
        return True
    return math.floor(round((n + 1) * ratio, 9)) > math.floor(round(n * ratio, 9))


def percentile(sorted_values, pct):
    """Nearest-rank percentile of an already sorted list (None if empty)."""
    if not sorted_values:
        return None
    rank = int(math.ceil(pct / 100.0 * len(sorted_values)))
    rank = min(max(rank, 1), len(sorted_values))
    return sorted_values[rank - 1]


def count_workers(payload):
    """Number of workers in a ``GET /workers`` answer, or raise ValueError.

    Accepted: ``{"workers": [...]}`` (objects or strings), a plain list,
    ``{"urls": [...]}``.
    """
    if isinstance(payload, dict):
        for key in ("workers", "urls"):
            value = payload.get(key)
            if isinstance(value, list):
                payload = value
                break
    if isinstance(payload, list):
        return len([w for w in payload if not isinstance(w, dict) or str(w.get("status", "ready")).lower() == "ready"])
    raise ValueError("unrecognised /workers payload")


def split_url(url):
    """(scheme, host, port, base_path) of ``--url``; ValueError if unusable."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https"):
        raise ValueError("scheme must be http or https")
    if not parsed.hostname:
        raise ValueError("no host")
    if parsed.query or parsed.fragment:
        raise ValueError("no query or fragment allowed")
    try:
        port = parsed.port
    except ValueError as exc:
        raise ValueError(str(exc))
    if port is None:
        port = 443 if parsed.scheme == "https" else 80
    return parsed.scheme, parsed.hostname, port, parsed.path.rstrip("/")


def _ms(value):
    return None if value is None else round(value, 3)


def summary_line(result):
    """The machine-readable last stdout line."""
    lat = result["latency_ms"]

    def fmt(v):
        return "na" if v is None else "%.1f" % v

    parts = [
        "requests=%d" % result["requests"],
        "ok=%d" % result["ok"],
        "failed=%d" % result["failed"],
        "p50_ms=%s" % fmt(lat["p50"]),
        "p99_ms=%s" % fmt(lat["p99"]),
    ]
    if "workers_min" in result:
        wmin = result["workers_min"]
        parts.append("workers_min=%s" % ("na" if wmin is None else wmin))
    return " ".join(parts)


# ----------------------------------------------------------------------------
# the load generator
# ----------------------------------------------------------------------------


class LoadGen(object):
    def __init__(self, args, api_key=None, admin_api_key=None):
        self.args = args
        self.scheme, self.host, self.port, self.base_path = split_url(args.url)
        self.api_key = api_key
        self.admin_api_key = admin_api_key or api_key
        self.stop = threading.Event()
        self.stop_reason = None
        self.lock = threading.Lock()
        self.next_n = 0
        self.next_slot = None
        self.in_flight = 0
        self.ok = 0
        self.failed = 0
        self.stream_requests = 0
        self.latencies = []
        self.failure_reasons = {}
        self.failures = []
        self.workers_timeline = []
        self.workers_last = None
        self.workers_min = None
        self.workers_max = None
        self.workers_samples = 0
        self.workers_sample_errors = 0
        self.workers_last_error = None
        self.t0 = None

    # -- plumbing ------------------------------------------------------------

    def _now(self):
        return time.monotonic() - self.t0

    def _headers(self, extra=None, key=None):
        headers = {"Connection": "close", "User-Agent": "sglang-loadgen/1"}
        key = key or self.api_key
        if key:
            headers["Authorization"] = "Bearer " + key
        if extra:
            headers.update(extra)
        return headers

    def _connect(self, timeout):
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request_stop(self, reason):
        with self.lock:
            if self.stop_reason is None:
                self.stop_reason = reason
        self.stop.set()

    # -- one chat request ----------------------------------------------------

    def _chat(self, n, stream):
        """Send request n; return None on success, raise RequestFailed."""
        timeout = self.args.timeout
        deadline = time.monotonic() + timeout
        body = json.dumps(
            {
                "model": self.args.model,
                "messages": [{"role": "user", "content": "request %d" % n}],
                "max_tokens": self.args.max_tokens,
                "stream": stream,
            }
        ).encode("utf-8")
        headers = self._headers(
            {"Content-Type": "application/json", "Accept": "text/event-stream" if stream else "application/json"}
        )
        conn = self._connect(timeout)
        try:
            try:
                conn.request("POST", self.base_path + "/v1/chat/completions", body=body, headers=headers)
                sock = conn.sock
                resp = conn.getresponse()
            except (socket.timeout, TimeoutError) as exc:
                raise RequestFailed("timeout", exc)
            except ConnectionRefusedError as exc:
                raise RequestFailed("connect_refused", exc)
            except http.client.RemoteDisconnected as exc:
                raise RequestFailed("disconnected", exc)
            except ConnectionResetError as exc:
                raise RequestFailed("connection_reset", exc)
            except (http.client.HTTPException, ValueError) as exc:
                raise RequestFailed("http_protocol", "%s: %s" % (type(exc).__name__, exc))
            except OSError as exc:
                raise RequestFailed("connect_error", "%s: %s" % (type(exc).__name__, exc))

            if resp.status != 200:
                detail = ""
                try:
                    detail = resp.read(DETAIL_CHARS).decode("utf-8", "replace")
                except Exception:  # pylint: disable=broad-except
                    pass
                raise RequestFailed("http_%d" % resp.status, detail)
            if stream:
                self._read_stream(resp, sock, deadline)
            else:
                self._read_json(resp)
            return None
        finally:
            try:
                conn.close()
            except Exception:  # pylint: disable=broad-except
                pass

    @staticmethod
    def _read_json(resp):
        try:
            raw = resp.read(MAX_BODY_BYTES + 1)
        except (socket.timeout, TimeoutError) as exc:
            raise RequestFailed("timeout", exc)
        except (http.client.HTTPException, OSError) as exc:
            raise RequestFailed("body_truncated", "%s: %s" % (type(exc).__name__, exc))
        if len(raw) > MAX_BODY_BYTES:
            raise RequestFailed("body_too_large")
        try:
            doc = json.loads(raw.decode("utf-8"))
        except ValueError as exc:
            raise RequestFailed("bad_json", exc)
        try:
            content = doc["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise RequestFailed("no_content", raw[:DETAIL_CHARS].decode("utf-8", "replace"))
        if not isinstance(content, str):
            raise RequestFailed("no_content", "content is %s" % type(content).__name__)

    @staticmethod
    def _stream_lines(resp, sock, deadline):
        """Yield SSE lines (bytes, without EOL) until a clean end of body.

        Uses read1() rather than readline(): on a chunked body cut short,
        HTTPResponse.readline() (IOBase's peek/read fallback) reports a plain
        EOF, read1() raises IncompleteRead -- which is what must be seen.
        """
        buf = b""
        while True:
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                yield line.rstrip(b"\r")
            if len(buf) > MAX_LINE_BYTES:
                raise RequestFailed("stream_line_too_long")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RequestFailed("timeout", "stream exceeded --timeout")
            try:
                if sock is not None:
                    sock.settimeout(max(remaining, 0.01))
            except OSError:
                pass
            try:
                data = resp.read1(65536)
            except (socket.timeout, TimeoutError) as exc:
                raise RequestFailed("timeout", exc)
            except (http.client.HTTPException, OSError, ValueError) as exc:
                raise RequestFailed("stream_truncated", "%s: %s" % (type(exc).__name__, exc))
            if not data:
                if buf:
                    yield buf.rstrip(b"\r")
                return
            buf += data

    def _read_stream(self, resp, sock, deadline):
        got_content = False
        for line in self._stream_lines(resp, sock, deadline):
            text = line.decode("utf-8", "replace").strip()
            if not text.startswith("data:"):
                continue  # blank separators, ": comments", event:/id: fields
            data = text[5:].strip()
            if data == "[DONE]":
                if not got_content:
                    raise RequestFailed("stream_no_content")
                return
            try:
                chunk = json.loads(data)
            except ValueError as exc:
                raise RequestFailed("stream_bad_json", exc)
            if isinstance(chunk, dict) and chunk.get("error") is not None:
                raise RequestFailed("stream_error", json.dumps(chunk.get("error")))
            try:
                content = chunk["choices"][0]["delta"].get("content")
            except (KeyError, IndexError, TypeError, AttributeError):
                content = None
            if isinstance(content, str) and content:
                got_content = True
        raise RequestFailed("stream_no_done", "end of body before data: [DONE]")

    # -- threads -------------------------------------------------------------

    def _reserve(self):
        """Next request number and stream flag, honouring --rate; None = stop."""
        with self.lock:
            if self.stop.is_set():
                return None
            n = self.next_n
            self.next_n += 1
            slot = None
            if self.args.rate:
                now = time.monotonic()
                slot = now if self.next_slot is None else max(now, self.next_slot)
                self.next_slot = slot + 1.0 / self.args.rate
        if slot is not None:
            wait = slot - time.monotonic()
            if wait > 0 and self.stop.wait(wait):
                return None
        with self.lock:
            if self.stop.is_set():
                return None
            self.in_flight += 1
        return n

    def _record(self, started, stream, n, failure):
        elapsed = time.monotonic() - started
        with self.lock:
            self.in_flight -= 1
            if stream:
                self.stream_requests += 1
            if failure is None:
                self.ok += 1
                self.latencies.append(elapsed * 1000.0)
                return
            self.failed += 1
            self.failure_reasons[failure.reason] = self.failure_reasons.get(failure.reason, 0) + 1
            if len(self.failures) < MAX_FAILURE_RECORDS:
                self.failures.append(
                    {
                        "t": round(self._now(), 3),
                        "n": n,
                        "stream": stream,
                        "reason": failure.reason,
                        "detail": failure.detail,
                        "elapsed_ms": round(elapsed * 1000.0, 1),
                    }
                )

    def _sender(self):
        while not self.stop.is_set():
            n = self._reserve()
            if n is None:
                return
            stream = is_stream_request(n, self.args.stream_ratio)
            started = time.monotonic()
            failure = None
            try:
                self._chat(n, stream)
            except RequestFailed as exc:
                failure = exc
            except Exception as exc:  # pylint: disable=broad-except
                failure = RequestFailed("error_" + type(exc).__name__, exc)
            self._record(started, stream, n, failure)

    def _sample_once(self):
        timeout = min(2.0, self.args.timeout)
        conn = self._connect(timeout)
        try:
            conn.request(
                "GET",
                self.base_path + "/workers",
                headers=self._headers({"Accept": "application/json"}, key=self.admin_api_key),
            )
            resp = conn.getresponse()
            raw = resp.read(MAX_BODY_BYTES)
            if resp.status != 200:
                raise ValueError("http_%d" % resp.status)
            return count_workers(json.loads(raw.decode("utf-8")))
        finally:
            conn.close()

    def _sampler(self):
        next_at = time.monotonic()
        while not self.stop.is_set():
            try:
                count = self._sample_once()
            except Exception as exc:  # pylint: disable=broad-except
                with self.lock:
                    self.workers_sample_errors += 1
                    self.workers_last_error = ("%s: %s" % (type(exc).__name__, exc))[:DETAIL_CHARS]
            else:
                with self.lock:
                    self.workers_samples += 1
                    if count != self.workers_last:
                        self.workers_timeline.append({"t": round(self._now(), 3), "count": count})
                        self.workers_last = count
                    self.workers_min = count if self.workers_min is None else min(self.workers_min, count)
                    self.workers_max = count if self.workers_max is None else max(self.workers_max, count)
            next_at += SAMPLE_INTERVAL_S
            now = time.monotonic()
            if next_at < now:
                next_at = now
            if self.stop.wait(next_at - now):
                return

    # -- run -----------------------------------------------------------------

    def run(self):
        args = self.args
        self.t0 = time.monotonic()
        started_at = datetime.datetime.now(datetime.timezone.utc)
        run_deadline = self.t0 + args.duration
        if args.stop_file and os.path.exists(args.stop_file):
            sys.stderr.write("sglang_loadgen: stop file %s already exists; not sending\n" % args.stop_file)
            self.request_stop("stop_file")

        threads = []
        if args.sample_workers:
            threads.append(threading.Thread(target=self._sampler, name="sampler", daemon=True))
        senders = [
            threading.Thread(target=self._sender, name="sender-%d" % i, daemon=True) for i in range(args.concurrency)
        ]
        for t in threads + senders:
            t.start()

        while not self.stop.is_set():
            now = time.monotonic()
            if now >= run_deadline:
                self.request_stop("duration")
                break
            if args.stop_file and os.path.exists(args.stop_file):
                self.request_stop("stop_file")
                break
            self.stop.wait(min(0.05, max(run_deadline - now, 0.0)))
        sending_stopped = self._now()

        drain = args.timeout if args.drain is None else min(args.drain, args.timeout)
        drain_deadline = time.monotonic() + drain
        for t in senders + threads:
            t.join(max(0.0, drain_deadline - time.monotonic()))
        ended = self._now()
        ended_at = datetime.datetime.now(datetime.timezone.utc)

        with self.lock:
            lat = sorted(self.latencies)
            requests = self.ok + self.failed
            result = {
                "started_at": started_at.isoformat(timespec="milliseconds"),
                "ended_at": ended_at.isoformat(timespec="milliseconds"),
                "duration_s": round(ended, 3),
                "sending_s": round(sending_stopped, 3),
                "stop_reason": self.stop_reason,
                "requests": requests,
                "ok": self.ok,
                "failed": self.failed,
                "abandoned": self.in_flight,
                "stream_requests": self.stream_requests,
                "failure_reasons": dict(sorted(self.failure_reasons.items())),
                "failures": list(self.failures),
                "latency_ms": {
                    "p50": _ms(percentile(lat, 50)),
                    "p95": _ms(percentile(lat, 95)),
                    "p99": _ms(percentile(lat, 99)),
                    "max": _ms(lat[-1] if lat else None),
                },
                "requests_per_s": round(requests / ended, 3) if ended > 0 else 0.0,
                "config": {
                    "url": args.url,
                    "model": args.model,
                    "concurrency": args.concurrency,
                    "duration": args.duration,
                    "rate": args.rate,
                    "max_tokens": args.max_tokens,
                    "stream_ratio": args.stream_ratio,
                    "timeout": args.timeout,
                    "drain": drain,
                    "stop_file": args.stop_file,
                    "api_key_set": bool(self.api_key),
                },
            }
            if args.sample_workers:
                result["workers_min"] = self.workers_min
                result["workers_max"] = self.workers_max
                result["workers_timeline"] = list(self.workers_timeline)
                result["workers_samples"] = self.workers_samples
                result["workers_sample_errors"] = self.workers_sample_errors
                result["workers_last_error"] = self.workers_last_error
        return result


# ----------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------


def _positive_float(text):
    value = float(text)
    if math.isnan(value) or value <= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError("must be a finite number > 0")
    return value


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def _ratio(text):
    value = float(text)
    if not (0.0 <= value <= 1.0):
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="sglang_loadgen.py",
        allow_abbrev=False,
        description="Bounded closed-loop load generator for an SGLang router (API key from $LOADGEN_API_KEY).",
    )
    parser.add_argument("--url", required=True, help="router base URL, e.g. http://127.0.0.1:30000")
    parser.add_argument("--model", required=True, help="model name sent in each request")
    parser.add_argument("--concurrency", type=_positive_int, default=4, help="closed-loop threads (default 4)")
    parser.add_argument(
        "--duration", type=_positive_float, required=True, help="seconds; hard upper bound on sending (plus --drain)"
    )
    parser.add_argument("--stop-file", default=None, help="stop early when this file exists")
    parser.add_argument("--max-tokens", type=_positive_int, default=16, help="max_tokens per request (default 16)")
    parser.add_argument(
        "--stream-ratio", type=_ratio, default=0.5, help="fraction of requests with stream: true (default 0.5)"
    )
    parser.add_argument("--timeout", type=_positive_float, default=60.0, help="per-request timeout s (default 60)")
    parser.add_argument(
        "--drain",
        type=_positive_float,
        default=None,
        help="max seconds to wait for in-flight requests after stopping (default --timeout)",
    )
    parser.add_argument("--rate", type=_positive_float, default=None, help="cap on total requests/s")
    parser.add_argument("--out", default=None, help="write JSON results here")
    parser.add_argument(
        "--sample-workers", action="store_true", help="poll GET {url}/workers every 0.25 s and record the worker count"
    )
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        split_url(args.url)
    except ValueError as exc:
        parser.error("--url %r: %s" % (args.url, exc))
    if args.out:
        parent = os.path.dirname(os.path.abspath(args.out))
        if not os.path.isdir(parent):
            parser.error("--out: directory %s does not exist" % parent)
    return args


def format_summary(result):
    lat = result["latency_ms"]

    def fmt(v):
        return "na" if v is None else "%.1f" % v

    lines = [
        "sglang_loadgen: %s for %.1f s (stop: %s), %d requests, %.2f req/s"
        % (
            result["config"]["url"],
            result["duration_s"],
            result["stop_reason"],
            result["requests"],
            result["requests_per_s"],
        ),
        "  ok=%d failed=%d abandoned=%d stream=%d"
        % (result["ok"], result["failed"], result["abandoned"], result["stream_requests"]),
        "  latency ms (ok): p50=%s p95=%s p99=%s max=%s"
        % (fmt(lat["p50"]), fmt(lat["p95"]), fmt(lat["p99"]), fmt(lat["max"])),
    ]
    for reason, count in result["failure_reasons"].items():
        lines.append("  failure %s: %d" % (reason, count))
    if "workers_min" in result:
        lines.append(
            "  workers: min=%s max=%s changes=%d samples=%d errors=%d"
            % (
                result["workers_min"],
                result["workers_max"],
                len(result["workers_timeline"]),
                result["workers_samples"],
                result["workers_sample_errors"],
            )
        )
    lines.append(summary_line(result))
    return "\n".join(lines)


def write_json(path, result):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as handle:
        json.dump(result, handle, indent=2, sort_keys=False)
        handle.write("\n")
    os.replace(tmp, path)


def main(argv=None):
    args = parse_args(argv)
    keys = {}
    for name in ("LOADGEN_API_KEY", "LOADGEN_ADMIN_API_KEY"):
        keys[name] = os.environ.get(name, "").strip() or None
        key_file = os.environ.get(name + "_FILE")
        if not keys[name] and key_file:
            # A 0600 file (e.g. the router's own key file): keeps the key out of every command line.
            try:
                with open(key_file) as handle:
                    keys[name] = handle.read().strip() or None
            except OSError as exc:
                sys.stderr.write("sglang_loadgen: cannot read %s_FILE %s: %s\n" % (name, key_file, exc))
                return 2
    gen = LoadGen(args, api_key=keys["LOADGEN_API_KEY"], admin_api_key=keys["LOADGEN_ADMIN_API_KEY"])

    def on_signal(signum, _frame):
        gen.request_stop("signal")

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, on_signal)
    try:
        result = gen.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    rc = 0
    if args.out:
        try:
            write_json(args.out, result)
        except OSError as exc:
            sys.stderr.write("sglang_loadgen: cannot write %s: %s\n" % (args.out, exc))
            rc = 1
    sys.stdout.write(format_summary(result) + "\n")
    sys.stdout.flush()
    return rc


if __name__ == "__main__":
    sys.exit(main())
