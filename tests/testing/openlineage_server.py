#!/usr/bin/python3
"""A stand-in OpenLineage server for tests, on loopback: it speaks HTTP as Marquez does.

Usage: openlineage_server.py FAILS LOG
Answers POST /api/v1/lineage with 503 for the first FAILS requests, then 201. Every request is
appended to LOG as one JSON line {"status", "path", "authorization", "body"}. Prints
"PORT PID" on its first line of output, then serves until SIGTERM.
"""
import http.server
import json
import os
import sys

fails = int(sys.argv[1])
log = open(sys.argv[2], "a", buffering=1)
seen = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        seen += 1
        status = 503 if seen <= fails else 201
        log.write(json.dumps({"status": status, "path": self.path,
                              "authorization": self.headers.get("Authorization", ""),
                              "body": body}) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], os.getpid(), flush=True)
server.serve_forever()
