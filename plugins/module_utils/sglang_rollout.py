# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which model groups a rollout restarts, and in which batches.

The unit of rollout is a model group. A group is restarted when one of its
nodes would change (unit, environment, software) or it is not ready. Groups that
serve no traffic (not ready, or out of every router) restart together in a first
batch: nothing is lost by starting them at once. Serving groups follow,
``batch_size`` at a time, and never so many that fewer than ``min_serving``
groups keep serving. Re-running resumes: groups already rolled are unchanged and
ready, so they are skipped.
"""

from __future__ import annotations


class RolloutError(Exception):
    pass


def by_group(plan, hostvars, path, reduce="any", default=None):
    """Per-host facts -> ``{group: value}``.

    ``path``: a fact name, optionally dotted into it (``r_probe.ready``).
    reduce ``any``: whether any node's value is truthy (a node without the fact
    counts as ``default``); ``head``: rank 0's value.
    """
    def get(host):
        value = hostvars.get(host, {}) if hasattr(hostvars, "get") else hostvars[host]
        for part in path.split("."):
            try:
                value = value[part]
            except (KeyError, TypeError):
                return default
        return value

    out = {}
    for group, data in plan["groups"].items():
        if reduce == "head":
            out[group] = get(data["head"])
        else:
            out[group] = any(bool(get(n["host"])) for n in data["nodes"])
    return out


def router_membership(plan, router_workers):
    """``{group: listed by every router}`` from each router's worker URL list; None without routers."""
    if not router_workers:
        return None
    lists = [set(str(u).rstrip("/") for u in workers or []) for workers in router_workers]
    return dict((g, all(d["url"] in listed for listed in lists)) for g, d in plan["groups"].items())


def plan_rollout(plan, changed, ready, in_router=None, batch_size=1, min_serving=1, force=(), only=None):
    """Return ``{"batches": [{"groups", "urls", "serving"}], "skipped", "serving"}``.

    changed / ready / in_router: ``{group: bool}``; in_router is None when there is
    no router (then serving means ready). force: groups to restart even if
    unchanged. only: restrict the rollout to these groups (None: all).
    """
    if int(batch_size) < 1:
        raise RolloutError("sglang_rollout_batch_size must be 1 or more, got %r" % batch_size)
    groups = list(plan["groups"])
    unknown = sorted(set(force or ()).union(only or ()) - set(groups))
    if unknown:
        raise RolloutError("unknown model group(s) %s; the plan has %s" % (", ".join(unknown), ", ".join(groups)))

    def serving(group):
        return bool(ready.get(group)) and (in_router is None or bool(in_router.get(group)))

    todo, skipped = [], []
    for group in groups:
        if only is not None and group not in only:
            skipped.append(group)
        elif changed.get(group) or not ready.get(group) or group in (force or ()):
            todo.append(group)
        else:
            skipped.append(group)
    fresh = [g for g in todo if not serving(g)]
    rolling = [g for g in todo if serving(g)]
    total_serving = sum(1 for g in groups if serving(g))
    size = int(batch_size)
    if rolling and total_serving - min(size, len(rolling)) < int(min_serving):
        size = total_serving - int(min_serving)
        if size < 1:
            raise RolloutError(
                "restarting serving group(s) %s would leave fewer than %d group(s) serving (%d serve now); "
                "add capacity, or set sglang_rollout_min_serving: %d to accept it"
                % (", ".join(rolling), int(min_serving), total_serving, total_serving - 1))

    def batch(members, is_serving):
        return {"groups": members, "urls": [plan["groups"][g]["url"] for g in members], "serving": is_serving}

    batches = [batch(fresh, False)] if fresh else []
    batches += [batch(rolling[i:i + size], True) for i in range(0, len(rolling), size)]
    return {"batches": batches, "skipped": skipped, "serving": [g for g in groups if serving(g)]}
