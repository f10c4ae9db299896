# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who copies a model from whom, so the source's uplink carries it about once.

Hosts are split by site (``model_sync_site``; copies never cross sites). In a
site with no verified copy yet, ``seed_count`` seeds fetch from the source. Then,
wave after wave, every host that holds a verified copy serves at most
``peer_fanout`` hosts that do not, and no wave runs more than ``max_parallel``
copies: with a fan-out of 1 the holders double each wave (1 -> 2 -> 4 -> 8),
log2(N) waves after the seed.

``next_wave`` is recomputed before every wave from the hosts that really hold a
verified copy by then, so a host that failed simply never serves.
"""

from __future__ import annotations

from typing import Any, Collection, Dict, Iterable, List, Mapping, Optional, Sequence

SOURCE = "source"


class FanoutError(Exception):
    pass


def _by_site(hosts, sites):
    order = []
    groups = {}
    for host in hosts:
        site = str((sites or {}).get(host) or "default")
        if site not in groups:
            groups[site] = []
            order.append(site)
        groups[site].append(host)
    return order, groups


def _check(hosts, seed_count, peer_fanout, max_parallel):
    if len(set(hosts)) != len(hosts):
        raise FanoutError("a host is listed twice: %s" % sorted(h for h in set(hosts) if hosts.count(h) > 1))
    for name, value, low in (
        ("model_sync_seed_count", seed_count, 1),
        ("model_sync_peer_fanout", peer_fanout, 1),
        ("model_sync_max_parallel", max_parallel, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise FanoutError("%s must be an integer >= %d, got %r" % (name, low, value))


def choose_seeds(
    hosts: Sequence[str],
    holders: Collection[str],
    seed_count: int = 1,
    sites: Optional[Mapping[str, Any]] = None,
    preferred: Optional[Iterable[str]] = None,
) -> List[str]:
    """Hosts that fetch from the source: ``seed_count`` per site that has no holder.

    ``preferred`` (model_sync_seed_hosts) come first, in their order; then the
    inventory order.
    """
    _check(list(hosts), seed_count, 1, 1)
    holders = set(holders)
    preferred = [h for h in (preferred or []) if h in hosts]
    seeds = []
    order, groups = _by_site(hosts, sites)
    for site in order:
        members = groups[site]
        if any(h in holders for h in members):
            continue
        ranked = [h for h in preferred if h in members] + [h for h in members if h not in preferred]
        seeds.extend(ranked[:seed_count])
    return seeds


def next_wave(
    hosts: Sequence[str],
    holders: Collection[str],
    peer_fanout: int = 1,
    max_parallel: int = 8,
    sites: Optional[Mapping[str, Any]] = None,
    busy: Optional[Iterable[str]] = None,
) -> Dict[str, str]:
    """One wave of peer copies: ``{receiver: serving holder}``.

    Receivers are the hosts without a verified copy, in inventory order; each
    holder serves at most ``peer_fanout`` of them, spread round-robin so holders
    are loaded evenly; at most ``max_parallel`` copies in all. ``busy`` hosts
    (e.g. seeds still fetching) neither serve nor receive.
    """
    _check(list(hosts), 1, peer_fanout, max_parallel)
    holders = [h for h in hosts if h in set(holders)]
    busy = set(busy or [])
    assignment = {}
    order, groups = _by_site(hosts, sites)
    load = dict((h, 0) for h in holders)
    for site in order:
        members = groups[site]
        servers = [h for h in members if h in load and h not in busy]
        receivers = [h for h in members if h not in load and h not in busy]
        if not servers:
            continue
        for receiver in receivers:
            if len(assignment) >= max_parallel:
                return assignment
            free = [s for s in servers if load[s] < peer_fanout]
            if not free:
                break
            server = min(free, key=lambda s: (load[s], servers.index(s)))
            load[server] += 1
            assignment[receiver] = server
    return assignment


def plan(
    hosts: Iterable[str],
    holders: Collection[str],
    seed_count: int = 1,
    peer_fanout: int = 1,
    max_parallel: int = 8,
    sites: Optional[Mapping[str, Any]] = None,
    preferred: Optional[Iterable[str]] = None,
) -> Dict[str, Any]:
    """The whole distribution if every copy succeeds.

    Returns ``{"seeds": [...], "waves": [[{"dest", "src"}], ...], "unreachable": [...],
    "source_copies": n}``; wave 0 holds the seeds' fetches (src ``"source"``) when
    there are any. ``unreachable``: hosts in a site with neither holder nor seed.
    """
    hosts = list(hosts)
    seeds = choose_seeds(hosts, holders, seed_count, sites, preferred)
    _check(hosts, seed_count, peer_fanout, max_parallel)
    have = set(holders) | set(seeds)
    waves = []
    if seeds:
        waves.append([{"dest": s, "src": SOURCE} for s in seeds])
    while True:
        wave = next_wave(hosts, have, peer_fanout, max_parallel, sites)
        if not wave:
            break
        waves.append([{"dest": d, "src": wave[d]} for d in hosts if d in wave])
        have.update(wave)
    unreachable = [h for h in hosts if h not in have]
    return {"seeds": seeds, "waves": waves, "unreachable": unreachable, "source_copies": len(seeds)}


def pipeline(
    hosts: Iterable[str],
    holders: Collection[str],
    seed_count: int = 1,
    peer_fanout: int = 1,
    max_parallel: int = 8,
    sites: Optional[Mapping[str, Any]] = None,
    preferred: Optional[Iterable[str]] = None,
    from_source: bool = True,
) -> Dict[str, Any]:
    """The same tree as ``plan``, run as one pipeline instead of wave after wave.

    Every receiver follows one parent file by file: it fetches a file as soon as
    its parent holds that file verified, so the waves overlap and the whole
    distribution takes about one copy over the slowest link plus a file's time per
    level of the tree (log2 N levels with a fan-out of 1), not one whole copy per wave.
    A holder serves at once every receiver the waves give it (at most the number of
    waves after it joined, times ``peer_fanout``); each of those copies moves at the
    pace of its own parent, at most the source's.

    ``from_source`` false: no seeds (sites without a holder are ``unreachable``), for
    a pipeline of peer copies only (e.g. when the seeds fetch the whole model first).
    Returns ``{"copies": {dest: {"src", "src_complete", "level"}}, "seeds", "depth",
    "unreachable", "source_copies"}``; ``src_complete``: the parent held its whole
    verified copy when the pipeline started (a holder, or the source), so the
    receiver need not wait for it; ``level``: 1 for a copy from the source or a
    holder, its parent's level + 1 otherwise.
    """
    hosts = list(hosts)
    if from_source:
        result = plan(hosts, holders, seed_count, peer_fanout, max_parallel, sites, preferred)
    else:
        _check(hosts, seed_count, peer_fanout, max_parallel)
        have = set(holders)
        waves = []
        while True:
            wave = next_wave(hosts, have, peer_fanout, max_parallel, sites)
            if not wave:
                break
            waves.append([{"dest": d, "src": wave[d]} for d in hosts if d in wave])
            have.update(wave)
        result = {"seeds": [], "waves": waves, "unreachable": [h for h in hosts if h not in have], "source_copies": 0}
    complete = set(holders)
    copies = {}
    for wave in result["waves"]:
        for copy in wave:
            src = copy["src"]
            src_complete = src == SOURCE or src in complete
            level = 1 if src_complete else copies[src]["level"] + 1
            copies[copy["dest"]] = {"src": src, "src_complete": src_complete, "level": level}
    return {
        "copies": copies,
        "seeds": result["seeds"],
        "unreachable": result["unreachable"],
        "source_copies": result["source_copies"],
        "depth": max([c["level"] for c in copies.values()] or [0]),
    }


# ------------------------------------------------------------ the action's (and the module's) entry point


def _bool(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", "y", "t"):
        return True
    if text in ("0", "false", "no", "off", "n", "f", "", "none"):
        return False
    raise FanoutError("expected a boolean, got %r" % (value,))


_INTS = (
    ("seed_count", "model_sync_seed_count", 1),
    ("peer_fanout", "model_sync_peer_fanout", 1),
    ("max_parallel", "model_sync_max_parallel", 8),
)
_KNOWN = frozenset(
    [
        "hosts",
        "holders",
        "holder_var",
        "sites",
        "site_var",
        "busy",
        "seed_count",
        "preferred_seeds",
        "peer_fanout",
        "max_parallel",
        "pipeline",
        "from_source",
    ]
)


def _names(value, what):
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise FanoutError("%s must be a list of host names, got %r" % (what, value))
    return [str(v) for v in value]


def fanout(args: Mapping[str, Any], task_vars: Mapping[str, Any]) -> Dict[str, Any]:
    """The action's result from its arguments and the task's variables (pure; raises FanoutError)."""
    unknown = sorted(set(args) - _KNOWN)
    if unknown:
        raise FanoutError("unknown option(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(_KNOWN))))
    hostvars = task_vars.get("hostvars", {})
    hosts = _names(args.get("hosts", task_vars.get("ansible_play_hosts")), "hosts")
    if args.get("holders") is not None:
        holders = _names(args["holders"], "holders")
    else:
        var = args.get("holder_var", "__model_sync_holder")
        holders = [h for h in hosts if _bool(hostvars.get(h, {}).get(var, False))]
    if args.get("sites") is not None:
        if not isinstance(args["sites"], dict):
            raise FanoutError("sites must be a mapping of host to site, got %r" % (args["sites"],))
        sites = dict((str(k), str(v)) for k, v in args["sites"].items())
    else:
        var = args.get("site_var", "__model_sync_host_site")
        sites = dict((h, str(hostvars.get(h, {}).get(var) or "default")) for h in hosts)
    numbers = {}
    for option, variable, default in _INTS:
        value = args.get(option, default)
        try:
            if isinstance(value, bool):
                raise ValueError()
            numbers[option] = int(value)
        except (TypeError, ValueError):
            raise FanoutError("%s must be an integer >= 1, got %r" % (variable, value))
    preferred = _names(args.get("preferred_seeds"), "model_sync_seed_hosts")
    busy = _names(args.get("busy"), "busy")
    result = plan(
        hosts, holders, numbers["seed_count"], numbers["peer_fanout"], numbers["max_parallel"], sites, preferred
    )
    result["wave"] = next_wave(hosts, holders, numbers["peer_fanout"], numbers["max_parallel"], sites, busy)
    result["holders"] = holders
    if _bool(args.get("pipeline", False)):
        piped = pipeline(
            hosts,
            holders,
            numbers["seed_count"],
            numbers["peer_fanout"],
            numbers["max_parallel"],
            sites,
            preferred,
            from_source=_bool(args.get("from_source", True)),
        )
        result["pipeline"] = piped
    return result
