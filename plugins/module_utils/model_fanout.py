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
    for name, value, low in (("model_sync_seed_count", seed_count, 1), ("model_sync_peer_fanout", peer_fanout, 1),
                             ("model_sync_max_parallel", max_parallel, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise FanoutError("%s must be an integer >= %d, got %r" % (name, low, value))


def choose_seeds(hosts, holders, seed_count=1, sites=None, preferred=None):
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


def next_wave(hosts, holders, peer_fanout=1, max_parallel=8, sites=None, busy=None):
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


def plan(hosts, holders, seed_count=1, peer_fanout=1, max_parallel=8, sites=None, preferred=None):
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
