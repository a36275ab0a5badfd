"""The Lambda Runtime API emulator: one per function process, it hands out the events over
`GET /2018-06-01/runtime/invocation/next` and takes the answers, recording when the process
first asks for an event (the end of its init) and when each event is handed out and answered.
A gated emulator hands out the first event at once and each later one only once the harness
releases it (`release`), so that the harness can do something of its own between two events
(the proxy's rounds: a direct call to the upstream while the function waits in `/next`)."""

from __future__ import annotations

import json
import threading
import time
import uuid

from .common import INVOKE_TIMEOUT, now
from .plumbing import QuickHandler, read_body, serve


class RuntimeApi:
    """A Lambda Runtime API emulator for one process: hands out `events` in order, records when
    the process first asks for one (end of init) and when each answer arrives."""

    def __init__(self, events: list[dict], function_name: str, gated: bool = False):
        self.events = [(str(uuid.uuid4()), e) for e in events]
        self.index = 0
        # How many events may be handed out: all of them, or (gated) the first until `release`.
        self.released = 1 if gated else len(self.events)
        self.first_next: float | None = None
        self.handed: dict[str, float] = {}
        self.responses: dict[str, tuple[float, bytes]] = {}
        self.errors: list[tuple[str, bytes]] = []
        self.closed = False
        self.cond = threading.Condition()
        api = self
        arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"

        class Handler(QuickHandler):
            def log_message(self, *args):
                pass

            def reply(self, status: int, body: bytes, headers: dict | None = None):
                try:
                    self.send_response_only(status)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    self.wfile.flush()
                except OSError:
                    # The process was killed once its last answer was recorded.
                    self.close_connection = True

            def do_GET(self):
                t = now()
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self.reply(404, b'{"errorMessage":"not found"}')
                with api.cond:
                    if api.first_next is None:
                        api.first_next = t
                    while api.index >= min(len(api.events), api.released) and not api.closed:
                        api.cond.wait()
                    if api.closed:
                        self.close_connection = True
                        return self.reply(410, b'{"errorMessage":"shutting down"}')
                    request_id, event = api.events[api.index]
                    api.index += 1
                    # Before the write: the function cannot act on the event earlier than this,
                    # so every request it makes for the event starts after it.
                    api.handed[request_id] = now()
                body = json.dumps(event).encode()
                deadline = int((time.time() + INVOKE_TIMEOUT) * 1000)
                self.reply(
                    200,
                    body,
                    {
                        "Lambda-Runtime-Aws-Request-Id": request_id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline),
                        "Lambda-Runtime-Invoked-Function-Arn": arn,
                        "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
                    },
                )

            def do_POST(self):
                t = now()
                body = read_body(self)
                parts = self.path.split("/")
                with api.cond:
                    if self.path == "/2018-06-01/runtime/init/error":
                        api.errors.append(("init", body))
                    elif len(parts) == 6 and parts[3] == "invocation" and parts[5] == "response":
                        api.responses[parts[4]] = (t, body)
                    elif len(parts) == 6 and parts[3] == "invocation" and parts[5] == "error":
                        api.errors.append((parts[4], body))
                    else:
                        return self.reply(404, b'{"errorMessage":"not found"}')
                    api.cond.notify_all()
                self.reply(202, b'{"status":"OK"}')

        self.server, self.port = serve(Handler)

    def release(self) -> None:
        """Lets the next event be handed out (a gated emulator)."""
        with self.cond:
            self.released += 1
            self.cond.notify_all()

    def wait_response(self, i: int, timeout: float) -> None:
        """Waits until event `i` is answered; raises when the process reports an error or
        does not answer within `timeout` seconds."""
        request_id = self.events[i][0]
        deadline = time.monotonic() + timeout
        with self.cond:
            while request_id not in self.responses:
                left = deadline - time.monotonic()
                if self.errors or left <= 0:
                    raise RuntimeError(f"event {i} was not answered ({'; '.join(f'{k}: {v[:300]!r}' for k, v in self.errors) or 'timed out'})")
                self.cond.wait(left)

    def wait_all(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.responses) < len(self.events) and not self.errors:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return not self.errors

    def close(self):
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self.server.shutdown()
        self.server.server_close()
