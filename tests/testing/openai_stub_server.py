#!/usr/bin/python3
"""A stand-in OpenAI-compatible embeddings server for tests, on loopback
(tests/tasks/embedding_test.cc).

Usage: openai_stub_server.py
Prints "PORT PID" on its first line of output once it listens, then serves until SIGTERM. When
WEIR_STUB_API_KEY is set in its environment, POST /v1/embeddings needs
"Authorization: Bearer <that key>" and answers 401 without it.

  POST /v1/embeddings  {"model": M, "input": [texts], "encoding_format": "float", "dimensions"?: D}
                       answers as OpenAI does: {"object": "list", "data": [{"object": "embedding",
                       "index": i, "embedding": [floats]}...], "model": M, "usage": {...}}
  POST /expected       {"input": [texts], "dimensions"?: D}: {"vectors": [[floats]...]}, the raw
                       (not normalised) vectors /v1/embeddings gives for those texts
  GET  /stats          {"requests": n, "max_in_flight": m, "batch_sizes": [...]} for
                       /v1/embeddings since the start or the last reset; a request is in flight
                       from its body read to its answer ready (not sent: see do_POST)
  POST /reset          zeroes the stats and forgets the flaky models' history

A text's vector is a function of the text alone (see vector()): dimension D, or 8 without
"dimensions"; never normalised, never zero. The model name selects a behaviour:
  ok           the vectors, in order
  slow         the same after ~50 ms, so that requests in flight overlap
  shuffled     the vectors with data[] in reverse order (each still carrying its own index)
  flaky-429    429 with Retry-After: 0 on the first request of each distinct body, then ok
  flaky-500    500 on the first two requests of each distinct body, then ok
  always-500   500, always
  bad-request  400 with an OpenAI-style JSON error body
  hang         reads the request and never answers
The faulty models below spoil only a request holding a text that starts with "bad" (so that a
test can check which request an error names) and answer the others as `ok` does:
  wrong-dim    every vector of the request has dimension D + 1
  nan          the "bad" text's vector holds a NaN (written as NaN, as json.dumps does)
  inf          the "bad" text's vector holds Infinity (as json.dumps writes it)
  huge         the "bad" text's vector holds 1e39: finite as a double, too large for a float
  zero         the "bad" text's vector is all zeros
  short        data[] has one item fewer than the input
  dup-index    the last item of data[] carries the first item's index
"""
import hashlib
import http.server
import json
import os
import sys
import threading
import time

DEFAULT_DIM = 8

api_key = os.environ.get("WEIR_STUB_API_KEY") or None
lock = threading.Lock()
stop = threading.Event()
stats = {"requests": 0, "max_in_flight": 0, "batch_sizes": []}
in_flight = 0
seen_bodies = {}  # sha256 of a request body -> how many times it came


def vector(text, dim):
    """Component k is (2 * b - 255) / 128 for a byte b of sha256(text): exact in binary and in
    decimal, never zero. Past 32 components the bytes are reused, XORed with 17 * (k // 32)."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    out = []
    for k in range(dim):
        b = digest[k % 32] ^ ((17 * (k // 32)) & 0xFF)
        out.append((2 * b - 255) / 128)
    return out


def starts_bad(text):
    return isinstance(text, str) and text.startswith("bad")


class Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so that a hung answer holds nothing else up.
    protocol_version = "HTTP/1.0"

    def answer(self, status, body, headers=()):
        content_type = "text/plain"
        if not isinstance(body, bytes):
            body, content_type = json.dumps(body).encode(), "application/json"
        elif body.startswith(b"{"):
            content_type = "application/json"
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_GET(self):
        try:
            if self.path == "/stats":
                with lock:
                    body = json.dumps(stats).encode()
                self.answer(200, body)
            else:
                self.answer(404, {"error": {"message": "no such path"}})
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_POST(self):
        global in_flight
        try:
            raw = self.read_body()
            if self.path == "/reset":
                with lock:
                    stats["requests"] = 0
                    stats["max_in_flight"] = 0
                    stats["batch_sizes"] = []
                    seen_bodies.clear()
                self.answer(200, {})
            elif self.path == "/expected":
                request = json.loads(raw)
                dim = request.get("dimensions") or DEFAULT_DIM
                self.answer(200, {"vectors": [vector(t, dim) for t in request["input"]]})
            elif self.path == "/v1/embeddings":
                with lock:
                    in_flight += 1
                    stats["max_in_flight"] = max(stats["max_in_flight"], in_flight)
                try:
                    status, body, headers = self.embeddings(raw)
                finally:
                    # Out of flight before the answer is sent: once the client has read it, it
                    # may send its next request at once, and that must not count as overlap.
                    with lock:
                        in_flight -= 1
                self.answer(status, body, headers)
            else:
                self.answer(404, {"error": {"message": "no such path"}})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as some tests mean it to

    def embeddings(self, raw):
        """The answer to POST /v1/embeddings: (status, body, headers)."""
        try:
            request = json.loads(raw)
            inputs = request["input"]
            model = request["model"]
        except (ValueError, KeyError, TypeError):
            inputs, model = None, None
        with lock:
            stats["requests"] += 1
            stats["batch_sizes"].append(len(inputs) if isinstance(inputs, list) else -1)
            digest = hashlib.sha256(raw).hexdigest()
            seen_bodies[digest] = seen_bodies.get(digest, 0) + 1
            seen = seen_bodies[digest]
        if api_key is not None and self.headers.get("Authorization") != "Bearer " + api_key:
            return 401, {"error": {"message": "Incorrect API key provided",
                                   "type": "invalid_request_error"}}, ()
        if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
            return 400, {"error": {"message": "'input' must be a list of strings",
                                   "type": "invalid_request_error"}}, ()
        if request.get("encoding_format", "float") != "float":
            return 400, {"error": {"message": "only encoding_format float is served",
                                   "type": "invalid_request_error"}}, ()
        dim = request.get("dimensions") or DEFAULT_DIM

        if model == "hang":
            stop.wait()  # until the process ends
        if model == "slow":
            time.sleep(0.05)
        if model == "always-500" or (model == "flaky-500" and seen <= 2):
            return 500, b"internal error", ()
        if model == "flaky-429" and seen <= 1:
            return 429, {"error": {"message": "Rate limit reached"}}, [("Retry-After", "0")]
        if model == "bad-request":
            return 400, {"error": {"message": "The model 'bad-request' does not exist",
                                   "type": "invalid_request_error"}}, ()

        spoil = model if any(starts_bad(t) for t in inputs) else None
        data = []
        for i, text in enumerate(inputs):
            v = vector(text, dim + 1 if spoil == "wrong-dim" else dim)
            if starts_bad(text):
                if spoil == "nan":
                    v[len(v) // 2] = float("nan")
                elif spoil == "inf":
                    v[len(v) // 2] = float("inf")
                elif spoil == "huge":
                    v[len(v) // 2] = 1e39
                elif spoil == "zero":
                    v = [0.0] * dim
            data.append({"object": "embedding", "index": i, "embedding": v})
        if spoil == "short":
            data.pop()
        if spoil == "dup-index" and len(data) > 1:
            data[-1]["index"] = data[0]["index"]
        if model == "shuffled":
            data.reverse()
        tokens = sum(len(t.split()) for t in inputs)
        return 200, {"object": "list", "data": data, "model": model,
                     "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, ()

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hung up is expected here, not news


server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], os.getpid(), flush=True)
server.serve_forever()
