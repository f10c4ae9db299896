# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for tools/doubles/sglang_emulator.py (the SGLang test/demo double).

Loopback only, free ports picked here, every wait bounded, every process killed
in teardown.  Uses the generated catalog (plugins/module_utils/sglang_catalog.py)
when it exists, else a tiny catalog of the same format written to a tmp dir.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import plain_namespace

REPO = Path(__file__).resolve().parents[2]
EMULATOR = REPO / "tools" / "doubles" / "sglang_emulator.py"
REAL_CATALOG = REPO / "plugins" / "module_utils" / "sglang_catalog.py"
LOOPBACK = "127.0.0.1"


def _flag(options, dest, action="store", type_=None, default=None, choices=None, nargs=None, required=False):
    return {
        "dest": dest,
        "option_strings": options,
        "action": action,
        "takes_value": action in ("store", "append"),
        "nargs": nargs,
        "type": type_,
        "choices": choices,
        "default": default,
        "required": required,
        "help": "test flag",
        "deprecated": False,
    }


TINY_FLAGS = {
    "--model-path": _flag(["--model-path", "--model"], "model_path", type_="str", required=True),
    "--tokenizer-path": _flag(["--tokenizer-path"], "tokenizer_path", type_="str"),
    "--served-model-name": _flag(["--served-model-name"], "served_model_name", type_="str"),
    "--tp-size": _flag(["--tp-size", "--tensor-parallel-size"], "tp_size", type_="int", default=1),
    "--dp-size": _flag(["--dp-size", "--data-parallel-size"], "dp_size", type_="int", default=1),
    "--nnodes": _flag(["--nnodes"], "nnodes", type_="int", default=1),
    "--node-rank": _flag(["--node-rank"], "node_rank", type_="int", default=0),
    "--dist-init-addr": _flag(["--dist-init-addr", "--nccl-init-addr"], "dist_init_addr", type_="str"),
    "--host": _flag(["--host"], "host", type_="str", default="127.0.0.1"),
    "--port": _flag(["--port"], "port", type_="int", default=30000),
    "--nccl-port": _flag(["--nccl-port"], "nccl_port", type_="int"),
    "--watchdog-timeout": _flag(["--watchdog-timeout"], "watchdog_timeout", type_="float", default=300),
    "--dist-timeout": _flag(["--dist-timeout"], "dist_timeout", type_="int"),
    "--api-key": _flag(["--api-key"], "api_key", type_="str"),
    "--enable-metrics": _flag(["--enable-metrics"], "enable_metrics", action="store_true", default=False),
    "--trust-remote-code": _flag(["--trust-remote-code"], "trust_remote_code", action="store_true", default=False),
    "--config": _flag(["--config"], "config", type_="str"),
    "--context-length": _flag(["--context-length"], "context_length", type_="human_readable_int"),
    "--max-running-requests": _flag(["--max-running-requests"], "max_running_requests", type_="int"),
    "--mem-fraction-static": _flag(["--mem-fraction-static"], "mem_fraction_static", type_="float"),
    "--log-level": _flag(
        ["--log-level"], "log_level", type_="str", default="info", choices=["debug", "info", "warning", "error"]
    ),
}


def _write_tiny_catalog(path):
    option_to_flag = {o: k for k, spec in TINY_FLAGS.items() for o in spec["option_strings"]}
    path.write_text("SGLANG_VERSION = %r\nFLAGS = %r\nOPTION_TO_FLAG = %r\n" % ("0.5.23", TINY_FLAGS, option_to_flag))
    return path


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    if REAL_CATALOG.is_file():
        return REAL_CATALOG
    return _write_tiny_catalog(tmp_path_factory.mktemp("catalog") / "sglang_catalog.py")


def _catalog_has(catalog, option):
    ns = plain_namespace(catalog)  # plain data module
    return option in ns.get("OPTION_TO_FLAG", {}) or option in ns.get("FLAGS", {})


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


class Emu:
    def __init__(self, proc, port, log):
        self.proc, self.port, self.log = proc, port, log

    @property
    def url(self):
        return "http://%s:%d" % (LOOPBACK, self.port)

    def logtext(self):
        return Path(self.log).read_text(errors="replace")

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail("emulator did not exit within %ss; log:\n%s" % (timeout, self.logtext()))


@pytest.fixture
def launch(tmp_path, catalog):
    procs = []

    def _launch(args, env=None, port=None, catalog_path=None, emulator=None):
        port = port or free_port()
        log = tmp_path / ("emu-%d-%d.log" % (port, len(procs)))
        full_env = dict(os.environ)
        for k in list(full_env):
            if k.startswith("SGLANG_EMULATOR_"):
                del full_env[k]
        full_env["SGLANG_EMULATOR_CATALOG"] = str(catalog_path or catalog)
        if catalog_path == "":
            del full_env["SGLANG_EMULATOR_CATALOG"]
        full_env.update(env or {})
        argv = [sys.executable, str(emulator or EMULATOR)] + list(args)
        if "--port" not in args:
            argv += ["--host", LOOPBACK, "--port", str(port)]
        with open(log, "wb") as fh:
            proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=full_env)
        emu = Emu(proc, port, log)
        procs.append(emu)
        return emu

    yield _launch
    for emu in procs:
        if emu.proc.poll() is None:
            emu.proc.kill()
        try:
            emu.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass


def http(method, url, body=None, headers=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError, socket.timeout) as exc:
        return None, str(exc).encode()


def status(url, **kw):
    return http("GET", url, **kw)[0]


def wait_until(fn, timeout, what, emu=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail("timed out after %ss waiting for %s%s" % (timeout, what, ("; log:\n" + emu.logtext()) if emu else ""))


def wait_listening(emu, timeout=15):
    wait_until(lambda: status(emu.url + "/health", timeout=2) is not None, timeout, "HTTP listening", emu)


def sse_events(raw):
    events = []
    for block in raw.decode().split("\n\n"):
        block = block.strip()
        if block.startswith("data: "):
            payload = block[len("data: ") :]
            events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def node_args(rank, dist_port, nnodes=2, tp=4, extra=()):
    return [
        "--model-path",
        "/models/deepseek-r1",
        "--served-model-name",
        "r1",
        "--tp-size",
        str(tp),
        "--nnodes",
        str(nnodes),
        "--node-rank",
        str(rank),
        "--dist-init-addr",
        "%s:%d" % (LOOPBACK, dist_port),
    ] + list(extra)


# ---------------------------------------------------------------------------
# argv
# ---------------------------------------------------------------------------


def test_unknown_flag_and_abbreviation_rejected(launch):
    emu = launch(["--model-path", "/m", "--no-such-flag", "1"])
    assert emu.wait_exit(15) == 2
    assert "unrecognized arguments: --no-such-flag" in emu.logtext()
    emu = launch(["--model-pat", "/m"])  # prefix of --model-path: SGLang argv is rendered in full
    assert emu.wait_exit(15) == 2
    assert "--model-pat" in emu.logtext()
    emu = launch(["--model-path", "/m", "--tp-size", "two"])
    assert emu.wait_exit(15) == 2
    assert "invalid int value" in emu.logtext()


def test_missing_catalog_is_a_clear_error(launch, tmp_path):
    emu = launch(["--model-path", "/m"], catalog_path=str(tmp_path / "nope" / "sglang_catalog.py"))
    assert emu.wait_exit(15) == 2
    assert "catalog not found" in emu.logtext()


def test_catalog_found_next_to_emulator(launch, tmp_path, catalog):
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    shutil.copy(EMULATOR, deploy / "sglang_emulator.py")
    shutil.copy(catalog, deploy / "sglang_catalog.py")
    emu = launch(["--help"], catalog_path="", emulator=deploy / "sglang_emulator.py")
    assert emu.wait_exit(15) == 0
    assert "--tp-size" in emu.logtext()


# ---------------------------------------------------------------------------
# multi-node group
# ---------------------------------------------------------------------------


def assert_refused_for(url, seconds):
    """SGLang does not listen before every rank joined and loaded: connection refused, never 503."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        code, body = http("GET", url, timeout=2)
        assert code is None and b"refused" in body.lower(), (code, body)
        time.sleep(0.1)


def assert_crashed(emu, timeout=10):
    """SGLang's crash path: SIGQUIT handler -> kill_process_tree -> SIGKILL itself (137 in a shell)."""
    rc = emu.wait_exit(timeout)
    assert rc == -signal.SIGKILL, "exit %s, not killed by SIGKILL; log:\n%s" % (rc, emu.logtext())
    log = emu.logtext()
    assert "kill_process_tree called" in log, log
    assert "sigquit" in log.lower(), log


def test_two_node_group_serves_and_crashes_on_peer_loss(launch):
    dist = free_port()
    r0 = launch(node_args(0, dist, extra=["--watchdog-timeout", "30"]), env={"SGLANG_EMULATOR_TOKEN_DELAY": "0.005"})
    wait_until(lambda: "dist-init rendezvous listening" in r0.logtext(), 10, "rank 0 rendezvous", r0)
    assert_refused_for(r0.url + "/health", 1.0)  # alone: not bound, not 503

    r1 = launch(node_args(1, dist, extra=["--watchdog-timeout", "30"]), env={"SGLANG_EMULATOR_START_DELAY": "0"})
    wait_until(lambda: status(r0.url + "/health") == 200, 15, "rank 0 ready", r0)
    log = r0.logtext()
    assert "The server is fired up and ready to roll!" in log
    assert log.index("Init torch distributed ends") < log.index("Uvicorn running") < log.index("fired up")
    assert "Init torch distributed begin." in log

    # follower: dummy health server only
    wait_until(lambda: status(r1.url + "/health") == 200, 10, "rank 1 health", r1)
    assert status(r1.url + "/health_generate") == 200 and status(r1.url + "/ping") == 200
    assert status(r1.url + "/v1/models") == 404
    assert http("POST", r1.url + "/v1/chat/completions", {"messages": []})[0] == 404

    code, body = http("GET", r0.url + "/v1/models")
    assert code == 200 and [m["id"] for m in json.loads(body)["data"]] == ["r1"]
    info = json.loads(http("GET", r0.url + "/get_server_info")[1])
    assert (info["tp_size"], info["nnodes"], info["node_rank"]) == (4, 2, 0)
    assert info["version"] and info["args"]["served_model_name"] == "r1"
    minfo = json.loads(http("GET", r0.url + "/model_info")[1])
    assert minfo["model_path"] == "/models/deepseek-r1" and minfo["is_generation"] is True

    chat = {"model": "r1", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 5}
    code, body = http("POST", r0.url + "/v1/chat/completions", chat)
    assert code == 200, body
    out = json.loads(body)
    text = out["choices"][0]["message"]["content"]
    assert len(text.split()) == 5 and out["choices"][0]["finish_reason"] == "length"
    assert out["usage"]["completion_tokens"] == 5 and out["usage"]["prompt_tokens"] > 0
    assert (
        json.loads(http("POST", r0.url + "/v1/chat/completions", chat)[1])["choices"][0]["message"]["content"] == text
    ), "not deterministic"

    code, body = http(
        "POST", r0.url + "/v1/chat/completions", dict(chat, stream=True, stream_options={"include_usage": True})
    )
    assert code == 200
    events = sse_events(body)
    assert events[-1] == "[DONE]"
    streamed = "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1] if e["choices"])
    assert streamed == text
    assert [e for e in events[:-1] if e["choices"] and e["choices"][0]["finish_reason"] == "length"]
    assert events[-2]["usage"]["completion_tokens"] == 5

    code, body = http("POST", r0.url + "/v1/completions", {"model": "r1", "prompt": "abc", "max_tokens": 3})
    assert code == 200 and len(json.loads(body)["choices"][0]["text"].split()) == 3
    code, body = http("POST", r0.url + "/generate", {"text": "abc", "sampling_params": {"max_new_tokens": 4}})
    assert code == 200
    gen = json.loads(body)
    assert len(gen["text"].split()) == 4 and gen["meta_info"]["completion_tokens"] == 4
    assert status(r0.url + "/health_generate") == 200
    assert status(r0.url + "/ready") == 200
    assert status(r0.url + "/v1/models/r1") == 200 and status(r0.url + "/v1/models/other") == 404

    # a second rank 1 (duplicate) and a mismatched node are rejected, and rank 0 says why
    dup = launch(node_args(1, dist))
    assert dup.wait_exit(15) == 1
    bad = launch(node_args(1, dist, nnodes=3))
    assert bad.wait_exit(15) == 1
    assert "duplicate node rank 1" in r0.logtext() and "nnodes=3" in r0.logtext()
    assert status(r0.url + "/health") == 200, "rejections must not break the group"

    # lose rank 1: rank 0's scheduler fails its next collective and crashes at once
    # (SGLang: "Scheduler hit an exception" -> SIGQUIT -> kill_process_tree), long
    # before its 30 s watchdog.
    r1.proc.kill()
    assert_crashed(r0, timeout=5)
    assert "Scheduler hit an exception" in r0.logtext()
    assert "Connection closed by peer" in r0.logtext()


def test_follower_crashes_when_rank0_crashes(launch):
    dist = free_port()
    r0 = launch(node_args(0, dist))
    r1 = launch(node_args(1, dist, extra=["--watchdog-timeout", "300"]))
    wait_until(lambda: status(r0.url + "/health") == 200, 15, "rank 0 ready", r0)
    wait_until(lambda: status(r1.url + "/health") == 200, 10, "rank 1 health", r1)
    r0.proc.send_signal(signal.SIGQUIT)  # what SGLang's scheduler sends its main process on an exception
    assert_crashed(r0)
    assert "Received sigquit" in r0.logtext() or "SIGQUIT received" in r0.logtext()
    assert_crashed(r1, timeout=5)  # its broadcasts from rank 0 fail: same crash path, well before the watchdog
    assert "Lost node rank 0" in r1.logtext()


def test_follower_health_stays_200_when_rank0_goes_silent(launch):
    # A hung rank 0 (no close): the follower's dummy /health keeps answering 200 --
    # it knows nothing of the group -- until the watchdog crashes the follower.
    dist = free_port()
    r0 = launch(node_args(0, dist))
    r1 = launch(node_args(1, dist, extra=["--watchdog-timeout", "3"]))
    wait_until(lambda: status(r0.url + "/health") == 200, 15, "rank 0 ready", r0)
    wait_until(lambda: status(r1.url + "/health") == 200, 10, "rank 1 health", r1)
    r0.proc.send_signal(signal.SIGSTOP)
    try:
        wait_until(lambda: "missed heartbeats" in r1.logtext(), 8, "heartbeat loss noticed", r1)
        assert status(r1.url + "/health") == 200
        assert status(r1.url + "/health_generate") == 200
        assert_crashed(r1, timeout=8)
        assert "watchdog timeout" in r1.logtext()
    finally:
        r0.proc.send_signal(signal.SIGCONT)


def test_scheduler_exception_crashes_with_137_in_a_shell(launch, tmp_path, catalog):
    # SIGUSR1 (emulator only) raises in the emulated scheduler: log, SIGQUIT, SIGKILL.
    emu = launch(_single())
    wait_until(lambda: status(emu.url + "/health") == 200, 15, "ready", emu)
    emu.proc.send_signal(signal.SIGUSR1)
    assert_crashed(emu)
    assert "Scheduler hit an exception" in emu.logtext()
    assert "SIGQUIT received" in emu.logtext()  # running phase handler (tokenizer_manager.py)

    port = free_port()
    env = dict(os.environ, SGLANG_EMULATOR_CATALOG=str(catalog))
    shell = subprocess.Popen(
        [
            "sh",
            "-c",
            '"$@" & pid=$!; echo "pid=$pid"; wait "$pid"; echo "rc=$?"',
            "sh",
            sys.executable,
            str(EMULATOR),
            "--model-path",
            "/m",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        pid = int(shell.stdout.readline().strip().split("=", 1)[1])
        wait_until(lambda: status("http://%s:%d/health" % (LOOPBACK, port)) == 200, 15, "shell child ready")
        os.kill(pid, signal.SIGQUIT)
        out, _err = shell.communicate(timeout=10)
    finally:
        if shell.poll() is None:
            shell.kill()
    assert out.strip() == "rc=137"


def test_follower_waits_for_rank0_shutdown_on_sigterm(launch):
    # SGLang 0.5.23: a follower in a healthy group ignores SIGTERM and stops when
    # rank 0 broadcasts ShutdownReq at the end of its own graceful exit.
    dist = free_port()
    r0 = launch(node_args(0, dist))
    r1 = launch(node_args(1, dist, extra=["--watchdog-timeout", "300"]))
    wait_until(lambda: status(r0.url + "/health") == 200, 15, "rank 0 ready", r0)
    wait_until(lambda: status(r1.url + "/health") == 200, 10, "rank 1 health", r1)
    r1.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert r1.proc.poll() is None and status(r1.url + "/health") == 200
    assert "waiting for the rank-0 ShutdownReq broadcast" in r1.logtext()
    assert status(r0.url + "/health") == 200
    r0.proc.send_signal(signal.SIGTERM)
    assert r0.wait_exit(10) == 0
    assert r1.wait_exit(10) == 0


def test_follower_before_loading_exits_on_sigterm(launch):
    emu = launch(node_args(1, free_port()))
    wait_until(lambda: "Waiting for node rank 0" in emu.logtext(), 10, "follower waiting", emu)
    emu.proc.send_signal(signal.SIGTERM)
    assert emu.wait_exit(5) == 0


def test_follower_gives_up_after_dist_timeout(launch):
    emu = launch(node_args(1, free_port(), extra=["--dist-timeout", "2"]))
    wait_until(lambda: "Waiting for node rank 0" in emu.logtext(), 10, "follower waiting", emu)
    assert_refused_for(emu.url + "/health", 1.0)
    assert emu.wait_exit(10) == 1


# ---------------------------------------------------------------------------
# single node behaviour
# ---------------------------------------------------------------------------


def _single(extra=()):
    return ["--model-path", "/models/small", "--tp-size", "1"] + list(extra)


def test_sigterm_finishes_inflight_stream_then_exits_0(launch):
    emu = launch(_single(), env={"SGLANG_EMULATOR_TOKEN_DELAY": "0.05"})
    wait_until(lambda: status(emu.url + "/health") == 200, 15, "ready", emu)
    assert status(emu.url + "/metrics") == 404, "metrics need --enable-metrics, as in SGLang"

    result = {}
    first_byte = threading.Event()

    def stream():
        req = urllib.request.Request(
            emu.url + "/v1/chat/completions",
            method="POST",
            data=json.dumps(
                {"messages": [{"role": "user", "content": "drain me"}], "max_tokens": 30, "stream": True}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=20) as resp:
            chunks = [resp.read1(65536)]
            first_byte.set()
            while True:
                data = resp.read1(65536)
                if not data:
                    break
                chunks.append(data)
        result["body"] = b"".join(chunks)

    t = threading.Thread(target=stream, daemon=True)
    t.start()
    assert first_byte.wait(10), emu.logtext()
    emu.proc.send_signal(signal.SIGTERM)
    wait_until(lambda: status(emu.url + "/health") == 503, 3, "health 503 while draining", emu)
    code, _body = http("POST", emu.url + "/v1/completions", {"prompt": "late", "max_tokens": 1})
    assert code == 503
    t.join(20)
    assert not t.is_alive()
    events = sse_events(result["body"])
    assert events[-1] == "[DONE]"
    content = "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1])
    assert len(content.split()) == 30
    assert emu.wait_exit(10) == 0
    assert "Gracefully exiting" in emu.logtext()


def test_metrics_num_running_reqs_tracks_slow_request(launch):
    emu = launch(
        _single(["--enable-metrics", "--served-model-name", "small"]), env={"SGLANG_EMULATOR_TOKEN_DELAY": "0.05"}
    )
    wait_until(lambda: status(emu.url + "/health") == 200, 15, "ready", emu)

    def metric(name):  # summed over label sets (counters are split by is_streaming)
        code, body = http("GET", emu.url + "/metrics")
        assert code == 200
        values = [
            float(line.rsplit(" ", 1)[1])
            for line in body.decode().splitlines()
            if line.startswith(name + "{") and 'model_name="small"' in line
        ]
        assert values, "%s missing from:\n%s" % (name, body.decode())
        return sum(values)

    assert metric("sglang:num_running_reqs") == 0
    assert metric("sglang:num_requests_total") == 1  # SGLang's warm-up request (8 tokens) is counted
    assert metric("sglang:generation_tokens_total") == 8
    done = {}
    t = threading.Thread(
        target=lambda: done.update(
            r=http(
                "POST", emu.url + "/generate", {"text": "slow", "sampling_params": {"max_new_tokens": 30}}, timeout=20
            )
        ),
        daemon=True,
    )
    t.start()
    wait_until(lambda: metric("sglang:num_running_reqs") == 1, 5, "num_running_reqs == 1", emu)
    t.join(20)
    assert done["r"][0] == 200
    assert metric("sglang:num_running_reqs") == 0
    assert metric("sglang:generation_tokens_total") == 38
    assert metric("sglang:num_requests_total") == 2
    for name in ("sglang:num_queue_reqs", "sglang:token_usage", "sglang:gen_throughput", "sglang:prompt_tokens_total"):
        metric(name)
    text = http("GET", emu.url + "/metrics")[1].decode()
    assert "sglang:time_to_first_token_seconds_bucket" in text
    assert 'sglang:e2e_request_latency_seconds_count{model_name="small",is_streaming="false"} 2.0' in text


def test_start_delay_then_warmup(launch):
    t0 = time.monotonic()
    emu = launch(_single(["--context-length", "32k"]), env={"SGLANG_EMULATOR_START_DELAY": "1.5"})
    wait_until(lambda: "Load weight begin" in emu.logtext(), 10, "loading", emu)
    assert_refused_for(emu.url + "/health", 1.0)  # loading: not listening
    wait_until(lambda: status(emu.url + "/model_info") == 200, 15, "listening", emu)
    assert time.monotonic() - t0 >= 1.5
    # warming up (ServerStatus.Starting): health 503, the API already answers
    assert status(emu.url + "/health") == 503 and status(emu.url + "/health_generate") == 503
    assert status(emu.url + "/v1/models") == 200
    wait_until(lambda: status(emu.url + "/health") == 200, 15, "ready after warm-up", emu)
    log = emu.logtext()
    assert log.index("Load weight end.") < log.index("Uvicorn running") < log.index("fired up")
    card = json.loads(http("GET", emu.url + "/v1/models")[1])["data"][0]
    assert card["max_model_len"] == 32000  # SGLang's human_readable_int


def test_fail_ready_never_listens(launch):
    emu = launch(_single(), env={"SGLANG_EMULATOR_FAIL_READY": "1"})
    wait_until(lambda: "never become ready" in emu.logtext(), 10, "loading", emu)
    assert_refused_for(emu.url + "/health", 1.5)
    assert emu.proc.poll() is None
    emu.proc.send_signal(signal.SIGTERM)
    assert emu.wait_exit(5) == 0


def test_port_in_use_fails_the_start(launch):
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen(1)
        emu = launch(_single(), port=taken.getsockname()[1])
        emu.proc.wait(timeout=15)
    assert emu.proc.returncode == 1
    assert "is not available" in emu.logtext()


def _check_api_key(emu, key):
    wait_until(lambda: status(emu.url + "/health") == 200, 15, "ready", emu)
    assert status(emu.url + "/v1/models") == 401
    assert status(emu.url + "/v1/models", headers={"Authorization": "Bearer wrong"}) == 401
    assert status(emu.url + "/v1/models", headers={"Authorization": "Bearer " + key}) == 200
    assert status(emu.url + "/v1/models", headers={"x-api-key": key}) == 401  # SGLang: Bearer only
    assert status(emu.url + "/v1/models", headers={"Authorization": key}) == 401
    code, _body = http(
        "POST", emu.url + "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "max_tokens": 1}
    )
    assert code == 401
    assert status(emu.url + "/health_generate") == 200  # probes stay open, as in SGLang
    assert status(emu.url + "/metrics") == 200  # so does Prometheus scraping


def test_api_key_required_when_set(launch):
    emu = launch(_single(["--api-key", "s3cret", "--enable-metrics"]))
    _check_api_key(emu, "s3cret")
    # SGLang logs its server arguments, the key in clear (engine.py _server_args_for_logging)
    assert "'api_key': 's3cret'" in emu.logtext()
    info = json.loads(http("GET", emu.url + "/server_info", headers={"Authorization": "Bearer s3cret"})[1])
    assert "s3cret" not in json.dumps(info)


def test_admin_key_guards_flush_cache(launch, catalog):
    if not _catalog_has(catalog, "--admin-api-key"):
        pytest.skip("catalog has no --admin-api-key")
    emu = launch(_single(["--api-key", "user", "--admin-api-key", "admin"]))
    wait_until(lambda: status(emu.url + "/health") == 200, 15, "ready", emu)
    assert http("POST", emu.url + "/flush_cache", headers={"Authorization": "Bearer user"})[0] == 401
    assert http("POST", emu.url + "/flush_cache", headers={"Authorization": "Bearer admin"})[0] == 200
    assert status(emu.url + "/v1/models", headers={"Authorization": "Bearer user"}) == 200


def test_api_key_from_config_file(launch, tmp_path, catalog):
    if not _catalog_has(catalog, "--config"):
        pytest.skip("catalog has no --config")
    cfg = tmp_path / "sglang.yaml"
    cfg.write_text('# secrets\napi-key: "from-file"\nenable-metrics: true\n')
    _check_api_key(launch(_single(["--config", str(cfg)])), "from-file")
    # SGLang turns each key into --<key> verbatim: underscores are an unknown flag
    bad = tmp_path / "bad.yaml"
    bad.write_text("api_key: x\n")
    emu = launch(_single(["--config", str(bad)]))
    assert emu.wait_exit(15) == 2
    assert "--api_key" in emu.logtext()
