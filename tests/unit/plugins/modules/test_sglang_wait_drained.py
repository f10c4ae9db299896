"""sglang_wait_drained on timeout: the message names what was still in flight and what to set (issue 19).

Runs the module's main() against a real HTTP server on loopback that answers like rank 0's
/metrics (SGLang's gauge names) and the gateway's Prometheus endpoint (smg's).
"""

from __future__ import annotations

import http.server
import json
import threading

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.gpufleet.sglang.plugins.modules import sglang_wait_drained

BODIES = {
    "/metrics": 'sglang:num_running_reqs{model_name="m"} 2\nsglang:num_queue_reqs{model_name="m"} 1\n',
    "/gw/metrics": 'smg_worker_requests_active{worker="http://a1:30000"} 3\n',
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = BODIES.get(self.path, "").encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()


def run(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            sglang_wait_drained.main()
    return json.loads(capsys.readouterr().out)


def test_rank0_timeout_names_the_counts_the_basis_and_the_variables(server, capsys):
    out = run(
        {"url": server, "timeout": 1, "delay": 1, "group": "r1_a", "timeout_basis": "8192 tokens (default) at 5 tok/s"},
        capsys,
    )
    assert out["failed"] and out["running"] == 2 and out["queued"] == 1
    assert out["msg"].startswith("group r1_a: still in flight after 1s: at rank 0 %s 2 running, 1 queued" % server)
    assert "sglang_rollout_drain_timeout" in out["msg"] and "8192 tokens (default) at 5 tok/s" in out["msg"]


def test_gateway_timeout_names_each_worker(server, capsys):
    out = run(
        {
            "gateway_metrics_url": server + "/gw/metrics",
            "workers": ["http://a1:30000"],
            "timeout": 1,
            "delay": 1,
            "group": "r1_a",
        },
        capsys,
    )
    assert out["failed"] and out["active"] == {"http://a1:30000": 3}
    assert "at the gateway http://a1:30000: 3 active" in out["msg"] and "sglang_rollout_max_tokens" in out["msg"]
