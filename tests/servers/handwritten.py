"""A server that is neither ASGI nor ours, started by the harness as a `command:` backend.

It listens on 127.0.0.1:$PORT, answers CORS by hand for the origin in $ALLOWED_ORIGIN, and
appends every answer it writes (status and headers, in order) as a JSON line to $SENT_LOG, with
its pid first, so that a test can compare what the browser's evidence says with what was sent,
and check that the harness stopped it.
"""

from __future__ import annotations

import http.server
import json
import os
import sys

ALLOWED = os.environ["ALLOWED_ORIGIN"]
LOG = os.environ["SENT_LOG"]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes = b"") -> None:
        headers = [("X-Served-By", "handwritten")]
        if self.headers.get("Origin") == ALLOWED:
            headers += [
                ("Access-Control-Allow-Origin", ALLOWED),
                ("Access-Control-Allow-Methods", "GET, DELETE"),
                ("Access-Control-Allow-Headers", "X-Token"),
                ("Access-Control-Expose-Headers", "X-Served-By"),
            ]
        # Spelling and repeats as written: the evidence must keep both.
        headers += [("vary", "Origin"), ("Vary", "Accept-Encoding")]
        headers += [("Content-Length", str(len(body)))]
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps({"path": self.path, "status": status, "headers": headers}) + "\n")

    def do_OPTIONS(self) -> None:
        self._answer(204)

    def do_GET(self) -> None:
        self._answer(200 if self.path.startswith("/api/") else 404, b"{}")

    def do_DELETE(self) -> None:
        self._answer(200, b"{}")


if __name__ == "__main__":
    with open(LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps({"pid": os.getpid()}) + "\n")
    print(f"handwritten server on 127.0.0.1:{os.environ['PORT']}", file=sys.stderr, flush=True)
    http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
