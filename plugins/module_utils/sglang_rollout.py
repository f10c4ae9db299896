# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which model groups a rollout restarts, in which batches, and how long it takes.

The unit of rollout is a model group. A group is restarted when one of its
nodes would change (unit, environment, software), a previous run staged a
change it did not restart for yet (pending), it is forced, or it is not ready.

Surge first: groups that serve no traffic (not ready, out of every router) and
spare groups (``sglang_rollout_spare``) restart - or, when already current and
ready, simply join - in a first batch, and are in the routers before the first
serving group leaves. Serving groups follow, at most ``max_unavailable`` at a
time (a count, or a percentage of the groups serving now), and never so many
that fewer than ``min_serving`` (the floor: a count, or a percentage of the
groups serving now) keep serving, counting the surge. Re-running resumes:
groups already rolled are unchanged and ready, so they are skipped.

Pure functions: no Ansible, no I/O; the filters and the role call them.
"""

from __future__ import annotations

import math
import re
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Union

Share = Union[int, str]

# The longest answer the default drain waits for, in tokens, and the slowest decode
# speed assumed: the single-group table this collection replaces has requests of
# 8,192 max tokens decoded at ~5 tok/s under load (a 664 s request). A drain shorter
# than that aborts every rollout of a reasoning-model fleet.
DEFAULT_DRAIN_MAX_TOKENS = 8192
DEFAULT_DECODE_TOK_S = 5.0
# Headroom on the decode time, plus a fixed allowance for a long prompt's prefill.
DRAIN_MARGIN = 1.2
DRAIN_PREFILL_S = 60
# Per-batch cost besides the engine's start-to-ready time when nothing was observed
# (router changes, drain check, stop, smoke generation): the demo fleet's figure.
DEFAULT_BATCH_OVERHEAD_S = 10.0

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


class RolloutError(Exception):
    pass


def parse_share(value: Any, total: int, name: str, minimum: int = 0, round_up: bool = False) -> int:
    """A count (``2``) or a percentage of ``total`` (``"25%"``) -> a count.

    ``round_up``: a floor rounds up (capacity never below the share), an
    allowance rounds down (never more out than the share). The result is at
    least ``minimum``. Bad input raises RolloutError naming ``name`` and the fix.
    """
    hint = "set %s to a whole number (e.g. 1) or a percentage of the serving groups (e.g. '25%%')" % name
    if isinstance(value, bool) or value is None:
        raise RolloutError("%s=%r is not a count or a percentage; %s" % (name, value, hint))
    if isinstance(value, int):
        count = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise RolloutError("%s=%r is not a whole number; %s" % (name, value, hint))
        count = int(value)
    elif isinstance(value, str):
        text = value.strip()
        match = _PERCENT.match(text)
        if match:
            pct = float(match.group(1))
            if pct > 100:
                raise RolloutError("%s=%r is more than 100%%; %s" % (name, value, hint))
            exact = total * pct / 100.0
            count = int(math.ceil(exact - 1e-9)) if round_up else int(math.floor(exact + 1e-9))
            return max(count, minimum)
        if re.match(r"^\d+$", text):
            count = int(text)
        else:
            raise RolloutError("%s=%r is not a count or a percentage; %s" % (name, value, hint))
    else:
        raise RolloutError("%s has type %s; %s" % (name, type(value).__name__, hint))
    if count < minimum:
        raise RolloutError("%s=%r must be %d or more; %s" % (name, value, minimum, hint))
    return count


def by_group(
    plan: Mapping[str, Any], hostvars: Any, path: str, reduce: str = "any", default: Any = None
) -> Dict[str, Any]:
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


def router_membership(plan: Mapping[str, Any], router_workers: Optional[Sequence[Any]]) -> Optional[Dict[str, bool]]:
    """``{group: listed by every router}`` from each router's worker URL list; None without routers."""
    if not router_workers:
        return None
    lists = [set(str(u).rstrip("/") for u in workers or []) for workers in router_workers]
    return dict((g, all(d["url"] in listed for listed in lists)) for g, d in plan["groups"].items())


def plan_rollout(
    plan: Mapping[str, Any],
    changed: Mapping[str, Any],
    ready: Mapping[str, Any],
    in_router: Optional[Mapping[str, Any]] = None,
    max_unavailable: Share = 1,
    min_serving: Share = 1,
    force: Iterable[str] = (),
    only: Optional[Iterable[str]] = None,
    spares: Iterable[str] = (),
) -> Dict[str, Any]:
    """Return ``{"batches", "skipped", "serving", "spares", "floor", "max_unavailable", "capacity_min"}``.

    Each batch: ``{"groups", "urls", "join", "restart", "serving"}`` - ``restart`` the
    groups restarted (a surge batch may hold spares that only join), ``join`` the URLs
    put into the routers afterwards, ``serving`` whether its groups serve now (they
    leave the routers and drain first).
    changed / ready / in_router: ``{group: bool}``; in_router is None when there is
    no router (then serving means ready). force: groups to restart even if
    unchanged. only: restrict the rollout to these groups (None: all). spares:
    groups that come up first and join the routers for the rollout's length.
    """
    groups = list(plan["groups"])
    force = list(force or ())
    spares = list(spares or ())
    only_list = None if only is None else list(only)
    unknown = sorted(set(force).union(only_list or ()).union(spares) - set(groups))
    if unknown:
        raise RolloutError(
            "unknown model group(s) %s in sglang_rollout_force/sglang_rollout_only/spares; "
            "the plan has %s" % (", ".join(unknown), ", ".join(groups))
        )

    def serving(group):
        return bool(ready.get(group)) and (in_router is None or bool(in_router.get(group)))

    serving_now = [g for g in groups if serving(g)]
    total = len(serving_now)
    unavailable = parse_share(max_unavailable, total, "sglang_rollout_max_unavailable", minimum=1)
    floor = parse_share(min_serving, total, "sglang_rollout_min_serving", minimum=0, round_up=True)

    todo, skipped, join = [], [], []
    for group in groups:
        if only_list is not None and group not in only_list:
            skipped.append(group)
        elif changed.get(group) or not ready.get(group) or group in force:
            todo.append(group)
        elif group in spares and not serving(group):
            join.append(group)  # current and ready: it only joins the routers for the surge (if any)
        else:
            skipped.append(group)
    fresh = [g for g in todo if not serving(g)]
    rolling = [g for g in todo if serving(g)]
    if not rolling:
        join = []  # no serving group leaves: spares stay out of the routers
    surge = [g for g in groups if g in fresh or g in join]
    capacity = total + len(surge)
    size = unavailable
    if rolling:
        size = min(unavailable, capacity - floor)
        if size < 1:
            raise RolloutError(
                "restarting serving group(s) %s would leave fewer than %d group(s) serving "
                "(sglang_rollout_min_serving=%r; %d serve now, %d more come up first); mark a group that serves no "
                "traffic as a spare (sglang_rollout_spare: true), or lower sglang_rollout_min_serving to %d"
                % (", ".join(rolling), floor, min_serving, total, len(surge), max(capacity - 1, 0))
            )

    def batch(members, restart, is_serving):
        # join: the URLs that go into the routers afterwards (a spare only when a serving group will leave)
        return {
            "groups": members,
            "urls": [plan["groups"][g]["url"] for g in members],
            "join": [plan["groups"][g]["url"] for g in members if g not in spares or rolling],
            "restart": restart,
            "serving": is_serving,
        }

    batches = [batch(surge, [g for g in surge if g in fresh], False)] if surge else []
    batches += [batch(rolling[i : i + size], rolling[i : i + size], True) for i in range(0, len(rolling), size)]
    lowest = capacity - min(size, len(rolling)) if rolling else capacity
    return {
        "batches": batches,
        "skipped": [g for g in skipped if g not in join],
        "serving": serving_now,
        "spares": [g for g in groups if g in spares],
        "floor": floor,
        "max_unavailable": size,
        "capacity_min": min(lowest, total),
    }


# --- Drains ------------------------------------------------------------------------------------------


def _argv_value(argv: Sequence[str], flag: str) -> Optional[str]:
    for i, token in enumerate(argv):
        if token == flag and i + 1 < len(argv):
            return argv[i + 1]
        if token.startswith(flag + "="):
            return token.split("=", 1)[1]
    return None


def _positive_number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise RolloutError("%s=%r is not a number; set it to a number above 0 (or 'auto')" % (name, value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RolloutError("%s=%r is not a number; set it to a number above 0" % (name, value))
    if math.isnan(number) or math.isinf(number) or number <= 0:
        raise RolloutError("%s=%r must be above 0" % (name, value))
    return number


def drain_timeout(
    group: str, argv: Sequence[str], timeout: Any = "auto", max_tokens: Any = None, decode_tok_s: Any = None
) -> Dict[str, Any]:
    """How long a group's drain may take: ``{"timeout_s", "basis"}``.

    ``timeout`` an explicit number of seconds wins. ``auto``: the longest answer
    (``max_tokens``, else 8,192 tokens, capped by the group's ``--context-length``)
    decoded at ``decode_tok_s`` (else 5 tok/s), times 1.2, plus 60 s of prefill -
    2,027 s by default, so a 664 s reasoning request finishes.
    """
    try:
        return _drain_timeout(group, argv, timeout, max_tokens, decode_tok_s)
    except RolloutError as exc:
        raise RolloutError("group %s: %s" % (group, exc))


def _drain_timeout(group: str, argv: Sequence[str], timeout: Any, max_tokens: Any, decode_tok_s: Any) -> Dict[str, Any]:
    if timeout not in (None, "", "auto"):
        seconds = _positive_number(timeout, "sglang_rollout_drain_timeout")
        return {"timeout_s": int(math.ceil(seconds)), "basis": "sglang_rollout_drain_timeout=%s" % timeout}
    tokens = (
        DEFAULT_DRAIN_MAX_TOKENS
        if max_tokens in (None, "")
        else _positive_number(max_tokens, "sglang_rollout_max_tokens")
    )
    speed = (
        DEFAULT_DECODE_TOK_S
        if decode_tok_s in (None, "")
        else _positive_number(decode_tok_s, "sglang_rollout_decode_tok_s")
    )
    source = "sglang_rollout_max_tokens" if max_tokens not in (None, "") else "default"
    context = _argv_value(list(argv or ()), "--context-length")
    if context is not None and context.isdigit() and int(context) < tokens:
        tokens, source = float(context), "group %s --context-length" % group
    seconds = int(math.ceil(tokens / speed * DRAIN_MARGIN + DRAIN_PREFILL_S))
    return {
        "timeout_s": seconds,
        "basis": "%d tokens (%s) at %g tok/s x %.1f + %d s prefill"
        % (tokens, source, speed, DRAIN_MARGIN, DRAIN_PREFILL_S),
    }


# --- Estimates and progress ---------------------------------------------------------------------------


def estimate(
    batches: Sequence[Mapping[str, Any]],
    ready_s: Mapping[str, Any],
    assumed_ready_s: Any,
    overhead_s: Any = DEFAULT_BATCH_OVERHEAD_S,
) -> Dict[str, Any]:
    """Seconds each batch is expected to take: its slowest restarting group's start-to-ready time
    (observed by the last rollout, else ``assumed_ready_s``) plus ``overhead_s``. Drains come on top.

    Returns ``{"batches_s": [...], "total_s", "observed": [groups with an observation]}``.
    """
    assumed = _positive_number(assumed_ready_s, "sglang_rollout_assumed_ready_s")
    extra = float(overhead_s)
    per_batch, observed = [], []
    for b in batches:
        slowest = 0.0
        for g in b.get("restart", b["groups"]):
            seen = ready_s.get(g)
            if isinstance(seen, (int, float)) and not isinstance(seen, bool) and seen > 0:
                observed.append(g)
                slowest = max(slowest, float(seen))
            else:
                slowest = max(slowest, assumed)
        per_batch.append(round(slowest + extra, 1))
    return {"batches_s": per_batch, "total_s": round(sum(per_batch), 1), "observed": observed}


def progress(index: int, batches_s: Sequence[float], elapsed_s: float) -> Dict[str, Any]:
    """Before batch ``index`` (0-based): the remaining estimate, scaled by how the batches
    done so far compared with their estimate. ``{"done", "total", "elapsed_s", "remaining_s"}``."""
    done = list(batches_s[:index])
    left = sum(batches_s[index:])
    if done and sum(done) > 0 and elapsed_s > 0:
        left = left * (float(elapsed_s) / sum(done))
    return {
        "done": index,
        "total": len(batches_s),
        "elapsed_s": round(float(elapsed_s), 1),
        "remaining_s": round(left, 1),
    }


def fmt_duration(seconds: Any) -> str:
    """``754`` -> ``12m34s``; ``42`` -> ``42s``."""
    total = int(round(float(seconds)))
    if total < 60:
        return "%ds" % total
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return ("%dh%02dm%02ds" % (hours, minutes, secs)) if hours else ("%dm%02ds" % (minutes, secs))


def drain_failure(detail: str, timeout_s: Any, basis: str = "", group: str = "") -> str:
    """The message of a drain that ran out of time: what was still in flight, why the
    timeout was what it was, and what to set. SGLang and smg expose counts per worker,
    not request ids, so the counts are what is named."""
    who = "group %s: " % group if group else ""
    why = " (%s)" % basis if basis else ""
    return (
        "%sstill in flight after %ss: %s. The drain timeout%s was shorter than these requests: set "
        "sglang_rollout_drain_timeout (seconds, group variable) above the longest request you serve, or size it "
        "with sglang_rollout_max_tokens / sglang_rollout_decode_tok_s. Nothing was stopped; the group is out of "
        "the routers and keeps running its requests: re-run the rollout to resume." % (who, timeout_s, detail, why)
    )
