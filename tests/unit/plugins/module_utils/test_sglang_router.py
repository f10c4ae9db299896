from __future__ import annotations

import json

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_health import metric_sum, wait_drained
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_router import (
    RouterClient,
    RouterError,
    gateway_active_requests,
    parse_worker_states,
    parse_workers,
    router_problems,
    sync_workers,
    wait_gateway_drained,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_router_catalog import SMG_FLAGS


class FakeGateway(object):
    """Speaks smg 1.13.0's admin API as read from its source and seen with the wheel.

    POST /workers answers 202 with a worker_id; the job lists the worker `lag` GETs later, first
    as "pending" for `pending` more GETs, then "ready"; a URL already listed answers 409;
    DELETE /workers/{id} answers 202 and the worker goes `lag` GETs later. The admin key is
    required when `admin_key` is set. Registered keys are recorded per URL.
    """

    def __init__(self, workers, lag=1, pending=0, admin_key=None, settle=None, draining=()):
        self.workers = dict((u, "ready") for u in workers)
        # smg's removal job (drain_workers.rs): a ready worker turns "draining" and stays listed
        # `settle` GETs (its drain_settle_secs) before it goes; None: it just goes after `lag`.
        self.settle = settle
        for u in draining:
            self.workers[u] = "draining"
        self.pending_jobs = []
        self.lag = lag
        self.pending = pending
        self.admin_key = admin_key
        self.keys = {}
        self.log = []

    def _tick(self):
        for job in list(self.pending_jobs):
            job[0] -= 1
            if job[0] < 0:
                job[1]()
                self.pending_jobs.remove(job)

    def __call__(self, method, url, timeout, api_key=None, body=None):
        path = url.split("//", 1)[1].split("/", 1)[1]
        self.log.append((method, path))
        if self.admin_key and api_key != self.admin_key:
            return 401, '{"error": "Invalid authentication token"}'
        if method == "GET" and path == "workers":
            self._tick()
            return 200, json.dumps(
                {
                    "workers": [
                        {"url": u, "id": "id-" + u.split("//")[1], "status": st, "is_healthy": st == "ready"}
                        for u, st in self.workers.items()
                    ],
                    "total": len(self.workers),
                }
            )
        if method == "POST" and path == "workers":
            if body["url"] in self.workers:
                return 409, '{"code": "WORKER_ALREADY_EXISTS"}'
            self.keys[body["url"]] = body.get("api_key")

            def listed(u=body["url"]):
                self.workers[u] = "pending"
                self.pending_jobs.append([self.pending, lambda: self.workers.__setitem__(u, "ready")])

            self.pending_jobs.append([self.lag, listed])
            return 202, json.dumps({"status": "accepted", "worker_id": "id-" + body["url"].split("//")[1]})
        if method == "DELETE" and path.startswith("workers/id-"):
            url_ = "http://" + path[len("workers/id-") :]
            if self.settle is not None and self.workers.get(url_) == "ready":

                def drain(u=url_):
                    self.workers[u] = "draining"
                    self.pending_jobs.append([self.settle, lambda: self.workers.pop(u, None)])

                self.pending_jobs.append([self.lag, drain])
            else:
                self.pending_jobs.append([self.lag, lambda: self.workers.pop(url_, None)])
            return 202, "{}"
        if method == "GET" and path.startswith("workers/id-"):
            return 200, json.dumps({"status": "pending", "job_status": {"status": "processing", "message": None}})
        return 404, ""


FakeRouter = FakeGateway


def client(fake, **kw):
    return RouterClient("http://r:30000", request=fake, sleep=lambda s: None, **kw)


@pytest.mark.parametrize(
    "body, urls",
    [
        ('{"workers": [{"url": "http://a:1/"}, {"url": "http://b:1"}]}', ["http://a:1", "http://b:1"]),
        ('["http://a:1"]', ["http://a:1"]),
        ('{"urls": ["http://a:1"]}', ["http://a:1"]),
        ('{"total": 0}', []),
    ],
)
def test_parse_workers(body, urls):
    assert parse_workers(body) == urls


@pytest.mark.parametrize(
    "worker, ready",
    [
        ({"url": "http://a:1", "id": "u", "status": "ready", "is_healthy": True}, True),
        ({"url": "http://a:1", "id": "u", "status": "pending", "is_healthy": False}, False),
        ({"url": "http://a:1", "id": "u", "status": "draining", "is_healthy": False}, False),
        ({"url": "http://a:1", "is_healthy": False}, False),
        ({"url": "http://a:1"}, True),
    ],
)
def test_parse_worker_states(worker, ready):
    assert parse_worker_states(json.dumps({"workers": [worker]}))[0][2] is ready


def test_add_is_confirmed_before_returning():
    fake = FakeGateway(["http://a:1"], lag=2)
    added, removed, workers = sync_workers(client(fake), ["http://a:1", "http://b:1"])
    assert added == ["http://b:1"] and removed == [] and "http://b:1" in workers


def test_an_added_worker_counts_only_once_ready():
    # smg lists a worker whose registration job still runs as "pending": not serving yet.
    fake = FakeGateway([], lag=0, pending=3)
    sync_workers(client(fake), ["http://a:1"])
    assert fake.workers == {"http://a:1": "ready"}
    assert [m for m, p in fake.log if p == "workers"].count("GET") >= 4


def test_a_worker_that_never_gets_ready_is_reported():
    fake = FakeGateway([], lag=0, pending=10**6)
    c = RouterClient("http://r:30000", request=fake, sleep=lambda s: None, clock=iter(range(0, 1000, 30)).__next__)
    with pytest.raises(RouterError) as err:
        sync_workers(c, ["http://a:1"], confirm_timeout=60)
    assert "still not serving" in str(err.value) and "listed but not ready" in str(err.value)
    assert "job processing" in str(err.value) and "sglang_api_key" in str(err.value)


def test_already_registered_answers_409_and_is_confirmed():
    fake = FakeGateway(["http://a:1"])
    c = client(fake)
    c.add("http://a:1")
    c.wait_for("http://a:1", True, 5)


def test_each_worker_is_registered_with_its_own_key():
    fake = FakeGateway([], lag=0)
    sync_workers(
        client(fake, worker_api_keys={"http://a:1/": "key-a", "http://b:1": "key-b"}),
        ["http://a:1", "http://b:1", "http://c:1"],
    )
    assert fake.keys == {"http://a:1": "key-a", "http://b:1": "key-b", "http://c:1": None}


def test_the_admin_key_opens_the_worker_api():
    fake = FakeGateway(["http://a:1"], admin_key="adm")
    assert client(fake, api_key="adm").workers() == ["http://a:1"]
    with pytest.raises(RouterError) as err:
        client(fake, api_key="data-plane").workers()
    assert "sglang_router_admin_api_key" in str(err.value)


def test_remove_by_the_listed_id_and_confirm():
    fake = FakeGateway(["http://a:1", "http://b:1"])
    _added, removed, workers = sync_workers(client(fake), ["http://a:1"], state="absent", min_remaining=1)
    assert removed == ["http://a:1"] and workers == ["http://b:1"]
    assert ("DELETE", "workers/id-a:1") in fake.log


def test_a_removal_is_confirmed_once_the_gateway_drains_the_worker_not_after_its_settle_time():
    # smg keeps a removed worker listed as "draining" (not routable) for drain_settle_secs; the
    # rollout's drain wait covers what is still in flight, so the window does not wait it out.
    fake = FakeGateway(["http://a:1", "http://b:1"], lag=0, settle=50)
    _added, removed, workers = sync_workers(client(fake), ["http://a:1"], state="absent", min_remaining=1)
    assert removed == ["http://a:1"] and workers == ["http://b:1"]
    assert fake.workers["http://a:1"] == "draining"
    assert [m for m, p in fake.log if p == "workers"].count("GET") < 10


def test_a_worker_still_draining_is_added_back_once_gone():
    # POST while it is listed would answer 409 and the entry then vanish: wait, then register.
    fake = FakeGateway(["http://b:1"], lag=0, settle=5, draining=["http://a:1"])
    fake.pending_jobs.append([5, lambda: fake.workers.pop("http://a:1", None)])
    added, _removed, workers = sync_workers(client(fake), ["http://a:1"])
    assert added == ["http://a:1"] and fake.workers["http://a:1"] == "ready"
    assert sorted(workers) == ["http://a:1", "http://b:1"]
    assert ("POST", "workers") in fake.log


def test_a_draining_worker_does_not_count_as_serving():
    fake = FakeGateway(["http://a:1"], draining=["http://b:1"])
    with pytest.raises(RouterError) as err:
        sync_workers(client(fake), ["http://a:1"], state="absent", min_remaining=1)
    assert "would leave 0 worker(s)" in str(err.value)


def test_never_below_the_minimum():
    fake = FakeGateway(["http://a:1"])
    with pytest.raises(RouterError) as err:
        sync_workers(client(fake), ["http://a:1"], state="absent", min_remaining=1)
    assert "would leave 0 worker(s), fewer than the 1" in str(err.value)
    assert list(fake.workers) == ["http://a:1"]


def test_exclusive_adds_before_it_removes():
    fake = FakeGateway(["http://old:1"])
    sync_workers(client(fake), ["http://new:1"], exclusive=True, min_remaining=1)
    writes = [m for m, _p in fake.log if m not in ("GET",)]
    assert writes == ["POST", "DELETE"] and list(fake.workers) == ["http://new:1"]


def test_confirm_timeout():
    fake = FakeGateway([], lag=10**6)
    c = RouterClient("http://r:30000", request=fake, sleep=lambda s: None, clock=iter(range(0, 1000, 30)).__next__)
    with pytest.raises(RouterError) as err:
        sync_workers(c, ["http://a:1"], confirm_timeout=60)
    assert "still not serving" in str(err.value) and "not listed" in str(err.value)


GATEWAY_METRICS = """# TYPE smg_worker_requests_active gauge
smg_worker_requests_active{worker="http://a:1"} 3
smg_worker_requests_active{worker="http://b:1"} 0
smg_worker_health{worker="http://a:1"} 1
"""


def test_gateway_active_requests():
    assert gateway_active_requests(GATEWAY_METRICS, "http://a:1/") == 3
    assert gateway_active_requests(GATEWAY_METRICS, "http://b:1") == 0
    assert gateway_active_requests(GATEWAY_METRICS, "http://gone:1") == 0


def test_gateway_drain_waits_for_zero():
    bodies = [GATEWAY_METRICS, GATEWAY_METRICS.replace("} 3", "} 1"), GATEWAY_METRICS.replace("} 3", "} 0")]
    now = [0.0]

    def sleep(s):
        now[0] += s

    res = wait_gateway_drained(
        "http://r:29000/metrics",
        ["http://a:1"],
        timeout_s=10,
        request=lambda m, u, t, k=None, b=None: (200, bodies.pop(0)),
        clock=lambda: now[0],
        sleep=sleep,
    )
    assert res["drained"] and res["waited_s"] == 2 and not bodies


def test_gateway_drain_times_out_naming_the_worker():
    res = wait_gateway_drained(
        "http://r:29000/metrics",
        ["http://a:1", "http://b:1"],
        timeout_s=3,
        request=lambda m, u, t, k=None, b=None: (200, GATEWAY_METRICS),
        clock=iter(range(100)).__next__,
        sleep=lambda s: None,
    )
    assert not res["drained"] and "http://a:1: 3 active" in res["detail"] and "b:1" not in res["detail"]


def problems_of(router_vars, group_keys=None):
    return router_problems({"router-1": router_vars}, group_keys or {"g1": [""], "g2": [""]}, SMG_FLAGS)


def test_an_sglang_router_inventory_without_keys_keeps_working():
    assert problems_of({"sglang_router_extra_args": ["--policy", "round_robin"]}) == []


@pytest.mark.parametrize(
    "router_vars, expected",
    [
        ({"sglang_router_version": "0.3.2"}, "sglang_router_version 0.3.2 is an sglang-router release"),
        ({"sglang_router_extra_args": ["--mini-lb"]}, "--mini-lb: the Python mini load balancer is gone"),
        (
            {"sglang_router_extra_args": ["--api-key", "x"]},
            "carries --api-key, a credential on the command line; set sglang_router_api_key",
        ),
        (
            {"sglang_router_extra_args": ["--policy=cache_aware", "--health-check-int", "5"]},
            "--health-check-int is not an smg option (full names only, abbreviations are refused) "
            "(did you mean --health-check-interval-secs?)",
        ),
        ({"sglang_router_api_key": "d"}, "sglang_router_api_key is set but sglang_router_admin_api_key is not"),
        (
            {"sglang_router_api_key": "d", "sglang_router_admin_api_key": "d"},
            "sglang_router_admin_api_key equals sglang_router_api_key",
        ),
    ],
)
def test_sglang_router_variables_fail_naming_the_variable(router_vars, expected):
    found = problems_of(router_vars)
    assert len(found) == 1 and found[0].startswith("router router-1: ") and expected in found[0], found
    assert "x" not in found[0].split("--api-key")[-1].split(";")[0].strip() if "--api-key" in found[0] else True


def test_data_plane_key_next_to_other_worker_keys_is_refused():
    keys = {"sglang_router_api_key": "dp", "sglang_router_admin_api_key": "adm"}
    assert problems_of(keys, {"g1": ["dp", "dp"], "g2": ["", ""]}) == []
    found = problems_of(keys, {"g1": ["dp", "dp"], "g2": ["k2", "k2"]})
    assert len(found) == 1 and "group g2 has an sglang_api_key different from sglang_router_api_key" in found[0]
    assert "dp" not in found[0].replace("sglang_", "") and "k2" not in found[0]


def test_per_group_worker_keys_without_a_data_plane_key():
    assert problems_of({"sglang_router_admin_api_key": "adm"}, {"g1": ["k1", "k1"], "g2": ["k2", "k2"]}) == []


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

    res = wait_drained(
        "http://h:1", timeout_s=10, get=lambda u, t, k=None: (200, bodies.pop(0)), clock=lambda: now[0], sleep=sleep
    )
    assert res["drained"] and res["waited_s"] == 1


def test_wait_drained_needs_metrics():
    res = wait_drained("http://h:1", get=lambda u, t, k=None: (200, "# nothing\n"), sleep=lambda s: None)
    assert not res["drained"] and "--enable-metrics" in res["detail"]


def test_wait_drained_without_metrics_route_fails_at_once():
    # SGLang mounts /metrics only with --enable-metrics (srt/entrypoints/http_server.py:
    # `if get_observability().enable_metrics: add_prometheus_middleware(app)`); without it
    # /metrics is a 404, which must not be waited on until the drain timeout.
    calls = []

    def get(u, t, k=None):
        calls.append(u)
        return (404, '{"detail":"Not Found"}')

    now = [0.0]

    def sleep(s):
        now[0] += s

    res = wait_drained("http://h:1", timeout_s=5, get=get, sleep=sleep, clock=lambda: now[0])
    assert not res["drained"] and "--enable-metrics" in res["detail"] and "404" in res["detail"]
    assert len(calls) == 1


def test_a_server_that_is_gone_is_drained():
    assert wait_drained("http://h:1", get=lambda u, t, k=None: (0, "refused"), sleep=lambda s: None)["drained"]
