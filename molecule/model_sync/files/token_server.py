# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A gated HTTP file server: the test double of a download that wants a bearer token.

    python3 token_server.py --port 8765 --dir DIR --token-sha256 HEX --log FILE

GET /<file> from DIR answers 200 (or 206 for ``Range: bytes=N-``) only when the
``Authorization: Bearer <token>`` header's token hashes to HEX, else 401. It
knows only the hash, never the token; the log says ``auth=ok`` or ``auth=denied``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_handler(root, token_sha256, log_path):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):  # pylint: disable=arguments-differ
            return

        def _log(self, status, auth):
            with open(log_path, "a") as handle:
                handle.write("%s %s %d auth=%s\n" % (self.command, self.path, status, auth))

        def do_GET(self):  # pylint: disable=invalid-name
            header = self.headers.get("Authorization", "")
            token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
            if hashlib.sha256(token.encode()).hexdigest() != token_sha256:
                self._log(401, "denied")
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path = os.path.join(root, os.path.basename(self.path))
            if not os.path.isfile(path):
                self._log(404, "ok")
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            size = os.path.getsize(path)
            start = 0
            match = re.match(r"^bytes=(\d+)-$", self.headers.get("Range", ""))
            if match:
                start = int(match.group(1))
            if start >= size and match:
                self._log(416, "ok")
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206 if match else 200
            self._log(status, "ok")
            self.send_response(status)
            if match:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size))
            self.send_header("Content-Length", str(size - start))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            with open(path, "rb") as handle:
                handle.seek(start)
                while True:
                    block = handle.read(1 << 20)
                    if not block:
                        break
                    self.wfile.write(block)

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--token-sha256", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.bind, args.port), make_handler(args.dir, args.token_sha256, args.log))
    server.serve_forever()


if __name__ == "__main__":
    main()
