from __future__ import annotations

import json

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_health import metric_sum, wait_drained
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_router import (
    RouterClient,
    RouterError,
    parse_workers,
    sync_workers,
)


class FakeRouter(object):
    """Speaks the router's worker API; changes become visible after `lag` GETs (queued jobs)."""

    def __init__(self, workers, lag=1):
        self.workers = list(workers)
        self.pending = []
        self.lag = lag
        self.log = []

    def __call__(self, method, url, timeout, api_key=None, body=None):
        path = url.split("//", 1)[1].split("/", 1)[1]
        self.log.append((method, path))
        if method == "GET" and path == "workers":
            for job in list(self.pending):
                job[0] -= 1
                if job[0] < 0:
                    job[1]()
                    self.pending.remove(job)
            return 200, json.dumps({"workers": [{"url": u, "id": "id-" + u.split("//")[1]} for u in self.workers]})
        if method == "POST" and path == "workers":
            self.pending.append([self.lag, lambda: self.workers.append(body["url"])])
            return 202, "{}"
        if method == "DELETE" and path.startswith("workers/id-"):
            url_ = "http://" + path[len("workers/id-"):]
            self.pending.append([self.lag, lambda: self.workers.remove(url_)])
            return 202, "{}"
        return 404, ""


def client(fake):
    return RouterClient("http://r:30000", request=fake, sleep=lambda s: None)


@pytest.mark.parametrize("body, urls", [
    ('{"workers": [{"url": "http://a:1/"}, {"url": "http://b:1"}]}', ["http://a:1", "http://b:1"]),
    ('["http://a:1"]', ["http://a:1"]),
    ('{"urls": ["http://a:1"]}', ["http://a:1"]),
    ('{"total": 0}', []),
])
def test_parse_workers(body, urls):
    assert parse_workers(body) == urls


def test_add_is_confirmed_before_returning():
    fake = FakeRouter(["http://a:1"], lag=2)
    added, removed, workers = sync_workers(client(fake), ["http://a:1", "http://b:1"])
    assert added == ["http://b:1"] and removed == [] and "http://b:1" in workers


def test_remove_by_the_listed_id_and_confirm():
    fake = FakeRouter(["http://a:1", "http://b:1"])
    _added, removed, workers = sync_workers(client(fake), ["http://a:1"], state="absent", min_remaining=1)
    assert removed == ["http://a:1"] and workers == ["http://b:1"]
    assert ("DELETE", "workers/id-a:1") in fake.log


def test_remove_by_escaped_url_when_the_router_lists_no_ids():
    log = []

    def request(method, url, timeout, api_key=None, body=None):
        log.append((method, url))
        if method == "GET":
            return 200, '["http://a:1"]' if len(log) < 3 else "[]"
        return 200, "{}"
    sync_workers(RouterClient("http://r:1", request=request, sleep=lambda s: None), ["http://a:1"], state="absent")
    assert ("DELETE", "http://r:1/workers/http%3A%2F%2Fa%3A1") in log


def test_never_below_the_minimum():
    fake = FakeRouter(["http://a:1"])
    with pytest.raises(RouterError) as err:
        sync_workers(client(fake), ["http://a:1"], state="absent", min_remaining=1)
    assert "would leave 0 worker(s), fewer than the 1" in str(err.value)
    assert fake.workers == ["http://a:1"]


def test_exclusive_adds_before_it_removes():
    fake = FakeRouter(["http://old:1"])
    sync_workers(client(fake), ["http://new:1"], exclusive=True, min_remaining=1)
    writes = [m for m, _p in fake.log if m != "GET"]
    assert writes == ["POST", "DELETE"] and fake.workers == ["http://new:1"]


def test_confirm_timeout():
    fake = FakeRouter([], lag=10 ** 6)
    c = RouterClient("http://r:30000", request=fake, sleep=lambda s: None, clock=iter(range(0, 1000, 30)).__next__)
    with pytest.raises(RouterError) as err:
        sync_workers(c, ["http://a:1"], confirm_timeout=60)
    assert "still absent from" in str(err.value)


METRICS = """# HELP sglang:num_running_reqs x
sglang:num_running_reqs{model_name="m",tp_rank="0"} 2.0
sglang:num_running_reqs{model_name="m",tp_rank="1"} 1.0
sglang:num_queue_reqs{model_name="m"} 0.0
"""


def test_metric_sum():
    assert metric_sum(METRICS, "sglang:num_running_reqs") == 3.0
    assert metric_sum(METRICS, "sglang:gen_throughput") is None


def test_wait_drained_polls_until_zero():
    bodies = [METRICS, METRICS.replace("2.0", "0.0").replace("1.0", "0.0")]
    now = [0.0]

    def sleep(s):
        now[0] += s
    res = wait_drained("http://h:1", timeout_s=10, get=lambda u, t, k=None: (200, bodies.pop(0)),
                       clock=lambda: now[0], sleep=sleep)
    assert res["drained"] and res["waited_s"] == 1


def test_wait_drained_needs_metrics():
    res = wait_drained("http://h:1", get=lambda u, t, k=None: (200, "# nothing\n"), sleep=lambda s: None)
    assert not res["drained"] and "--enable-metrics" in res["detail"]


def test_a_server_that_is_gone_is_drained():
    assert wait_drained("http://h:1", get=lambda u, t, k=None: (0, "refused"), sleep=lambda s: None)["drained"]
