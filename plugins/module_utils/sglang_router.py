# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Workers of a running Shepherd Model Gateway (smg 1.13.0), changed through its admin API.

The admin API as read in smg (lightseekorg/smg ``model_gateway/src/server.rs`` ``build_app``,
``model_gateway/src/worker/service.rs``) and checked against the 1.13.0 wheel:

* ``POST /workers {"url", "api_key", ...}`` answers 202 ``{"status": "accepted", "worker_id",
  "url", "location"}``: registration is a queued job (backend detection, model discovery); the
  worker shows in ``GET /workers`` only when the job succeeded. A URL that is already registered
  answers 409 ``WORKER_ALREADY_EXISTS``.
* ``GET /workers`` answers ``{"workers": [{"id", "url", "status", "is_healthy", "load", ...}],
  "total", "stats"}``; a worker's ``api_key`` is accepted on input and never listed
  (``WorkerSpec.api_key`` is ``skip_serializing``). ``GET /workers/{id}`` adds ``job_status``.
* ``DELETE /workers/{id}`` (a UUID) answers 202: a queued job that marks the worker ``draining``
  (no new requests), waits its drain settle time, then removes it.
* These routes answer only to the control-plane (admin) key when one is configured
  (``--control-plane-api-keys``); the data-plane key (``--api-key``) does not open them.

A change is only believed once ``GET /workers`` shows it: an add counts when the worker is
listed *and* ready, a removal when it is gone. Removing a worker and adding another back to back
can leave zero workers (SGLang #38524), so every change is confirmed before the next, adds go
before removals, and the last ready worker is never removed unless the caller allows it.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Callable, Collection, Dict, Iterable, List, Mapping, Tuple

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_health import http_request


class RouterError(Exception):
    pass


# smg's status of a worker its removal job drains: listed, takes no new request, then removed.
DRAINING = "draining"
# Seconds between two GET /workers while a change is confirmed (a cheap call on the router host).
CONFIRM_POLL_S = 0.25


def normalize_url(url: Any) -> str:
    return str(url).strip().rstrip("/")


def parse_worker_states(body: str) -> List[Tuple[str, Any, bool]]:
    """``[(url, id or None, ready)]`` from a ``GET /workers`` body.

    smg lists ``{"workers": [{"url", "id", "status", "is_healthy"}]}``; a worker counts as ready
    when its status is ``ready`` (or, without a status, when ``is_healthy`` is not false).
    """
    try:
        data = json.loads(body)
    except ValueError:
        raise RouterError("GET /workers did not return JSON: %r" % body[:200])
    items = _listed(data)
    return [(url, worker_id, status == "ready") for url, worker_id, status in _worker_items(items)]


def _worker_items(items: Any) -> List[Tuple[str, Any, str]]:
    """``[(url, id or None, status)]``; without a listed status, ``ready`` or ``not_ready`` from ``is_healthy``."""
    entries = []
    for item in items or []:
        if isinstance(item, dict):
            url, worker_id = item.get("url") or item.get("worker_url"), item.get("id") or item.get("worker_id")
            status = item.get("status")
            if status is None:
                status = "ready" if item.get("is_healthy") is not False else "not_ready"
        else:
            url, worker_id, status = item, None, "ready"
        if url:
            entries.append((normalize_url(url), worker_id, str(status).lower()))
    return entries


def parse_worker_statuses(body: str) -> Dict[str, str]:
    """``{url: status}`` from a ``GET /workers`` body (smg: pending, ready, not_ready, failed, draining)."""
    try:
        data = json.loads(body)
    except ValueError:
        raise RouterError("GET /workers did not return JSON: %r" % body[:200])
    return dict((url, status) for url, _id, status in _worker_items(_listed(data)))


def _listed(data: Any) -> Any:
    if isinstance(data, dict):
        for key in ("workers", "urls", "worker_urls"):
            if key in data:
                return data[key]
        return []
    return data


def parse_workers(body: str) -> List[str]:
    """Worker URLs from a ``GET /workers`` body."""
    return [url for url, _id, _ready in parse_worker_states(body)]


_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def gateway_active_requests(text: str, worker_url: str) -> float:
    """smg's ``smg_worker_requests_active{worker="URL"}`` for one worker (0 when not listed).

    smg sets the gauge from the worker's load counter on every request start and end
    (``BasicWorker::update_running_requests_metrics``) and zeroes it when the worker is removed
    (``Metrics::remove_worker_metrics``); a request still in flight on a removed worker sets it
    again when it ends. Hence the figure is read together with rank 0's own counters.
    """
    wanted = normalize_url(worker_url)
    total = 0.0
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or match.group(1) != "smg_worker_requests_active":
            continue
        labels = dict(_LABEL.findall(match.group(3) or ""))
        if normalize_url(labels.get("worker", "")) != wanted:
            continue
        try:
            total += float(match.group(4))
        except ValueError:
            continue
    return total


class RouterClient(object):
    def __init__(
        self,
        base_url,
        timeout=10,
        api_key=None,
        request=http_request,
        clock=time.monotonic,
        sleep=time.sleep,
        worker_api_key=None,
        worker_api_keys=None,
    ):
        self.base = normalize_url(base_url)
        self.timeout = timeout
        # The gateway's control-plane (admin) key: /workers answers only to it.
        self.api_key = api_key
        # Key of the SGLang workers, per worker URL (each model group has its own), else one for all.
        # smg calls each worker with the key it was registered with (health, discovery, requests
        # that carry no Authorization header of their own).
        self.worker_api_key = worker_api_key
        self.worker_api_keys = dict((normalize_url(u), k) for u, k in (worker_api_keys or {}).items())
        self.request = request
        self.clock = clock
        self.sleep = sleep
        self.last_ids = {}

    def _call(self, method, path, body=None):
        return self.request(method, self.base + path, self.timeout, self.api_key, body)

    def states(self):
        return parse_worker_states(self._workers_body())

    def _workers_body(self):
        status, body = self._call("GET", "/workers")
        if status in (401, 403):
            raise RouterError(
                "GET %s/workers -> %s: the gateway refused the admin key; set "
                "sglang_router_admin_api_key to the key the router was started with" % (self.base, status)
            )
        if status != 200:
            raise RouterError("GET %s/workers -> %s %s" % (self.base, status, body[:200]))
        return body

    def statuses(self):
        """``{url: status}`` as ``GET /workers`` lists them (smg: pending, ready, not_ready, failed, draining)."""
        return parse_worker_statuses(self._workers_body())

    def entries(self):
        return [(url, worker_id) for url, worker_id, _ready in self.states()]

    def workers(self):
        """Listed workers, less those draining: a removal is under way and they take no new request."""
        return [url for url, status in self.statuses().items() if status != DRAINING]

    def key_for(self, url):
        return self.worker_api_keys.get(normalize_url(url), self.worker_api_key)

    def add(self, url):
        payload = {"url": url}
        key = self.key_for(url)
        if key:
            payload["api_key"] = key
        status, body = self._call("POST", "/workers", payload)
        if status == 409:
            # Already registered (WORKER_ALREADY_EXISTS): the confirmation decides.
            return
        if status not in (200, 201, 202):
            raise RouterError("adding worker %s to %s -> %s %s" % (url, self.base, status, body[:200]))
        try:
            worker_id = json.loads(body).get("worker_id")
        except (ValueError, AttributeError):
            worker_id = None
        if worker_id:
            self.last_ids[url] = worker_id

    def remove(self, url):
        """DELETE /workers/{id}: smg addresses workers by the UUID it lists."""
        ids = [worker_id for listed, worker_id in self.entries() if listed == url]
        if not ids:
            return
        if not ids[0]:
            raise RouterError(
                "%s lists worker %s without an id; is this the Shepherd Model Gateway (smg)?" % (self.base, url)
            )
        status, body = self._call("DELETE", "/workers/" + ids[0])
        if status not in (200, 202, 204, 404):
            raise RouterError("removing worker %s from %s -> %s %s" % (url, self.base, status, body[:200]))

    def job_status(self, url):
        """The registration job's state for ``url`` (``GET /workers/{id}``), for error reports."""
        worker_id = self.last_ids.get(url)
        if not worker_id:
            return ""
        status, body = self._call("GET", "/workers/" + worker_id)
        if status != 200:
            return ""
        try:
            data = json.loads(body)
        except ValueError:
            return ""
        job = data.get("job_status") or {}
        return "; gateway status %s, job %s %s" % (data.get("status"), job.get("status"), job.get("message") or "")

    def wait_for(self, url, present, timeout_s, gone=False):
        """Until ``url`` is listed and ready (present), or out of service (absent): draining or no longer
        listed; with ``gone``, no longer listed.

        smg's removal job marks a Ready worker ``draining`` at once, keeps it listed for its
        ``drain_settle_secs`` (5 s by default) while requests in flight end, then removes it (smg
        ``model_gateway/src/workflow/steps/local/drain_workers.rs``; ``draining`` is in the 1.13.0 wheel).
        A draining worker is not routable (``WorkerStatus::is_routable`` is Ready only, in
        ``crates/protocols/src/worker.rs``): out of service already. Waiting out the settle time too
        would only lengthen a rollout's window; its drain wait counts what is still in flight.
        """
        deadline = self.clock() + timeout_s
        while True:
            states = self.statuses()
            if present and states.get(url) == "ready":
                return
            if not present and (url not in states or (states[url] == DRAINING and not gone)):
                return
            if self.clock() >= deadline:
                if present:
                    why = "listed but not ready" if url in states else "not listed"
                    raise RouterError(
                        "worker %s still not serving in %s after %ss (%s%s); check the group's "
                        "sglang_api_key (registered as the worker's key) and the worker's health"
                        % (url, self.base, timeout_s, why, self.job_status(url))
                    )
                raise RouterError("worker %s still listed by %s after %ss" % (url, self.base, timeout_s))
            self.sleep(CONFIRM_POLL_S)


def sync_workers(
    client: RouterClient,
    wanted: Iterable[str],
    state: str = "present",
    exclusive: bool = False,
    min_remaining: int = 0,
    confirm_timeout: float = 60,
) -> Tuple[List[str], List[str], List[str]]:
    """Make the router's worker list match.

    state=present: add ``wanted``; with ``exclusive`` also remove every other worker.
    state=absent: remove ``wanted``. Removal is refused when fewer than
    ``min_remaining`` workers would be left. Returns ``(added, removed, workers)``.
    """
    wanted = [normalize_url(u) for u in wanted]
    listed = client.statuses()
    # A draining worker is on its way out (see RouterClient.wait_for): not serving, re-added once gone.
    current = [u for u, status in listed.items() if status != DRAINING]
    if state == "present":
        to_add = [u for u in wanted if u not in current]
        to_remove = [u for u in current if u not in wanted] if exclusive else []
    else:
        to_add = []
        to_remove = [u for u in wanted if u in current]
    remaining = len(current) + len(to_add) - len(to_remove)
    if to_remove and remaining < min_remaining:
        raise RouterError(
            "removing %s from %s would leave %d worker(s), fewer than the %d that must keep "
            "serving; add capacity or lower the minimum" % (", ".join(to_remove), client.base, remaining, min_remaining)
        )
    # Add first (and confirm), then remove: never a moment with fewer workers than needed.
    for url in to_add:
        if listed.get(url) == DRAINING:
            # Still listed from its removal (smg keeps it for drain_settle_secs): a POST now would
            # answer 409 and the entry then vanish. Add it once it is gone.
            client.wait_for(url, False, confirm_timeout, gone=True)
        client.add(url)
        client.wait_for(url, True, confirm_timeout)
    for url in to_remove:
        client.remove(url)
        client.wait_for(url, False, confirm_timeout)
    return to_add, to_remove, client.workers()


def wait_gateway_drained(
    metrics_url: str,
    worker_urls: Iterable[str],
    timeout_s: float = 300,
    delay_s: float = 1,
    request_timeout: float = 10,
    request: Callable[..., Tuple[int, str]] = http_request,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Dict[str, Any]:
    """Wait until the gateway counts no active request on any of ``worker_urls``.

    ``metrics_url`` is the gateway's Prometheus endpoint (``http://host:29000/metrics``).
    Returns ``{"drained", "detail", "waited_s", "active"}``.
    """
    start = clock()
    while True:
        status, body = request("GET", metrics_url, request_timeout, None, None)
        if status == 200:
            active = dict((u, gateway_active_requests(body, u)) for u in worker_urls)
            busy = dict((u, n) for u, n in active.items() if n > 0)
            if not busy:
                return {"drained": True, "detail": "drained", "waited_s": round(clock() - start, 1), "active": active}
            detail = ", ".join("%s: %d active" % (u, n) for u, n in sorted(busy.items()))
        else:
            active = None
            detail = "%s -> %s %s" % (metrics_url, status, body[:200])
        if clock() - start + delay_s > timeout_s:
            return {
                "drained": False,
                "detail": "gateway not drained after %ss: %s" % (timeout_s, detail),
                "waited_s": round(clock() - start, 1),
                "active": active,
            }
        sleep(delay_s)


# --- Inventory checks (run by the planner, before any host changes) --------------------------------

# sglang-router 0.3.2 flags smg 1.13.0 no longer has (the two launchers' parsers compared), and why.
REMOVED_FLAGS = {
    "--mini-lb": "the Python mini load balancer is gone from smg; drop it (smg itself is the load balancer)",
}
# Flags whose value is a credential: the launcher refuses them on argv.
SECRET_FLAGS = {
    "--api-key": "sglang_router_api_key",
    "--control-plane-api-keys": "sglang_router_admin_api_key",
    "--tenant-api-key": "nothing (per-tenant keys are not managed by this role)",
    "--oracle-password": "nothing (history backends are not managed by this role)",
    "--postgres-db-url": "nothing (history backends are not managed by this role)",
    "--redis-url": "nothing (history backends are not managed by this role)",
}


def _closest(flag, known):
    """An abbreviation names the flags it abbreviates; anything else the closest name."""
    import difflib

    prefixed = sorted(k for k in known if k.startswith(flag))
    if prefixed:
        return " (did you mean %s?)" % " or ".join(prefixed[:3])
    match = difflib.get_close_matches(flag, sorted(known), n=1, cutoff=0.6)
    return " (did you mean %s?)" % match[0] if match else ""


def router_problems(
    routers: Mapping[str, Mapping[str, Any]], group_keys: Mapping[str, Iterable[Any]], known_flags: Collection[str]
) -> List[str]:
    """Problems of the router hosts' variables, each naming the host, the variable and the fix.

    ``routers``: ``{host: {var: value}}`` of the router hosts (``sglang_router_*``; the keys as
    given, never echoed). ``group_keys``: ``{group: [sglang_api_key of each host]}``.
    ``known_flags``: smg's option names (``sglang_router_catalog.SMG_FLAGS``).
    """
    problems = []
    worker_keys = dict((g, set(k for k in keys if k)) for g, keys in group_keys.items())
    for host in sorted(routers):
        hv = routers[host]
        version = str(hv.get("sglang_router_version") or "")
        if version and not re.match(r"^[1-9][0-9]*\.", version):
            problems.append(
                "router %s: sglang_router_version %s is an sglang-router release; the router role now installs the "
                "Shepherd Model Gateway (PyPI smg): set sglang_router_version to 1.13.0 (requirements/router.txt) "
                "or remove it, and refresh sglang_router_wheel_dir (make router-wheels)" % (host, version)
            )
        extra = hv.get("sglang_router_extra_args") or []
        if not isinstance(extra, list):
            problems.append("router %s: sglang_router_extra_args must be a list of argv tokens" % host)
            extra = []
        for token in extra:
            token = str(token)
            if not token.startswith("--"):
                continue
            flag = token.split("=", 1)[0]
            if flag in SECRET_FLAGS:
                problems.append(
                    "router %s: sglang_router_extra_args carries %s, a credential on the command line; "
                    "set %s instead" % (host, flag, SECRET_FLAGS[flag])
                )
            elif flag in REMOVED_FLAGS:
                problems.append("router %s: sglang_router_extra_args: %s: %s" % (host, flag, REMOVED_FLAGS[flag]))
            elif flag not in known_flags:
                problems.append(
                    "router %s: sglang_router_extra_args: %s is not an smg option (full names only, "
                    "abbreviations are refused)%s" % (host, flag, _closest(flag, known_flags))
                )
        data_key = hv.get("sglang_router_api_key") or ""
        admin_key = hv.get("sglang_router_admin_api_key") or ""
        if data_key and not admin_key:
            problems.append(
                "router %s: sglang_router_api_key is set but sglang_router_admin_api_key is not: smg guards its admin "
                "API (/workers) with a control-plane key of its own; set sglang_router_admin_api_key (vault), "
                "different from sglang_router_api_key" % host
            )
        if data_key and admin_key and data_key == admin_key:
            problems.append(
                "router %s: sglang_router_admin_api_key equals sglang_router_api_key; give the admin "
                "API a key of its own" % host
            )
        if data_key:
            # smg 1.13.0 forwards the client's Authorization header to the worker, where it wins over
            # the worker's registered key (smg-project/smg#2092: "caller header wins, worker key is
            # the fallback"; seen with the 1.13.0 wheel): a worker whose key differs from the
            # data-plane key would answer every request 401.
            for group in sorted(worker_keys):
                if worker_keys[group] and worker_keys[group] != set([data_key]):
                    problems.append(
                        "router %s: group %s has an sglang_api_key different from sglang_router_api_key: smg forwards "
                        "the client's key to the worker, which would refuse every request; leave "
                        "sglang_router_api_key empty (per-group worker keys, the front door guarded by "
                        "sglang_firewall_router_client_cidrs), or unset sglang_api_key for %s (its ports are "
                        "firewalled to the routers), or make the two equal" % (host, group, group)
                    )
    return problems
