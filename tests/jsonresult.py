"""Test helpers: the --json document of a CLI run, checked against docs/result.schema.json, and a
loopback HTTP listener that records the pings it receives."""
from __future__ import annotations

import http.server
import json
import os
import threading
from typing import Any, Dict, List

import jsonschema

import e2e

SCHEMA_PATH = os.path.join(e2e.ROOT, "docs", "result.schema.json")
with open(SCHEMA_PATH, encoding="utf-8") as _handle:
    SCHEMA = json.load(_handle)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def run_json(*args: str, expect: int, **kwargs: Any) -> Dict[str, Any]:
    """Run ``cnxbackup ARGS --json``: stdout must be exactly one document, valid, with the exit code."""
    proc = e2e.cli(*args, "--json", **kwargs)
    assert proc.returncode == expect, proc.stdout[-3000:] + proc.stderr[-3000:]
    try:
        document = json.loads(proc.stdout)
    except ValueError as error:
        raise AssertionError(f"stdout is not one JSON document ({error}): {proc.stdout[:2000]!r}") from None
    VALIDATOR.validate(document)
    assert document["exitCode"] == expect
    document["_stderr"] = proc.stderr
    return document


class Listener:
    """A healthchecks-like endpoint on 127.0.0.1: every request is recorded as (method, path, body)."""

    def __init__(self, status: int = 200) -> None:
        self.requests: List[Dict[str, Any]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                owner.requests.append({"method": self.command, "path": self.path, "body": body})
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ping/0f1e2d3c-check-uuid"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def kinds(self) -> List[str]:
        """start / success / fail, in the order received."""
        out = []
        for request in self.requests:
            path = request["path"].split("?", 1)[0]
            out.append("start" if path.endswith("/start") else "fail" if path.endswith("/fail") else "success")
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
