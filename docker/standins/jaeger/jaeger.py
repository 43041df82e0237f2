"""A stand-in for Jaeger's OTLP/HTTP receiver and query API, for tests.

Decodes the OTLP protobuf itself (the few fields the query API shows), keeps
at most MAX_SPANS spans, and answers in the shape of Jaeger's /api/ JSON.
"""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

# Enough for any test run; the oldest spans go first beyond it.
MAX_SPANS = 100_000
# An OTLP export from a Bookinfo service is a few kB.
MAX_BODY = 4 << 20

spans = []  # (trace_id, span_id, name, service)
lock = threading.Lock()


def fields(data):
    """(field number, wire type, value) of one protobuf message."""
    at = 0
    while at < len(data):
        key, at = varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = varint(data, at)
        elif wire == 1:
            value, at = data[at:at + 8], at + 8
        elif wire == 2:
            size, at = varint(data, at)
            value, at = data[at:at + size], at + size
        elif wire == 5:
            value, at = data[at:at + 4], at + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield number, wire, value


def varint(data, at):
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def sub(message, number):
    return [v for n, w, v in fields(message) if n == number and w == 2]


def service_name(resource):
    for attribute in sub(resource, 1):
        key = sub(attribute, 1)
        if key and key[0] == b"service.name":
            for value in sub(attribute, 2):
                for text in sub(value, 1):
                    return text.decode()
    return "unknown"


def receive(body):
    """ExportTraceServiceRequest: resource_spans(1) > resource(1), scope_spans(2) > spans(2)."""
    got = []
    for resource_spans in sub(body, 1):
        resources = sub(resource_spans, 1)
        service = service_name(resources[0]) if resources else "unknown"
        for scope_spans in sub(resource_spans, 2):
            for span in sub(scope_spans, 2):
                one = {n: v for n, w, v in fields(span) if w == 2}
                got.append((one.get(1, b"").hex(), one.get(2, b"").hex(), one.get(5, b"").decode(), service))
    with lock:
        spans.extend(got)
        del spans[:-MAX_SPANS]


def traces_of(service):
    with lock:
        ids = {s[0] for s in spans if s[3] == service}
        chosen = [s for s in spans if s[0] in ids]
    traces = {}
    for trace_id, span_id, name, svc in chosen:
        trace = traces.setdefault(trace_id, {"traceID": trace_id, "spans": [], "processes": {}})
        process = next((p for p, v in trace["processes"].items() if v["serviceName"] == svc), None)
        if process is None:
            process = f"p{len(trace['processes']) + 1}"
            trace["processes"][process] = {"serviceName": svc}
        trace["spans"].append({"traceID": trace_id, "spanID": span_id, "operationName": name, "processID": process})
    return list(traces.values())


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body, kind="application/json"):
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        size = int(self.headers.get("content-length") or 0)
        if self.path != "/v1/traces" or not 0 < size <= MAX_BODY:
            return self.reply(400, b'{"error":"POST /v1/traces with a protobuf body"}')
        try:
            receive(self.rfile.read(size))
        except (ValueError, IndexError, UnicodeDecodeError):
            return self.reply(400, b'{"error":"not an OTLP protobuf request"}')
        self.reply(200, b"", "application/x-protobuf")

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/api/services":
            with lock:
                names = sorted({s[3] for s in spans})
            return self.reply(200, json.dumps({"data": names}).encode())
        if url.path == "/api/traces":
            service = parse_qs(url.query).get("service", [""])[0]
            return self.reply(200, json.dumps({"data": traces_of(service)}).encode())
        self.reply(404, b'{"error":"not found"}')

    def log_message(self, *args):
        pass


host = os.environ.get("JAEGER_LISTEN_HOST", "0.0.0.0")
for port in (4318, 16686):
    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
threading.Event().wait()
