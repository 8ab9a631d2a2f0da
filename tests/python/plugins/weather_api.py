"""A small weather service with its OpenAPI 3 document, on Python's http.server, for
tests/python/test_plugins.py. Usage: weather_api.py PORT [OTHER_HOST [BIND]].

Every route but /openapi.json needs the header X-API-Key equal to $WEATHER_KEY (401 otherwise).
GET /forecast/{city}?days=N&units=metric|imperial  -> a deterministic forecast
GET /echo_key        -> a reply that contains the key (Helix must redact it)
GET /huge            -> 200 kB (over a small response limit)
GET /hang            -> answers after 30 s (over a short timeout)
POST /alerts         -> a write operation (allowed only with permissions.write)
With OTHER_HOST the document's server URL names that host instead (allowed-hosts test); BIND is
the address to listen on (default 127.0.0.1)."""
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PORT = int(sys.argv[1])
HOST = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
BIND = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
KEY = os.environ.get("WEATHER_KEY", "")

DOC = {
    "openapi": "3.1.0",
    "info": {"title": "Weather", "version": "1.0"},
    "servers": [{"url": f"http://{HOST}:{PORT}"}],
    "components": {"schemas": {"Units": {"type": "string", "enum": ["metric", "imperial"]}}},
    "paths": {
        "/forecast/{city}": {"get": {
            "operationId": "get_forecast", "summary": "Weather forecast for a city",
            "parameters": [
                {"name": "city", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "days", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 7}},
                {"name": "units", "in": "query", "schema": {"$ref": "#/components/schemas/Units"}}]}},
        "/echo_key": {"get": {"operationId": "echo_key", "summary": "Echo the key"}},
        "/huge": {"get": {"operationId": "huge", "summary": "A very large answer"}},
        "/hang": {"get": {"operationId": "hang", "summary": "Never answers in time"}},
        "/alerts": {"post": {"operationId": "post_alert", "summary": "Raise a weather alert",
                             "requestBody": {"required": True, "content": {"application/json": {"schema": {
                                 "type": "object", "properties": {"city": {"type": "string"}, "text": {"type": "string"}},
                                 "required": ["city", "text"]}}}}}},
    },
}


def forecast(city, days, units):
    out = []
    for d in range(days):
        c = (sum(map(ord, city)) + 3 * d) % 30
        out.append({"day": d + 1, "temperature": c if units == "metric" else c * 9 / 5 + 32,
                    "sky": ["sunny", "cloudy", "rain"][(len(city) + d) % 3]})
    return {"city": city, "units": units, "days": out}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        if self.headers.get("X-API-Key") == KEY:
            return True
        self.send(401, {"detail": "missing or wrong X-API-Key"})
        return False

    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        if u.path == "/openapi.json":
            return self.send(200, DOC)
        if not self.authorized():
            return
        if u.path.startswith("/forecast/"):
            from urllib.parse import unquote
            return self.send(200, forecast(unquote(u.path[len("/forecast/"):]), int(q.get("days", ["1"])[0]),
                                           q.get("units", ["metric"])[0]))
        if u.path == "/echo_key":
            return self.send(200, {"you_sent": self.headers.get("X-API-Key")})
        if u.path == "/huge":
            return self.send(200, {"data": "x" * 200000})
        if u.path == "/hang":
            time.sleep(30)
            return self.send(200, {})
        self.send(404, {"detail": "no such route"})

    def do_POST(self):
        if not self.authorized():
            return
        n = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(n) or b"{}")
        self.send(200, {"raised": body})


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer((BIND, PORT), Handler).serve_forever()
