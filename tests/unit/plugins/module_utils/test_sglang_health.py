from __future__ import annotations

import json

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_health import (
    probe,
    smoke_generate,
    start_unit,
    wait_ready,
)


def fake_get(responses):
    calls = []

    def get(url, timeout, api_key=None):
        calls.append(url)
        path = url.split("30000", 1)[1]
        value = responses[path]
        return value.pop(0) if isinstance(value, list) else value

    get.calls = calls
    return get


MODELS = (200, json.dumps({"object": "list", "data": [{"id": "r1"}]}))


def test_head_ready_needs_health_generate_and_model_listed():
    assert probe("http://h:30000", True, "r1", get=fake_get({"/health_generate": (200, ""), "/v1/models": MODELS}))[0]
    ready, detail = probe(
        "http://h:30000", True, "r2", get=fake_get({"/health_generate": (200, ""), "/v1/models": MODELS})
    )
    assert not ready and "not r2" in detail
    ready, detail = probe(
        "http://h:30000", True, "r1", get=fake_get({"/health_generate": (503, ""), "/v1/models": MODELS})
    )
    assert not ready and "503" in detail


def test_follower_only_proves_liveness():
    get = fake_get({"/health": (200, "")})
    assert probe("http://h:30000", False, "r1", get=get)[0]
    assert get.calls == ["http://h:30000/health"]


class Clock(object):
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.now += s


def test_wait_until_ready():
    clock = Clock()
    get = fake_get({"/health_generate": [(503, ""), (503, ""), (200, "")], "/v1/models": MODELS})
    res = wait_ready("http://h:30000", True, "r1", timeout_s=60, delay_s=5, get=get, clock=clock, sleep=clock.sleep)
    assert res["ready"] and res["attempts"] == 3 and res["waited_s"] == 10


def test_wait_times_out():
    clock = Clock()
    res = wait_ready(
        "http://h:30000",
        True,
        "r1",
        timeout_s=20,
        delay_s=5,
        get=fake_get({"/health_generate": (503, "")}),
        clock=clock,
        sleep=clock.sleep,
    )
    assert not res["ready"] and "not ready after 20s" in res["detail"]


def test_wait_gives_up_when_the_unit_dies():
    clock = Clock()
    states = [(True, "activating"), (False, "failed")]
    res = wait_ready(
        "http://h:30000",
        True,
        "r1",
        timeout_s=600,
        delay_s=5,
        alive=lambda: states.pop(0),
        get=fake_get({"/health_generate": (503, "")}),
        clock=clock,
        sleep=clock.sleep,
    )
    assert not res["ready"] and "failed" in res["detail"] and clock.now == 5


# -- against real loopback sockets: what SGLang looks like while it loads ------

import socket  # noqa: E402
import threading  # noqa: E402
from http.server import BaseHTTPRequestHandler, HTTPServer  # noqa: E402

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_health import http_request  # noqa: E402


class _Ready(BaseHTTPRequestHandler):
    def do_GET(self):
        body = MODELS[1].encode() if self.path == "/v1/models" else b""
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_connection_refused_is_still_loading_then_ready():
    # A bound port that does not listen refuses connections, as SGLang's HTTP port
    # before every rank joined and loaded; the wait goes on until it serves.
    httpd = HTTPServer(("127.0.0.1", 0), _Ready, bind_and_activate=False)
    httpd.server_bind()
    url = "http://127.0.0.1:%d" % httpd.server_address[1]
    clock = Clock()
    details = []

    def sleep(seconds):
        clock.sleep(seconds)
        if clock.now >= 10 and not getattr(httpd, "serving", False):
            httpd.server_activate()
            httpd.serving = True
            threading.Thread(target=httpd.serve_forever, daemon=True).start()

    def get(u, timeout, api_key=None):
        status, body = http_request("GET", u, 5, api_key)
        details.append((u, status, body))
        return status, body

    try:
        ready, detail = probe(url, True, "r1", timeout=5)
        assert not ready and "connection refused (still loading" in detail
        res = wait_ready(
            url, True, "r1", timeout_s=60, delay_s=5, alive=lambda: (True, "active"), get=get, clock=clock, sleep=sleep
        )
        assert res["ready"], (res, details)
        assert res["attempts"] == 3 and res["waited_s"] == 10
    finally:
        if getattr(httpd, "serving", False):
            httpd.shutdown()
        httpd.server_close()


def test_a_server_dying_mid_response_is_no_answer_not_a_traceback():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def half_answer():
        conn, _addr = srv.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        conn.close()

    t = threading.Thread(target=half_answer, daemon=True)
    t.start()
    try:
        status, body = http_request("GET", "http://127.0.0.1:%d/v1/models" % srv.getsockname()[1], 5)
    finally:
        t.join(5)
        srv.close()
    assert status == 0 and body


def fake_request(status, text=""):
    calls = []

    def request(method, url, timeout, api_key=None, body=None):
        calls.append((method, url, timeout, api_key, body))
        return status, text

    request.calls = calls
    return request


def test_smoke_generation_is_the_rollouts_request():
    # The request the rollout's smoke test sent with ansible.builtin.uri before (issue 19: now in the readiness run).
    request = fake_request(200, '{"choices": []}')
    out = smoke_generate("http://h:30000/", "r1", timeout=120, api_key="k", request=request)
    assert out == {"ok": True, "status": 200, "detail": "rank 0 /v1/chat/completions -> 200"}
    assert request.calls == [
        (
            "POST",
            "http://h:30000/v1/chat/completions",
            120,
            "k",
            {"model": "r1", "messages": [{"role": "user", "content": "rollout smoke test"}], "max_tokens": 4},
        )
    ]


@pytest.mark.parametrize(
    "status, text, detail",
    [
        (500, "Internal\n  error", "rank 0 /v1/chat/completions -> 500: Internal error"),
        (404, "", "rank 0 /v1/chat/completions -> 404: "),
        (0, "Connection refused", "rank 0 /v1/chat/completions -> connection refused"),
    ],
)
def test_smoke_generation_failures(status, text, detail):
    out = smoke_generate("http://h:30000", "r1", request=fake_request(status, text))
    assert out["ok"] is False and out["status"] == status and out["detail"].startswith(detail)


class FakeSystemctl(object):
    """systemctl as a table: ``{verb: [(rc, stdout, stderr), ...]}``, one answer per call."""

    def __init__(self, answers):
        self.answers = {verb: list(values) for verb, values in answers.items()}
        self.calls = []

    def __call__(self, argv):
        self.calls.append(argv[1])
        return self.answers[argv[1]].pop(0)


def test_start_unit_enables_and_starts():
    run = FakeSystemctl({"is-active": [(3, "inactive\n", "")], "is-enabled": [(1, "disabled\n", "")],
                         "enable": [(0, "", "")], "start": [(0, "", "")]})  # fmt: skip
    assert start_unit(run, "systemctl", "sglang-g") == {"started": True, "changed": True, "detail": "started"}
    assert run.calls == ["is-active", "is-enabled", "enable", "start"]


def test_start_unit_already_running_and_enabled_is_no_change():
    run = FakeSystemctl({"is-active": [(0, "active\n", "")], "is-enabled": [(0, "enabled\n", "")],
                         "start": [(0, "", "")]})  # fmt: skip
    assert start_unit(run, "systemctl", "sglang-g")["changed"] is False
    assert run.calls == ["is-active", "is-enabled", "start"]


def test_an_intended_restart_clears_the_start_limit_first():
    # reset-failed before the start: not refused for a crash loop's start limit, and systemd's own restarts
    # after a later crash get the whole StartLimitBurst again (molecule default crashes rank 0 after restarts).
    run = FakeSystemctl({"reset-failed": [(0, "", "")], "is-active": [(3, "failed\n", "")],
                         "is-enabled": [(0, "enabled\n", "")], "start": [(0, "", "")]})  # fmt: skip
    assert start_unit(run, "systemctl", "sglang-g", reset_failed=True)["started"] is True
    assert run.calls == ["reset-failed", "is-active", "is-enabled", "start"]


def test_a_start_that_fails_says_why():
    refused = (1, "", "Job for sglang-g.service failed.\n")
    run = FakeSystemctl({"is-active": [(3, "failed\n", "")], "is-enabled": [(0, "enabled\n", "")],
                         "start": [refused]})  # fmt: skip
    out = start_unit(run, "systemctl", "sglang-g")
    assert out["started"] is False and out["detail"] == "systemctl start sglang-g: Job for sglang-g.service failed."


def test_a_unit_that_cannot_be_enabled_is_not_started():
    run = FakeSystemctl({"is-active": [(3, "inactive\n", "")], "is-enabled": [(1, "masked\n", "")],
                         "enable": [(1, "", "Failed to enable unit: Unit file is masked.\n")]})  # fmt: skip
    out = start_unit(run, "systemctl", "sglang-g")
    assert out["started"] is False and "masked" in out["detail"] and run.calls == ["is-active", "is-enabled", "enable"]
