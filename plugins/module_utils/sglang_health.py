# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness of an SGLang node, as SGLang defines it.

Rank 0: ``GET /health_generate`` returns 200 (a real one-token generation) and
``GET /v1/models`` lists the served model name. Ranks >= 1 serve only a dummy
``/health`` (200 once their schedulers run): liveness, nothing more.

SGLang 0.5.23 does not listen on its HTTP port at all until every rank of the
group joined and loaded its weights (entrypoints/http_server.py ``launch_server``
starts uvicorn after ``Engine._launch_subprocesses`` waited for the schedulers;
followers start their dummy health server at the same point): "connection
refused" means "still loading", not "dead". Rank 0 then answers 503 until its
warm-up request finished. Whether the process still runs is the service
manager's to say (``alive``).
"""

from __future__ import annotations

import json
import time
from http.client import HTTPException
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.error import HTTPError, URLError

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url


def http_request(
    method: str, url: str, timeout: float, api_key: Optional[str] = None, body: Any = None
) -> Tuple[int, str]:
    """(status, body text) of one HTTP request; status 0 when nothing answered."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body)
        headers["Content-Type"] = "application/json"
    if api_key:
        headers["Authorization"] = "Bearer %s" % api_key
    try:
        with open_url(url, method=method, data=data, headers=headers, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace") if exc.fp else ""
    except (URLError, OSError, ValueError, HTTPException, UrlsConnectionError) as exc:
        # HTTPException: a server that died mid-response (IncompleteRead, BadStatusLine)
        return 0, str(getattr(exc, "reason", exc)) or type(exc).__name__


def _nothing_answered(what, body):
    if "refused" in body.lower():
        return "%s -> connection refused (still loading: SGLang listens only after every rank joined and loaded)" % what
    return "%s -> no answer (%s)" % (what, body)


def http_get(url: str, timeout: float, api_key: Optional[str] = None) -> Tuple[int, str]:
    return http_request("GET", url, timeout, api_key)


def served_names(body: str) -> List[str]:
    try:
        data = json.loads(body)
    except ValueError:
        return []
    return [str(m.get("id")) for m in data.get("data", []) if isinstance(m, dict)]


def probe(
    base_url: str,
    is_head: bool,
    served_model_name: Optional[str] = None,
    timeout: float = 30,
    api_key: Optional[str] = None,
    get: Callable[..., Tuple[int, str]] = http_get,
) -> Tuple[bool, str]:
    """One readiness check. Returns (ready, detail)."""
    base_url = base_url.rstrip("/")
    if not is_head:
        status, body = get(base_url + "/health", timeout, api_key)
        if not status:
            return False, _nothing_answered("follower /health", body)
        return status == 200, "follower /health -> %s" % status
    status, body = get(base_url + "/health_generate", timeout, api_key)
    if not status:
        return False, _nothing_answered("rank 0 /health_generate", body)
    if status != 200:
        return False, "rank 0 /health_generate -> %s%s" % (status, " (warming up or draining)" if status == 503 else "")
    if served_model_name:
        status, body = get(base_url + "/v1/models", timeout, api_key)
        names = served_names(body) if status == 200 else []
        if served_model_name not in names:
            return False, "rank 0 /v1/models -> %s, lists %s, not %s" % (status, names, served_model_name)
    return True, "ready"


def wait_ready(
    base_url: str,
    is_head: bool,
    served_model_name: Optional[str] = None,
    timeout_s: float = 600,
    delay_s: float = 5,
    request_timeout: float = 30,
    api_key: Optional[str] = None,
    alive: Optional[Callable[[], Tuple[bool, str]]] = None,
    get: Callable[..., Tuple[int, str]] = http_get,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Dict[str, Any]:
    """Poll until ready, the deadline passes, or ``alive()`` says the service died.

    Returns ``{"ready", "detail", "waited_s", "attempts"}``.
    """
    start = clock()
    attempts = 0
    detail = "not probed"
    while True:
        attempts += 1
        if alive is not None:
            ok, why = alive()
            if not ok:
                return {
                    "ready": False,
                    "detail": "service is not running: %s" % why,
                    "waited_s": round(clock() - start, 1),
                    "attempts": attempts,
                }
        ready, detail = probe(base_url, is_head, served_model_name, request_timeout, api_key, get)
        if ready:
            return {"ready": True, "detail": detail, "waited_s": round(clock() - start, 1), "attempts": attempts}
        if clock() - start + delay_s > timeout_s:
            return {
                "ready": False,
                "detail": "not ready after %ss: %s" % (timeout_s, detail),
                "waited_s": round(clock() - start, 1),
                "attempts": attempts,
            }
        sleep(delay_s)


def start_unit(
    run: Callable[[List[str]], Tuple[int, str, str]], systemctl: str, unit: str, reset_failed: bool = False
) -> Dict[str, Any]:
    """Enable and start ``unit`` (what ansible.builtin.systemd_service ``state=started enabled=true`` does).

    With ``reset_failed`` (an intended restart), ``systemctl reset-failed`` first: it clears the unit's
    failed state, its start rate limit counter and its restart counter (systemctl(1), reset-failed), so
    the start is not refused for a crash loop's start limit (``StartLimitBurst=`` starts within
    ``StartLimitIntervalSec=``, systemd.unit(5)) and systemd's own restarts after a later crash get
    the whole burst again. ``run(argv)`` returns ``(rc, stdout, stderr)``. Returns
    ``{"started", "changed", "detail"}``.
    """
    if reset_failed:
        run([systemctl, "reset-failed", unit])
    rc, out, err = run([systemctl, "is-active", unit])
    was_active = out.strip() == "active"
    # is-enabled exits 0 for enabled, enabled-runtime, static, alias, indirect and generated (systemctl(1)),
    # which is what ansible.builtin.systemd_service takes for enabled.
    rc, out, err = run([systemctl, "is-enabled", unit])
    enabled = rc == 0
    if not enabled:
        rc, out, err = run([systemctl, "enable", unit])
        if rc != 0:
            return {
                "started": False,
                "changed": False,
                "detail": "systemctl enable %s: %s" % (unit, (err or out).strip()),
            }
    rc, out, err = run([systemctl, "start", unit])
    if rc != 0:
        return {
            "started": False,
            "changed": not enabled,
            "detail": "systemctl start %s: %s" % (unit, (err or out).strip() or "rc %d" % rc),
        }
    return {"started": True, "changed": not (was_active and enabled), "detail": "started"}


# The request gpufleet.sglang.sglang_rollout sends through rank 0 before a group goes back into
# the routers (sglang_rollout_smoke_test): one short generation of the served model.
SMOKE_PROMPT = "rollout smoke test"
SMOKE_MAX_TOKENS = 4


def smoke_generate(
    base_url: str,
    served_model_name: str,
    timeout: float = 120,
    api_key: Optional[str] = None,
    request: Callable[..., Tuple[int, str]] = http_request,
) -> Dict[str, Any]:
    """One short chat completion through rank 0. Returns ``{"ok", "status", "detail"}``: ok on HTTP 200."""
    url = base_url.rstrip("/") + "/v1/chat/completions"
    body = {
        "model": served_model_name,
        "messages": [{"role": "user", "content": SMOKE_PROMPT}],
        "max_tokens": SMOKE_MAX_TOKENS,
    }
    status, text = request("POST", url, timeout, api_key, body)
    if status == 200:
        return {"ok": True, "status": status, "detail": "rank 0 /v1/chat/completions -> 200"}
    if not status:
        return {"ok": False, "status": 0, "detail": _nothing_answered("rank 0 /v1/chat/completions", text)}
    return {
        "ok": False,
        "status": status,
        "detail": "rank 0 /v1/chat/completions -> %s: %s" % (status, " ".join(text.split())[:300]),
    }


def metric_sum(text: str, name: str) -> Optional[float]:
    """Sum of every sample of one Prometheus metric (all label sets); None when absent."""
    total = None
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        metric = line.split("{", 1)[0].split(" ", 1)[0]
        if metric != name:
            continue
        try:
            value = float(line.rsplit(" ", 1)[1])
        except (IndexError, ValueError):
            continue
        total = value if total is None else total + value
    return total


def wait_drained(
    base_url: str,
    timeout_s: float = 300,
    delay_s: float = 1,
    request_timeout: float = 10,
    api_key: Optional[str] = None,
    get: Callable[..., Tuple[int, str]] = http_get,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Dict[str, Any]:
    """Wait until rank 0 runs and queues no request (``sglang:num_running_reqs`` and
    ``sglang:num_queue_reqs`` at 0). Needs ``--enable-metrics``.

    Returns ``{"drained", "detail", "waited_s", "running", "queued"}``.
    """
    start = clock()
    url = base_url.rstrip("/") + "/metrics"
    while True:
        status, body = get(url, request_timeout, api_key)
        running = queued = None
        if status == 200:
            running = metric_sum(body, "sglang:num_running_reqs")
            queued = metric_sum(body, "sglang:num_queue_reqs")
            if running is None:
                return {
                    "drained": False,
                    "waited_s": round(clock() - start, 1),
                    "running": None,
                    "queued": None,
                    "detail": "%s has no sglang:num_running_reqs; start SGLang with --enable-metrics "
                    "(sglang_enable_metrics: true) so drains can be observed" % url,
                }
            if running == 0 and not queued:
                return {
                    "drained": True,
                    "detail": "drained",
                    "waited_s": round(clock() - start, 1),
                    "running": running,
                    "queued": queued or 0,
                }
            detail = "%d running, %d queued" % (running, queued or 0)
        elif status == 404:
            # SGLang mounts /metrics only with --enable-metrics (srt/entrypoints/http_server.py:
            # `if get_observability().enable_metrics: add_prometheus_middleware(app)`, 0.5.23):
            # a 404 never turns into figures, so waiting for the drain timeout would only stall.
            return {
                "drained": False,
                "waited_s": round(clock() - start, 1),
                "running": None,
                "queued": None,
                "detail": "%s -> 404: start SGLang with --enable-metrics (sglang_enable_metrics: true) "
                "so drains can be observed" % url,
            }
        elif status == 0:
            # Nothing answers: nothing can be in flight.
            return {
                "drained": True,
                "detail": "not running (%s)" % body,
                "waited_s": round(clock() - start, 1),
                "running": 0,
                "queued": 0,
            }
        else:
            detail = "%s -> %s" % (url, status)
        if clock() - start + delay_s > timeout_s:
            return {
                "drained": False,
                "detail": "not drained after %ss: %s" % (timeout_s, detail),
                "waited_s": round(clock() - start, 1),
                "running": running,
                "queued": queued,
            }
        sleep(delay_s)
