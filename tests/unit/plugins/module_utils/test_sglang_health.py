from __future__ import annotations

import json

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_health import probe, wait_ready


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
    ready, detail = probe("http://h:30000", True, "r2",
                          get=fake_get({"/health_generate": (200, ""), "/v1/models": MODELS}))
    assert not ready and "not r2" in detail
    ready, detail = probe("http://h:30000", True, "r1",
                          get=fake_get({"/health_generate": (503, ""), "/v1/models": MODELS}))
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
    res = wait_ready("http://h:30000", True, "r1", timeout_s=20, delay_s=5,
                     get=fake_get({"/health_generate": (503, "")}), clock=clock, sleep=clock.sleep)
    assert not res["ready"] and "not ready after 20s" in res["detail"]


def test_wait_gives_up_when_the_unit_dies():
    clock = Clock()
    states = [(True, "activating"), (False, "failed")]
    res = wait_ready("http://h:30000", True, "r1", timeout_s=600, delay_s=5, alive=lambda: states.pop(0),
                     get=fake_get({"/health_generate": (503, "")}), clock=clock, sleep=clock.sleep)
    assert not res["ready"] and "failed" in res["detail"] and clock.now == 5
