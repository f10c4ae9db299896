# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The TP group across nodes: the dist-init rendezvous, heartbeats and peer loss (rank 0 and followers)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time

from .common import LOG, StartupError
from .logs import log_tp
from .nccl import write_nccl_debug

HEARTBEAT_INTERVAL = 0.5  # seconds between pings, both directions
HEARTBEAT_TIMEOUT = 3.0  # a peer silent this long is lost
CONNECT_RETRY = 1.0  # follower: seconds between connection attempts
HANDSHAKE_TIMEOUT = 10.0  # seconds to wait for hello / welcome


class Peer:
    def __init__(self, sock, node_rank):
        self.sock = sock
        self.node_rank = node_rank
        self.last_seen = time.monotonic()
        self.wlock = threading.Lock()
        self.closed = False

    def send(self, obj):
        data = (json.dumps(obj) + "\n").encode("utf-8")
        with self.wlock:
            if self.closed:
                return False
            try:
                self.sock.sendall(data)
                return True
            except OSError:
                return False

    def close(self):
        with self.wlock:
            if self.closed:
                return
            self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


def _read_line(fh):
    line = fh.readline(65536)
    if not line:
        return None
    return json.loads(line.decode("utf-8"))


class Rank0Dist:
    """Rank 0: accept followers, validate hellos, heartbeat, detect loss."""

    def __init__(self, engine):
        self.e = engine
        s = engine.s
        self.sock = None
        family = socket.AF_INET6 if ":" in (s.dist_host or "") else socket.AF_INET
        for bind_host in (s.dist_host, "::" if family == socket.AF_INET6 else "0.0.0.0"):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((bind_host, s.dist_port))
            except OSError as exc:
                sock.close()
                # EADDRNOTAVAIL / unresolvable: not one of this host's addresses (a VIP, a DNS name)
                if isinstance(exc, socket.gaierror) or exc.errno == 99 or "assign" in str(exc).lower():
                    continue
                raise StartupError("cannot listen on dist-init port %s:%d: %s" % (bind_host, s.dist_port, exc))
            sock.listen(64)
            self.sock = sock
            LOG.info("dist-init rendezvous listening on %s:%d (nnodes=%d)", bind_host, s.dist_port, s.nnodes)
            break
        if self.sock is None:
            raise StartupError("cannot listen on dist-init port %d" % s.dist_port)
        threading.Thread(target=self._accept_loop, name="dist-accept", daemon=True).start()

    def _accept_loop(self):
        while True:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn, addr), name="dist-peer", daemon=True).start()

    def _reject(self, conn, addr, reason):
        LOG.error("Rejected node from %s: %s", addr[0], reason)
        try:
            conn.sendall((json.dumps({"op": "reject", "reason": reason}) + "\n").encode())
        except OSError:
            pass
        conn.close()

    def _serve(self, conn, addr):
        e, s = self.e, self.e.s
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        fh = conn.makefile("rb")
        try:
            conn.settimeout(HANDSHAKE_TIMEOUT)
            hello = _read_line(fh)
            conn.settimeout(None)
        except (OSError, ValueError):
            conn.close()
            return
        if not isinstance(hello, dict) or hello.get("op") != "hello":
            return self._reject(conn, addr, "protocol error: expected hello")
        try:
            rank = int(hello.get("node_rank"))
            nnodes = int(hello.get("nnodes"))
            tp = int(hello.get("tp_size"))
        except (TypeError, ValueError):
            return self._reject(conn, addr, "protocol error: bad hello %r" % (hello,))
        with e.lock:
            if nnodes != s.nnodes:
                reason = "node rank %d has nnodes=%d but rank 0 has nnodes=%d" % (rank, nnodes, s.nnodes)
            elif tp != s.tp_size:
                reason = "node rank %d has tp_size=%d but rank 0 has tp_size=%d" % (rank, tp, s.tp_size)
            elif not 1 <= rank < s.nnodes:
                reason = "node rank %d is out of range 1..%d" % (rank, s.nnodes - 1)
            elif rank in e.peers:
                reason = "duplicate node rank %d (already joined from %s)" % (rank, e.peers[rank].addr)
            elif e.broken_at is not None:
                reason = "process group is broken (%s); restart rank 0 to form a new group" % e.broken_reason
            elif e.formed_at is not None:
                reason = "process group already formed"
            elif e.draining:
                reason = "rank 0 is shutting down"
            else:
                reason = None
            if reason is None:
                peer = Peer(conn, rank)
                peer.addr = "%s:%s" % (addr[0], addr[1])
                e.peers[rank] = peer
        if reason is not None:
            return self._reject(conn, addr, reason)
        if hello.get("version") and hello.get("version") != s.version:
            LOG.warning("node rank %d reports version %s, rank 0 has %s", rank, hello.get("version"), s.version)
        peer.send({"op": "welcome", "nnodes": s.nnodes, "tp_size": s.tp_size, "version": s.version})
        LOG.info("node rank %d joined from %s (%d/%d nodes)", rank, peer.addr, len(e.peers) + 1, s.nnodes)
        with e.lock:
            if e.formed_at is None and len(e.peers) == s.nnodes - 1:
                e.formed_at = time.monotonic()
                formed = True
            else:
                formed = False
        if formed:
            self.broadcast({"op": "formed"})
            on_group_formed(e)
        bye = False
        while True:
            try:
                msg = _read_line(fh)
            except (OSError, ValueError):
                msg = None
            if msg is None:
                break
            peer.last_seen = time.monotonic()
            if isinstance(msg, dict) and msg.get("op") == "bye":
                bye = True
                break
        how = "left the group (graceful exit)" if bye else "closed its connection"
        self.lose(peer, "node rank %d at %s %s" % (rank, peer.addr, how))

    def lose(self, peer, reason, silent=False):
        e = self.e
        with e.lock:
            if e.peers.get(peer.node_rank) is not peer:
                return
            del e.peers[peer.node_rank]
            formed = e.formed_at is not None
        peer.close()
        if e.draining:
            LOG.info("%s", reason)
        elif formed:
            e.peer_lost("Lost node rank %d: %s" % (peer.node_rank, reason), silent)
        else:
            LOG.warning("%s before the group formed; waiting for it to rejoin", reason)

    def tick(self):
        now = time.monotonic()
        with self.e.lock:
            peers = list(self.e.peers.values())
        for p in peers:
            if now - p.last_seen > HEARTBEAT_TIMEOUT:
                self.lose(p, "node rank %d missed heartbeats for %.1fs" % (p.node_rank, now - p.last_seen), silent=True)
            else:
                p.send({"op": "ping", "t": time.time()})

    def broadcast(self, obj):
        with self.e.lock:
            peers = list(self.e.peers.values())
        for p in peers:
            p.send(obj)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class FollowerDist:
    """Node rank >= 1: connect to rank 0 (retrying), hello, heartbeat."""

    def __init__(self, engine):
        self.e = engine
        self.peer = None
        self.lost_at = None
        self.rejected = None
        self.gave_up = False
        threading.Thread(target=self._run, name="dist-client", daemon=True).start()

    def _run(self):
        e, s = self.e, self.e.s
        attempts = 0
        while True:
            if e.draining:
                return
            if s.dist_timeout is not None and time.monotonic() - e.t_start > s.dist_timeout:
                self.gave_up = True
                return
            attempts += 1
            try:
                sock = socket.create_connection((s.dist_host, s.dist_port), timeout=2.0)
            except OSError as exc:
                if attempts == 1 or attempts % 10 == 0:
                    LOG.info("Waiting for node rank 0 at %s:%d (%s)", s.dist_host, s.dist_port, exc)
                time.sleep(CONNECT_RETRY)
                continue
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.settimeout(HANDSHAKE_TIMEOUT)
                sock.sendall(
                    (
                        json.dumps(
                            {
                                "op": "hello",
                                "node_rank": s.node_rank,
                                "nnodes": s.nnodes,
                                "tp_size": s.tp_size,
                                "model_path": s.model_path,
                                "version": s.version,
                                "pid": os.getpid(),
                                "host": socket.gethostname(),
                            }
                        )
                        + "\n"
                    ).encode()
                )
                fh = sock.makefile("rb")
                reply = _read_line(fh)
                sock.settimeout(None)
            except (OSError, ValueError) as exc:
                LOG.info("Handshake with node rank 0 failed (%s); retrying", exc)
                sock.close()
                time.sleep(CONNECT_RETRY)
                continue
            if not isinstance(reply, dict) or reply.get("op") != "welcome":
                reason = reply.get("reason") if isinstance(reply, dict) else "connection closed"
                if reply is None:
                    sock.close()
                    time.sleep(CONNECT_RETRY)
                    continue
                LOG.error("Node rank 0 rejected this node: %s", reason)
                sock.close()
                self.rejected = reason
                return
            peer = Peer(sock, 0)
            with e.lock:
                e.peers[0] = peer
            self.peer = peer
            LOG.info("Joined the distributed group at %s:%d as node rank %d", s.dist_host, s.dist_port, s.node_rank)
            self._read(fh, peer)
            return

    def _read(self, fh, peer):
        e = self.e
        reason = "node rank 0 closed the connection"
        while True:
            try:
                msg = _read_line(fh)
            except (OSError, ValueError):
                msg = None
            if msg is None:
                break
            peer.last_seen = time.monotonic()
            op = msg.get("op") if isinstance(msg, dict) else None
            if op == "formed":
                with e.lock:
                    first = e.formed_at is None
                    e.formed_at = e.formed_at or time.monotonic()
                if first:
                    on_group_formed(e)
            elif op == "ready":
                LOG.info("Node rank 0 reports the server is ready")
            elif op == "shutdown":
                with e.lock:
                    e.rank0_shutdown = True
                reason = "node rank 0 sent ShutdownReq"
                break
        self.lose(reason)

    def lose(self, reason, silent=False):
        e = self.e
        with e.lock:
            peer = e.peers.pop(0, None)
        if peer is None:
            return
        peer.close()
        self.lost_at = time.monotonic()
        if e.draining or e.rank0_shutdown:
            return
        # Joined: this rank's schedulers are in rank 0's process group (real SGLang
        # would be inside init_process_group or the event loop's broadcasts).
        e.peer_lost("Lost node rank 0 at %s:%d: %s" % (e.s.dist_host, e.s.dist_port, reason), silent)

    def tick(self):
        peer = self.peer
        if peer is None or peer.closed:
            return
        now = time.monotonic()
        if now - peer.last_seen > HEARTBEAT_TIMEOUT:
            self.lose("node rank 0 missed heartbeats for %.1fs" % (now - peer.last_seen), silent=True)
        else:
            peer.send({"op": "ping", "t": time.time()})

    def close(self):
        peer = self.peer
        if peer is not None:
            peer.send({"op": "bye"})
            peer.close()


def on_group_formed(engine):
    s = engine.s
    try:
        write_nccl_debug(os.environ, max(1, s.tp_size // s.nnodes))
    except StartupError as exc:
        LOG.error("%s", exc)
    log_tp("Init torch distributed ends. mem usage=0.00 GB", s)
    log_tp("Load weight begin. avail mem=78.50 GB", s)
    if s.fail_ready:
        LOG.warning("SGLANG_EMULATOR_FAIL_READY is set: this server will never become ready")
