"""A stand-in OpenAI-compatible judge on loopback that fails on purpose: HTTP 500, garbage, then correct.

Its failures must be retried, and a stage with too many must stop, keep what succeeded and ask only the
failed requests again, never turning a transport failure into a verdict (test_tiny_study.py runs it
against the shared tiny study's responses).
"""

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class FlakyJudge(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible judge on loopback whose replies depend only on the question it is asked.

    While `server.healthy` is false, of the distinct questions in the order they come one in three is
    answered garbage then correctly (a retry saves it) and one in three HTTP 500 then an empty body (it
    fails every try); the rest at once. The questions in `server.down` fail every try even when healthy.
    The label is a function of the question, so an undisturbed judge would give the same verdicts.
    """

    def log_message(self, *_args):  # the test's output stays readable
        pass

    def _send(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._send(200, json.dumps({"data": [{"id": JUDGE_MODEL}]}))

    def do_POST(self):
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        question = payload["messages"][-1]["content"]
        server = self.server
        with server.lock:
            server.asked.append(question)
            tries = server.asked.count(question)
            kind = server.kinds.setdefault(question, KINDS[len(server.kinds) % len(KINDS)])
        if not server.healthy and kind == "saved" and tries == 1:
            return self._send(200, "{not json")
        if (not server.healthy and kind == "lost") or question in server.down:
            return self._send(500, "overloaded") if tries % 2 else self._send(200, "")
        reply = {"choices": [{"message": {"content": judge_label(question)}}], "usage": {}}
        self._send(200, json.dumps(reply))


JUDGE_MODEL = "flaky-judge"


def _digest(question: str) -> int:
    return int(hashlib.sha256(question.encode()).hexdigest(), 16)


KINDS = ("saved", "lost", "plain")


def judge_label(question: str) -> str:
    return "CORRECT" if _digest(question) % 3 else "INCORRECT"


@contextmanager
def flaky_judge_server() -> Iterator[http.server.ThreadingHTTPServer]:
    """A FlakyJudge serving on 127.0.0.1 (a free port) until the block ends; unhealthy at first."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyJudge)
    server.lock, server.asked, server.kinds, server.healthy = threading.Lock(), [], {}, False
    server.down = set()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
