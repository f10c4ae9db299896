# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP: the rank-0 API (auth, routes, info endpoints) and the followers' dummy health server."""

from __future__ import annotations

import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from .common import LOG, StartupError
from .generate import GenerateEndpoints
from .metrics import render_metrics


class BadRequest(Exception):
    pass


AUTH_EXEMPT_PREFIXES = ("/health", "/ready", "/metrics")
ADMIN_OPTIONAL_PATHS = ("/flush_cache",)  # @auth_level(AuthLevel.ADMIN_OPTIONAL) in http_server.py


class Handler(GenerateEndpoints, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    engine = None  # set on the subclass

    # -- plumbing ----------------------------------------------------------
    def version_string(self):
        return "uvicorn"

    def log_message(self, fmt, *args):  # uvicorn-like access log
        LOG.debug("%s - %s", self.client_address[0], fmt % args)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadRequest("invalid JSON body: %s" % exc)
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object")
        return body

    def _send(self, status, body=b"", ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
        elif isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        if body:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.engine.draining:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status, message, err_type=None):
        self._send(
            status,
            {
                "object": "error",
                "message": message,
                "type": err_type or ("BadRequestError" if status == 400 else "ServiceUnavailable"),
                "param": None,
                "code": status,
            },
        )

    def _not_found(self):
        self._send(404, {"detail": "Not Found"})

    def _start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        if self.engine.draining:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()

    def _chunk(self, obj):
        data = ("data: %s\n\n" % (obj if isinstance(obj, str) else json.dumps(obj))).encode("utf-8")
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _authorized(self, path):
        """SGLang 0.5.23 utils/auth.py decide_request_auth: Bearer only, probes exempt."""
        s = self.engine.s
        if self.command == "OPTIONS" or path.startswith(AUTH_EXEMPT_PREFIXES):
            return True
        key = s.api_key
        if path in ADMIN_OPTIONAL_PATHS and s.admin_api_key:
            key = s.admin_api_key
        if not key:
            return True
        parts = (self.headers.get("Authorization") or "").split(" ", 1)
        return len(parts) == 2 and parts[0].lower() == "bearer" and hmac.compare_digest(parts[1], key)

    def _dispatch(self):
        path = urlsplit(self.path).path
        try:
            if self.engine.s.node_rank != 0:
                return self._follower(path)
            if not self._authorized(path):
                return self._send(401, {"error": "Unauthorized"})
            return self._rank0(path)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except BadRequest as exc:
            self._error(400, str(exc))
        except Exception as exc:  # keep serving; report like a server error
            LOG.exception("Exception in %s %s", self.command, path)
            self.close_connection = True
            try:
                self._error(500, "internal emulator error: %s" % exc, "InternalServerError")
            except OSError:
                pass

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch

    def do_OPTIONS(self):
        self._send(200, b"", headers={"Allow": "GET, POST, OPTIONS"})

    # -- followers: SGLang's dummy health server ---------------------------
    def _follower(self, path):
        # utils/common.py launch_dummy_health_check_server: plain 200, whatever the group does.
        if path in ("/health", "/health_generate", "/ping") and self.command in ("GET", "HEAD"):
            return self._send(200, b"")
        if path == "/metrics" and self.engine.s.enable_metrics and self.command in ("GET", "HEAD"):
            return self._send(200, render_metrics(self.engine), ctype="text/plain; version=0.0.4; charset=utf-8")
        return self._not_found()

    # -- rank 0 ------------------------------------------------------------
    GET_ROUTES = {
        "/health": "health",
        "/health_generate": "health_generate",
        "/ready": "ready",
        "/v1/models": "models",
        "/model_info": "model_info",
        "/get_model_info": "model_info",
        "/server_info": "server_info",
        "/get_server_info": "server_info",
        "/version": "version",
        "/metrics": "metrics",
    }
    POST_ROUTES = {
        "/generate": "generate",
        "/v1/completions": "completions",
        "/v1/chat/completions": "chat",
        "/flush_cache": "flush_cache",
    }

    def _rank0(self, path):
        e = self.engine
        if path == "/metrics" and not e.s.enable_metrics:
            return self._not_found()
        get_name, post_name = self.GET_ROUTES.get(path), self.POST_ROUTES.get(path)
        if path.startswith("/v1/models/") and self.command in ("GET", "HEAD"):
            name = "model_card"
        elif self.command in ("GET", "HEAD") and get_name:
            name = get_name
        elif self.command == "POST" and post_name:
            name = post_name
        elif (path, self.command) in (("/flush_cache", "GET"), ("/generate", "PUT")):
            name = post_name
        elif get_name or post_name:
            return self._send(405, {"detail": "Method Not Allowed"})
        else:
            return self._not_found()
        health = name in ("health", "health_generate", "ready")
        if name != "metrics" and ((health and not e.serving()) or not e.admitting()):
            # health: 503 while warming up (ServerStatus.Starting), draining or broken;
            # everything else: 503 only while draining or broken.
            if self.command in ("POST", "PUT"):
                self._body()
            if health:
                return self._send(503, b"")
            return self._error(503, "The server is not ready" if not e.draining else "The server is shutting down")
        return getattr(self, "h_" + name)()

    def h_health(self):
        self._send(200, b"")

    h_ready = h_health

    def h_health_generate(self):
        if self.engine.s.token_delay:
            time.sleep(self.engine.s.token_delay)
        self._send(200 if self.engine.serving() else 503, b"")

    def _card(self):
        s = self.engine.s
        return {
            "id": s.served_model_name,
            "object": "model",
            "created": int(time.time()),
            "owned_by": "sglang",
            "root": s.served_model_name,
            "parent": None,
            "max_model_len": s.context_length,
        }

    def h_models(self):
        self._send(200, {"object": "list", "data": [self._card()]})

    def h_model_card(self):
        model = urlsplit(self.path).path[len("/v1/models/") :]
        if model != self.engine.s.served_model_name:
            return self._send(
                404,
                {
                    "error": {
                        "message": "The model '%s' does not exist" % model,
                        "type": "invalid_request_error",
                        "param": "model",
                        "code": "model_not_found",
                    }
                },
            )
        self._send(200, self._card())

    def h_model_info(self):
        s = self.engine.s
        self._send(
            200,
            {
                "model_path": s.model_path,
                "served_model_name": s.served_model_name,
                "tokenizer_path": s.tokenizer_path,
                "is_generation": True,
                "preferred_sampling_params": None,
                "weight_version": "default",
                "has_image_understanding": False,
                "has_audio_understanding": False,
                "model_type": "emulated",
                "architectures": ["EmulatedForCausalLM"],
            },
        )

    def h_server_info(self):
        e, s = self.engine, self.engine.s
        info = s.args_dict()
        info.update(
            {
                "tp_size": s.tp_size,
                "nnodes": s.nnodes,
                "node_rank": s.node_rank,
                "version": s.version,
                "emulated": True,
                "args": s.args_dict(),
                "internal_states": [
                    {
                        "last_gen_throughput": e.gen_throughput(),
                        "num_running_reqs": e.running,
                        "num_queue_reqs": e.queued,
                    }
                ],
                "max_total_num_tokens": s.max_total_tokens,
            }
        )
        self._send(200, info)

    def h_version(self):
        self._send(200, {"version": self.engine.s.version})

    def h_flush_cache(self):
        if self.command == "POST":
            self._body()
        self._send(
            200,
            "Cache flushed.\nPlease check backend logs for more details. "
            "(When there are running or waiting requests, the operation will not be performed.)\n",
            ctype="text/plain; charset=utf-8",
        )

    def h_metrics(self):
        self._send(200, render_metrics(self.engine), ctype="text/plain; version=0.0.4; charset=utf-8")


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def make_http_server(engine):
    """Bind the HTTP port now (a port in use fails the start) but do not listen yet.

    A bound socket that does not listen refuses connections, exactly what a client
    sees of real SGLang before uvicorn starts (every rank joined and loaded).
    """
    s = engine.s
    handler = type("BoundHandler", (Handler,), {"engine": engine})
    cls = EmulatorHTTPServer
    if ":" in s.host:
        cls = type("EmulatorHTTPServer6", (EmulatorHTTPServer,), {"address_family": socket.AF_INET6})
    httpd = cls((s.host, s.port), handler, bind_and_activate=False)
    try:
        httpd.server_bind()
    except OSError as exc:
        httpd.server_close()
        raise StartupError("Port %d is not available on %s: %s" % (s.port, s.host, exc))
    return httpd


def start_http(httpd):
    httpd.server_activate()  # listen()
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="http", daemon=True).start()
