# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for tools/doubles/sglang_loadgen.py (rolling-restart load generator).

Loopback only: a tiny in-test ThreadingHTTPServer fakes the router's OpenAI chat
endpoint and ``GET /workers``.  The load generator runs as a subprocess (as on
the router host); every wait is bounded and every process is killed in teardown.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import load_file

REPO = Path(__file__).resolve().parents[2]
LOADGEN = REPO / "tools" / "doubles" / "sglang_loadgen.py"
LOOPBACK = "127.0.0.1"
LAST_LINE = re.compile(
    r"^requests=\d+ ok=\d+ failed=\d+ p50_ms=(\d+\.\d|na) p99_ms=(\d+\.\d|na)( workers_min=(\d+|na))?$"
)


lg = load_file(LOADGEN)


# ----------------------------------------------------------------------------
# fake router
# ----------------------------------------------------------------------------


class FakeRouter(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__((LOOPBACK, 0), _Handler)
        self.lock = threading.Lock()
        self.schedule = ["ok"]  # behaviours, cycled per chat request
        self.delay = 0.0  # seconds before answering a chat request
        self.served = []  # (behaviour, stream) per chat request
        self.auth_headers = []
        self.workers_auth = set()
        self.workers_payload = {"workers": [{"url": "http://w1"}, {"url": "http://w2"}]}
        self.workers_gets = 0

    @property
    def url(self):
        return "http://%s:%d" % (LOOPBACK, self.server_address[1])

    def next_behaviour(self, stream):
        with self.lock:
            behaviour = self.schedule[len(self.served) % len(self.schedule)]
            self.served.append((behaviour, stream))
            return behaviour


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _send_json(self, status, doc):
        raw = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(raw)
        self.close_connection = True

    def _chunk(self, text):
        raw = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
        self.wfile.flush()

    def _sse(self, obj):
        self._chunk("data: %s\n\n" % (obj if isinstance(obj, str) else json.dumps(obj)))

    def do_GET(self):
        srv = self.server
        if self.path == "/workers":
            with srv.lock:
                srv.workers_gets += 1
                srv.workers_auth.add(self.headers.get("Authorization"))
                payload = srv.workers_payload
            self._send_json(200, payload)
        else:
            self._send_json(404, {"error": "not found"})

    def do_POST(self):
        srv = self.server
        length = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(length) or b"{}")
        with srv.lock:
            srv.auth_headers.append(self.headers.get("Authorization"))
        if self.path != "/v1/chat/completions":
            self._send_json(404, {"error": "not found"})
            return
        assert req["messages"][0]["content"].startswith("request ")
        stream = bool(req.get("stream"))
        behaviour = srv.next_behaviour(stream)
        if srv.delay:
            time.sleep(srv.delay)
        if behaviour == "503":
            self._send_json(503, {"error": "no healthy worker"})
            return
        if behaviour == "badjson":
            self._send_json(200, {"choices": []})
            return
        if not stream:
            self._send_json(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}]})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        delta = {"choices": [{"index": 0, "delta": {"content": "hi"}}]}
        self._sse({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
        self._sse(delta)
        if behaviour == "broken":
            return  # connection closes mid chunked body -> truncated
        self._sse(delta)
        if behaviour != "nodone":
            self._sse("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


@pytest.fixture
def router():
    srv = FakeRouter()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


# ----------------------------------------------------------------------------
# running the load generator
# ----------------------------------------------------------------------------

_PROCS = []


@pytest.fixture(autouse=True)
def _kill_leftovers():
    yield
    while _PROCS:
        proc = _PROCS.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def start(args, env_extra=None):
    env = dict(os.environ)
    env.pop("LOADGEN_API_KEY", None)
    env.update(env_extra or {})
    proc = subprocess.Popen(
        [sys.executable, str(LOADGEN)] + [str(a) for a in args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    _PROCS.append(proc)
    return proc


def finish(proc, timeout=15):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def run_lg(router, tmp_path, *extra, env_extra=None, timeout=15):
    out_file = tmp_path / "result.json"
    base = ["--url", router.url, "--model", "m", "--out", out_file]
    t0 = time.monotonic()
    rc, out, err = finish(start(base + list(extra), env_extra), timeout)
    elapsed = time.monotonic() - t0
    assert rc == 0, err
    result = json.loads(out_file.read_text())
    return result, out, elapsed


def check_last_line(out, sampling):
    last = out.strip().splitlines()[-1]
    m = LAST_LINE.match(last)
    assert m, last
    assert (m.group(3) is not None) == sampling, last
    return dict(kv.split("=", 1) for kv in last.split())


# ----------------------------------------------------------------------------
# pure helpers
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload,count",
    [
        ({"workers": [{"url": "a"}, {"url": "b"}], "total": 2}, 2),
        ({"workers": ["http://a", "http://b", "http://c"]}, 3),
        ({"workers": []}, 0),
        (["http://a"], 1),
        ({"urls": ["http://a", "http://b"]}, 2),
        # The Shepherd Model Gateway lists draining, pending and unhealthy workers too: only "ready" ones serve.
        (
            {
                "workers": [
                    {"url": "a", "status": "ready"},
                    {"url": "b", "status": "draining"},
                    {"url": "c", "status": "pending"},
                    {"url": "d", "status": "not_ready"},
                ]
            },
            1,
        ),
    ],
)
def test_count_workers_formats(payload, count):
    assert lg.count_workers(payload) == count


@pytest.mark.parametrize("payload", [{}, {"workers": "a"}, "x", 3, None])
def test_count_workers_rejects(payload):
    with pytest.raises(ValueError):
        lg.count_workers(payload)


@pytest.mark.parametrize("ratio,expected", [(0.0, 0), (1.0, 100), (0.5, 50), (0.25, 25), (0.1, 10), (0.33, 33)])
def test_stream_ratio_exact(ratio, expected):
    assert sum(lg.is_stream_request(n, ratio) for n in range(100)) == expected


def test_percentile():
    values = sorted(float(v) for v in range(1, 101))
    assert lg.percentile(values, 50) == 50.0
    assert lg.percentile(values, 99) == 99.0
    assert lg.percentile(values, 100) == 100.0
    assert lg.percentile([7.0], 95) == 7.0
    assert lg.percentile([], 50) is None


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--url", "http://127.0.0.1:1", "--model", "m"],  # --duration required
        ["--url", "http://127.0.0.1:1", "--model", "m", "--duration", "0"],
        ["--url", "http://127.0.0.1:1", "--model", "m", "--duration", "1", "--concurrency", "0"],
        ["--url", "http://127.0.0.1:1", "--model", "m", "--duration", "1", "--stream-ratio", "1.5"],
        ["--url", "ftp://127.0.0.1:1", "--model", "m", "--duration", "1"],
        ["--url", "http://127.0.0.1:1", "--model", "m", "--duration", "1", "--api-key", "x"],  # never on argv
        ["--url", "http://127.0.0.1:1", "--model", "m", "--duration", "1", "--out", "/nonexistent/dir/x.json"],
    ],
)
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        lg.parse_args(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_bad_arguments_exit_2_subprocess():
    rc, _out, err = finish(start(["--url", "http://127.0.0.1:1", "--model", "m", "--duration", "-1"]), timeout=10)
    assert rc == 2, err
    assert "--duration" in err


# ----------------------------------------------------------------------------
# end to end against the fake router
# ----------------------------------------------------------------------------


def test_counts_ok_and_failed_stream(router, tmp_path):
    router.schedule = ["ok", "503", "broken", "nodone"]
    result, out, _err = run_lg(router, tmp_path, "--duration", "1", "--concurrency", "2", "--stream-ratio", "1")
    served = list(router.served)
    assert result["abandoned"] == 0
    assert result["requests"] == len(served) >= 8
    assert result["ok"] + result["failed"] == result["requests"]
    assert result["stream_requests"] == result["requests"]
    expected = {"ok": 0, "503": 0, "broken": 0, "nodone": 0}
    for behaviour, stream in served:
        assert stream
        expected[behaviour] += 1
    assert result["ok"] == expected["ok"]
    assert result["failure_reasons"] == {
        k: v
        for k, v in {
            "http_503": expected["503"],
            "stream_truncated": expected["broken"],
            "stream_no_done": expected["nodone"],
        }.items()
        if v
    }
    assert len(result["failures"]) == min(50, result["failed"])
    rec = result["failures"][0]
    assert set(rec) >= {"t", "reason", "detail"} and rec["t"] >= 0
    lat = result["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    assert result["requests_per_s"] > 0
    assert "workers_min" not in result
    kv = check_last_line(out, sampling=False)
    assert int(kv["requests"]) == result["requests"] and int(kv["failed"]) == result["failed"]


def test_counts_non_stream_and_mixed(router, tmp_path):
    router.schedule = ["ok", "ok", "503", "badjson"]
    result, _out, _err = run_lg(router, tmp_path, "--duration", "0.8", "--concurrency", "1", "--stream-ratio", "0")
    served = list(router.served)
    assert result["requests"] == len(served) >= 4
    assert result["stream_requests"] == 0
    assert result["ok"] == sum(1 for b, _stream in served if b == "ok")
    assert result["failure_reasons"].get("http_503") == sum(1 for b, _stream in served if b == "503")
    assert result["failure_reasons"].get("no_content") == sum(1 for b, _stream in served if b == "badjson")

    router.schedule = ["ok"]
    router.served.clear()
    result, _out, _err = run_lg(router, tmp_path, "--duration", "0.8", "--concurrency", "1", "--stream-ratio", "0.5")
    n_stream = sum(1 for _body, s in router.served if s)
    assert result["failed"] == 0 and result["ok"] == len(router.served)
    assert result["stream_requests"] == n_stream
    assert abs(n_stream - len(router.served) / 2.0) <= 1


def test_connection_refused_is_failure(tmp_path):
    import socket

    s = socket.socket()
    s.bind((LOOPBACK, 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    out_file = tmp_path / "r.json"
    rc, out, err = finish(
        start(
            [
                "--url",
                "http://%s:%d" % (LOOPBACK, port),
                "--model",
                "m",
                "--duration",
                "0.3",
                "--concurrency",
                "1",
                "--rate",
                "20",
                "--out",
                out_file,
            ]
        )
    )
    assert rc == 0, err
    result = json.loads(out_file.read_text())
    assert result["ok"] == 0 and result["failed"] >= 1
    assert set(result["failure_reasons"]) == {"connect_refused"}
    assert result["latency_ms"]["p50"] is None
    kv = check_last_line(out, sampling=False)
    assert kv["p50_ms"] == "na"


def test_failure_records_capped_at_50(router, tmp_path):
    router.schedule = ["503"]
    result, _out, _err = run_lg(router, tmp_path, "--duration", "1", "--concurrency", "4")
    assert result["failed"] > 50
    assert len(result["failures"]) == 50
    assert result["failure_reasons"] == {"http_503": result["failed"]}


def test_duration_bound_respected(router, tmp_path):
    router.delay = 0.2
    result, _out, elapsed = run_lg(router, tmp_path, "--duration", "1", "--concurrency", "2")
    assert result["stop_reason"] == "duration"
    assert 1.0 <= result["sending_s"] < 1.3
    assert result["duration_s"] < 1.6
    assert elapsed < 3.5
    assert result["abandoned"] == 0 and result["failed"] == 0
    assert 6 <= result["ok"] <= 14


def test_timeout_and_drain_bound(router, tmp_path):
    router.delay = 20  # never answers in time
    result, _out, elapsed = run_lg(router, tmp_path, "--duration", "0.3", "--concurrency", "2", "--timeout", "0.8")
    assert elapsed < 4
    assert result["ok"] == 0
    assert result["failure_reasons"].get("timeout", 0) + result["abandoned"] >= 2
    assert set(result["failure_reasons"]) <= {"timeout"}

    router.served.clear()
    result, _out, elapsed = run_lg(
        router, tmp_path, "--duration", "0.3", "--concurrency", "2", "--timeout", "30", "--drain", "0.5"
    )
    assert elapsed < 4
    assert result["abandoned"] == 2 and result["requests"] == 0


def test_rate_cap(router, tmp_path):
    result, _out, _err = run_lg(router, tmp_path, "--duration", "1", "--concurrency", "4", "--rate", "5")
    assert result["failed"] == 0
    assert 3 <= result["requests"] <= 6


def test_stop_file_ends_early(router, tmp_path):
    stop = tmp_path / "rollout.done"
    out_file = tmp_path / "r.json"
    t0 = time.monotonic()
    proc = start(["--url", router.url, "--model", "m", "--duration", "60", "--stop-file", stop, "--out", out_file])
    time.sleep(0.6)
    assert proc.poll() is None
    stop.write_text("done\n")
    rc, out, err = finish(proc, timeout=10)
    assert rc == 0, err
    assert time.monotonic() - t0 < 5
    result = json.loads(out_file.read_text())
    assert result["stop_reason"] == "stop_file"
    assert result["duration_s"] < 3
    assert result["ok"] > 0 and result["failed"] == 0 and result["abandoned"] == 0
    check_last_line(out, sampling=False)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_drains_and_writes(router, tmp_path, signum):
    router.delay = 0.3
    out_file = tmp_path / "r.json"
    proc = start(["--url", router.url, "--model", "m", "--duration", "60", "--concurrency", "3", "--out", out_file])
    time.sleep(0.6)
    proc.send_signal(signum)
    rc, out, err = finish(proc, timeout=10)
    assert rc == 0, err
    result = json.loads(out_file.read_text())
    assert result["stop_reason"] == "signal"
    assert result["abandoned"] == 0 and result["failed"] == 0
    assert result["ok"] == len(router.served) >= 3  # in-flight ones finished and counted
    check_last_line(out, sampling=False)


def test_api_key_from_env(router, tmp_path):
    result, out, _err = run_lg(
        router,
        tmp_path,
        "--duration",
        "0.5",
        "--concurrency",
        "1",
        "--sample-workers",
        env_extra={"LOADGEN_API_KEY": "sekrit-123"},
    )
    assert result["ok"] > 0
    assert router.auth_headers and set(router.auth_headers) == {"Bearer sekrit-123"}
    assert result["config"]["api_key_set"] is True
    assert "sekrit-123" not in out and "sekrit-123" not in json.dumps(result)

    router.auth_headers.clear()
    result, _out, _err = run_lg(router, tmp_path, "--duration", "0.3", "--concurrency", "1")
    assert set(router.auth_headers) == {None}
    assert result["config"]["api_key_set"] is False


def test_admin_key_only_for_the_worker_list(router, tmp_path):
    # The gateway's /workers answers to its control-plane key; chat requests carry the data-plane key.
    (tmp_path / "admin").write_text("adm-456\n")
    result, out, _err = run_lg(
        router,
        tmp_path,
        "--duration",
        "0.6",
        "--concurrency",
        "1",
        "--sample-workers",
        env_extra={"LOADGEN_API_KEY": "data-123", "LOADGEN_ADMIN_API_KEY_FILE": str(tmp_path / "admin")},
    )
    assert result["ok"] > 0 and result["workers_min"] is not None
    assert set(router.auth_headers) == {"Bearer data-123"}
    assert router.workers_auth == {"Bearer adm-456"}
    assert "adm-456" not in out and "adm-456" not in json.dumps(result)


def test_worker_sampling_timeline(router, tmp_path):
    # three formats in one run: the count is what matters, not the shape
    def payload(n):
        names = ["http://w%d" % i for i in range(n)]
        return {2: {"workers": [{"url": u, "healthy": True} for u in names], "total": n}, 1: {"urls": names}, 3: names}[
            n
        ]

    router.workers_payload = payload(2)

    def flip():
        time.sleep(0.6)
        router.workers_payload = payload(1)
        time.sleep(0.5)
        router.workers_payload = payload(3)

    flipper = threading.Thread(target=flip, daemon=True)
    flipper.start()
    result, out, _err = run_lg(router, tmp_path, "--duration", "1.5", "--concurrency", "1", "--sample-workers")
    flipper.join(5)
    assert result["workers_min"] == 1
    assert result["workers_max"] == 3
    counts = [e["count"] for e in result["workers_timeline"]]
    assert counts == [2, 1, 3]
    times = [e["t"] for e in result["workers_timeline"]]
    assert times == sorted(times) and times[0] < 0.3 and 0.3 < times[1] < times[2]
    assert 4 <= result["workers_samples"] <= 8 and result["workers_sample_errors"] == 0
    kv = check_last_line(out, sampling=True)
    assert kv["workers_min"] == "1"
