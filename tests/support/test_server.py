#!/usr/bin/env python3
"""A small HTTP server for the tests of http/request and llm/chat (standard library only).

It listens on 127.0.0.1 on a port the system picks, prints "PORT <n>" on its first line of
stdout, and exits when its stdin closes (so it never outlives the test process that started it).

Plain JSON API:
  ANY  /echo                 200, JSON: method, path, query, headers (lower-case names), body, json
  ANY  /status/<code>[/...]  <code>, JSON {"error": "status <code>"}
  GET  /text                 200, text/plain "plain text\\n"
  GET  /slow?ms=N            waits N ms, then 200 {"sleptMs": N}
  GET  /malformed            200, application/json whose body is not JSON
  POST /reply                200, application/json, the request body sent back as it came
  GET  /flaky/<key>?fail=N   429 for the first N requests with that key, then 200 {"attempt": k}
  GET  /recorded/<model>     the last chat request made with that model (404 if none)

Chat completions, POST /v1/chat/completions: the reply is chosen by the last user message.
  contains PLAN-VALID     a plan: two children, the second (shell/run) depending on the first
  contains PLAN-INVALID   a plan whose child names an unregistered service
  contains PLAN-PROSE     prose where a plan (JSON) was asked for
  contains SLOW           waits 10 s first
  contains NO-CHOICES     200 with a body that lacks choices
  otherwise               "You said: <message>"
"""

import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

flaky_counts = {}
recorded_chats = {}
lock = threading.Lock()

VALID_PLAN = {
    "childTasks": [
        {"id": "collect", "service": "core", "command": "echo", "input": {"step": "collect"}},
        {"id": "publish", "service": "shell", "command": "run", "input": {"argv": ["true"]},
         "dependsOn": ["collect"]},
    ],
    "output": {"summary": "collect, then publish"},
}
INVALID_PLAN = {"childTasks": [{"id": "x", "service": "teleport", "command": "now", "input": {}}]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep the test output quiet
        pass

    def send(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else (
            json.dumps(body) if content_type == "application/json" and not isinstance(body, str) else body
        ).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Test-Server", "jobgraph")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a stopped task): nothing to do

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        parts = [p for p in url.path.split("/") if p]
        body = self.read_body()
        if url.path == "/echo":
            try:
                parsed = json.loads(body) if body else None
            except ValueError:
                parsed = None
            self.send(200, {"method": self.command, "path": url.path, "query": query,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body.decode("utf-8", "replace"), "json": parsed})
        elif len(parts) >= 2 and parts[0] == "status":
            self.send(int(parts[1]), {"error": "status " + parts[1]})
        elif url.path == "/text":
            self.send(200, "plain text\n", "text/plain; charset=utf-8")
        elif url.path == "/slow":
            ms = int(query.get("ms", "1000"))
            time.sleep(ms / 1000)
            self.send(200, {"sleptMs": ms})
        elif url.path == "/malformed":
            self.send(200, '{"items": [1, 2,\n  "unterminated}', "application/json")
        elif url.path == "/reply":
            self.send(200, body, "application/json")
        elif len(parts) == 2 and parts[0] == "flaky":
            with lock:
                flaky_counts[parts[1]] = flaky_counts.get(parts[1], 0) + 1
                attempt = flaky_counts[parts[1]]
            if attempt <= int(query.get("fail", "1")):
                self.send(429, {"error": "slow down"})
            else:
                self.send(200, {"attempt": attempt})
        elif len(parts) == 2 and parts[0] == "recorded":
            with lock:
                chat = recorded_chats.get(parts[1])
            self.send(200 if chat else 404, chat or {"error": "no chat with model " + parts[1]})
        elif url.path == "/v1/chat/completions" and self.command == "POST":
            self.chat(json.loads(body))
        else:
            self.send(404, {"error": "no route " + url.path})

    def chat(self, request):
        model = request.get("model", "test-model")
        with lock:
            recorded_chats[model] = {"request": request,
                                     "headers": {k.lower(): v for k, v in self.headers.items()}}
        last = next((m["content"] for m in reversed(request["messages"]) if m["role"] == "user"), "")
        if "SLOW" in last:
            time.sleep(10)
        if "NO-CHOICES" in last:
            self.send(200, {"id": "chat-1", "object": "chat.completion", "model": model})
            return
        if "PLAN-VALID" in last:
            content = json.dumps(VALID_PLAN)
        elif "PLAN-INVALID" in last:
            content = json.dumps(INVALID_PLAN)
        elif "PLAN-PROSE" in last:
            content = "Sure! First collect,\nthen publish."
        else:
            content = "You said: " + last
        self.send(200, {
            "id": "chat-1", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
        })

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("PORT", server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # returns when the test process closes our stdin, or exits
    server.shutdown()


if __name__ == "__main__":
    main()
