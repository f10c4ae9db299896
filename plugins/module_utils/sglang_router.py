# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Workers of a running sglang-router, changed through its HTTP API.

The router queues worker changes: a change is only believed once ``GET /workers``
shows it. Removing a worker and adding another back to back can leave zero
workers (SGLang #38524), so every change here is confirmed before the next, and
the last ready worker is never removed unless the caller allows it.
"""

from __future__ import annotations

import json
import time

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    from urllib import quote

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_health import http_request


class RouterError(Exception):
    pass


def normalize_url(url):
    return str(url).strip().rstrip("/")


def parse_worker_entries(body):
    """``[(url, id or None)]`` from a ``GET /workers`` body (several shapes across router versions)."""
    try:
        data = json.loads(body)
    except ValueError:
        raise RouterError("GET /workers did not return JSON: %r" % body[:200])
    items = data
    if isinstance(data, dict):
        for key in ("workers", "urls", "worker_urls"):
            if key in data:
                items = data[key]
                break
        else:
            items = []
    entries = []
    for item in items or []:
        if isinstance(item, dict):
            url, worker_id = item.get("url") or item.get("worker_url"), item.get("id") or item.get("worker_id")
        else:
            url, worker_id = item, None
        if url:
            entries.append((normalize_url(url), worker_id))
    return entries


def parse_workers(body):
    """Worker URLs from a ``GET /workers`` body."""
    return [url for url, _id in parse_worker_entries(body)]


class RouterClient(object):
    def __init__(self, base_url, timeout=10, api_key=None, request=http_request,
                 clock=time.monotonic, sleep=time.sleep, worker_api_key=None):
        self.base = normalize_url(base_url)
        self.timeout = timeout
        self.api_key = api_key
        # Key of the SGLang workers: the router needs it to call them (health, model info).
        self.worker_api_key = worker_api_key
        self.request = request
        self.clock = clock
        self.sleep = sleep

    def _call(self, method, path, body=None):
        return self.request(method, self.base + path, self.timeout, self.api_key, body)

    def entries(self):
        status, body = self._call("GET", "/workers")
        if status != 200:
            raise RouterError("GET %s/workers -> %s %s" % (self.base, status, body[:200]))
        return parse_worker_entries(body)

    def workers(self):
        return [url for url, _id in self.entries()]

    def add(self, url):
        payload = {"url": url}
        if self.worker_api_key:
            payload["api_key"] = self.worker_api_key
        status, body = self._call("POST", "/workers", payload)
        if status in (404, 405):
            status, body = self._call("POST", "/add_worker?url=" + quote(url, safe=""))
        if status not in (200, 201, 202):
            raise RouterError("adding worker %s to %s -> %s %s" % (url, self.base, status, body[:200]))

    def remove(self, url):
        """DELETE /workers/{id} (sglang-router >= 0.3 addresses workers by UUID); routers that
        list no ids take the URL-escaped URL; the oldest only the legacy /remove_worker."""
        ids = [worker_id for listed, worker_id in self.entries() if listed == url]
        if not ids:
            return
        key = ids[0] if ids[0] else quote(url, safe="")
        status, body = self._call("DELETE", "/workers/" + key)
        if status in (404, 405) and url in self.workers():
            status, body = self._call("POST", "/remove_worker?url=" + quote(url, safe=""))
        if status not in (200, 202, 204, 404):
            raise RouterError("removing worker %s from %s -> %s %s" % (url, self.base, status, body[:200]))

    def wait_for(self, url, present, timeout_s):
        deadline = self.clock() + timeout_s
        while True:
            listed = url in self.workers()
            if listed == present:
                return
            if self.clock() >= deadline:
                raise RouterError("worker %s still %s %s after %ss" % (
                    url, "absent from" if present else "listed by", self.base, timeout_s))
            self.sleep(0.5)


def sync_workers(client, wanted, state="present", exclusive=False, min_remaining=0, confirm_timeout=60):
    """Make the router's worker list match.

    state=present: add ``wanted``; with ``exclusive`` also remove every other worker.
    state=absent: remove ``wanted``. Removal is refused when fewer than
    ``min_remaining`` workers would be left. Returns ``(added, removed, workers)``.
    """
    wanted = [normalize_url(u) for u in wanted]
    current = client.workers()
    if state == "present":
        to_add = [u for u in wanted if u not in current]
        to_remove = [u for u in current if u not in wanted] if exclusive else []
    else:
        to_add = []
        to_remove = [u for u in wanted if u in current]
    remaining = len(current) + len(to_add) - len(to_remove)
    if to_remove and remaining < min_remaining:
        raise RouterError("removing %s from %s would leave %d worker(s), fewer than the %d that must keep "
                          "serving; add capacity or lower the minimum"
                          % (", ".join(to_remove), client.base, remaining, min_remaining))
    # Add first (and confirm), then remove: never a moment with fewer workers than needed.
    for url in to_add:
        client.add(url)
        client.wait_for(url, True, confirm_timeout)
    for url in to_remove:
        client.remove(url)
        client.wait_for(url, False, confirm_timeout)
    return to_add, to_remove, client.workers()
