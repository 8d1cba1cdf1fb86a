#!/usr/bin/python3
"""A stand-in remote API for tests, on loopback (tests/tasks/http_fetch_test.cc).

Usage: http_stub_server.py LOG
Prints "PORT PID" on its first line of output once it listens, then serves until SIGTERM. Each
request's path (query included) is appended to LOG as a line before it is answered. Requests
are counted per path (query excluded); the paths it answers:
  /json              a JSON array of two objects
  /jsonl             the same rows as JSON lines
  /csv               the same rows as CSV
  /fail              500, always
  /flaky             429 with Retry-After: 0 for the first two requests, then /json's body
  /flaky-date        the same, with Retry-After as an HTTP-date in the past
  /hang              reads the request and never answers
  /endless           200, then 64 KiB chunks as fast as it can, forever
  /trickle           200, then one byte every 20 ms, forever
  /large?bytes=N     200 and N bytes of 'x' with a Content-Length
  /echo?header=NAME  200 and the value of request header NAME (404 when it was not sent)
  /redirect?to=URL   302 to URL
"""
import http.server
import os
import sys
import threading
import urllib.parse

ROWS_JSON = b'[{"id": 1, "name": "ada"}, {"id": 2, "name": "grace, \\"amazing\\""}]'
ROWS_JSONL = b'{"id": 1, "name": "ada"}\n{"id": 2, "name": "grace, \\"amazing\\""}\n'
ROWS_CSV = b'id,name\r\n1,ada\r\n2,"grace, ""amazing"""\r\n'

log = open(sys.argv[1], "a", buffering=1)
counts = {}
lock = threading.Lock()
stop = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.0: a body without Content-Length ends when the connection closes.
    protocol_version = "HTTP/1.0"

    def answer(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        with lock:
            counts[url.path] = counts.get(url.path, 0) + 1
            seen = counts[url.path]
            log.write(self.path + "\n")
        try:
            self.route(url.path, query, seen)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as some tests mean it to

    def route(self, path, query, seen):
        if path == "/json":
            self.answer(200, ROWS_JSON, [("Content-Type", "application/json")])
        elif path == "/jsonl":
            self.answer(200, ROWS_JSONL)
        elif path == "/csv":
            self.answer(200, ROWS_CSV, [("Content-Type", "text/csv")])
        elif path == "/fail":
            self.answer(500, b"internal error")
        elif path == "/flaky":
            if seen <= 2:
                self.answer(429, b"slow down", [("Retry-After", "0")])
            else:
                self.answer(200, ROWS_JSON)
        elif path == "/flaky-date":
            if seen <= 2:
                self.answer(429, b"slow down", [("Retry-After", "Thu, 01 Jan 1970 00:00:00 GMT")])
            else:
                self.answer(200, ROWS_JSON)
        elif path == "/hang":
            stop.wait()
        elif path == "/endless":
            self.send_response(200)
            self.end_headers()
            chunk = b"x" * 65536
            while not stop.is_set():
                self.wfile.write(chunk)
        elif path == "/trickle":
            self.send_response(200)
            self.end_headers()
            while not stop.wait(0.02):
                self.wfile.write(b"x")
                self.wfile.flush()
        elif path == "/large":
            self.answer(200, b"x" * int(query["bytes"][0]))
        elif path == "/redirect":
            self.answer(302, b"", [("Location", query["to"][0])])
        elif path == "/echo":
            value = self.headers.get(query["header"][0])
            if value is None:
                self.answer(404, b"not sent")
            else:
                self.answer(200, value.encode())
        else:
            self.answer(404, b"no such path")

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hung up is expected here, not news


server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], os.getpid(), flush=True)
server.serve_forever()
