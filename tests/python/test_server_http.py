"""`helix serve`'s HTTP layer over real sockets and the official openai client: a slow-client
flood that must not stop /health or generation, connection caps, 431/413, CORS, SIGTERM
answering 503 while a stream finishes, a port in use refused and --port 0, any model name
answered by the served model, /v1/models facts checked against gguf-py, and the per-request log.

Everything runs on loopback; the flood comes from 127.0.0.2-9 (and 127.0.0.1 itself) so that the
per-address cap can be seen at work. It runs about 15 s and stops by itself.
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import openai
import pytest

from conftest import ROOT, openai_client, server_log, start_server, stop_server

sys.path.insert(0, str(ROOT / "bench"))
from soak import Flood  # noqa: E402  (the soak benchmark's slow-client flood)

KEY = "http-test-key"
ORIGIN = "http://app.example"


@pytest.fixture(scope="module")
def server(helix_bin, default_model):
    proc, port = start_server(helix_bin, default_model, "--parallel", "2", "--api-key", KEY, "--cors", ORIGIN,
                              "http://other.example", "--log-format", "json", "--max-body", "100000")
    yield proc, port
    stop_server(proc)
    assert proc.returncode == 0


def _request(port, method, path, body=None, headers=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def _health_ms(port):
    t0 = time.time()
    r, _ = _request(port, "GET", "/health", timeout=5)
    assert r.status == 200
    return (time.time() - t0) * 1000


def test_oversized_header_is_431_and_body_413(server):
    _, port = server
    r, data = _request(port, "GET", "/v1/models", headers={"Authorization": f"Bearer {KEY}", "X-Big": "a" * 20000})
    assert r.status == 431
    assert "header" in json.loads(data)["error"]["message"]
    # The limit is known from Content-Length alone: refused before the body is sent.
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n")
    s.settimeout(10)
    head = s.recv(4096).decode()
    s.close()
    assert head.startswith("HTTP/1.1 413") and "--max-body" in head
    # A chunked body is decoded.
    s = socket.create_connection(("127.0.0.1", port))
    body = json.dumps({"content": "Hello world"}).encode()
    s.sendall(b"POST /tokenize HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() +
              b"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
              b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    s.settimeout(30)
    got = b""
    while chunk := s.recv(4096):
        got += chunk
    s.close()
    assert got.startswith(b"HTTP/1.1 200") and b'"tokens"' in got


def test_cors_preflight_without_key_and_headers_on_responses(server):
    _, port = server
    pre = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization, content-type"}
    r, _ = _request(port, "OPTIONS", "/v1/chat/completions", headers=pre)
    assert r.status == 204
    assert r.getheader("Access-Control-Allow-Origin") == ORIGIN
    assert "POST" in r.getheader("Access-Control-Allow-Methods")
    assert "authorization" in r.getheader("Access-Control-Allow-Headers").lower()
    r, data = _request(port, "OPTIONS", "/v1/chat/completions", headers={**pre, "Origin": "http://evil.example"})
    assert r.status == 403 and r.getheader("Access-Control-Allow-Origin") is None
    assert "--cors" in json.loads(data)["error"]["message"]
    r, _ = _request(port, "GET", "/v1/models", headers={"Origin": "http://other.example", "Authorization": f"Bearer {KEY}"})
    assert r.status == 200 and r.getheader("Access-Control-Allow-Origin") == "http://other.example"
    # A wrong key is still refused, and the page can read why.
    r, _ = _request(port, "GET", "/v1/models", headers={"Origin": ORIGIN, "Authorization": "Bearer wrong"})
    assert r.status == 401 and r.getheader("Access-Control-Allow-Origin") == ORIGIN
    r, _ = _request(port, "GET", "/v1/models", headers={"Origin": "http://evil.example", "Authorization": f"Bearer {KEY}"})
    assert r.status == 200 and r.getheader("Access-Control-Allow-Origin") is None


def test_any_model_name_is_served_and_models_lists_facts(server, default_model):
    import llama_cpp
    _, port = server
    client = openai_client(port, KEY)
    card = client.models.list().data[0]
    r = client.chat.completions.create(model="gpt-3.5-turbo", messages=[{"role": "user", "content": "Hi"}],
                                       max_tokens=2, temperature=0)
    assert r.model == card.id and r.usage.completion_tokens > 0
    # The facts, against llama.cpp (llama-cpp-python) loading the same file: its file type 15 is
    # what it calls "Q4_K - Medium" (Q4_K_M in llama-quantize's names).
    ref = llama_cpp.Llama(model_path=default_model, n_ctx=16, verbose=False)
    assert ref.metadata["general.file_type"] == "15" and "Q4_K - Medium" in ref._model.desc()
    assert card.quantization == "Q4_K_M"
    assert card.parameters == ref._model.n_params()
    assert card.meta["n_ctx_train"] == ref._model.n_ctx_train()
    assert card.size_bytes == os.path.getsize(default_model)
    assert card.created == int(os.path.getmtime(default_model))
    assert card.context_length == 1024
    assert card.meta["n_params"] == card.parameters


def test_one_log_line_per_request(server):
    proc, port = server
    client = openai_client(port, KEY)
    r = client.chat.completions.create(model="x", messages=[{"role": "user", "content": "Say hi"}],
                                       max_tokens=3, temperature=0)
    stream = client.completions.create(model="x", prompt="Once upon", max_tokens=3, temperature=0, stream=True,
                                       stream_options={"include_usage": True})
    usage = [c.usage for c in stream if c.usage][0]
    _request(port, "GET", "/health")
    assert _request(port, "GET", "/v1/models", headers={"X-Big": "a" * 20000})[0].status == 431
    time.sleep(0.3)
    lines = [json.loads(l) for l in server_log(proc).splitlines() if l.startswith("{")]
    chat = [l for l in lines if l["route"] == "/v1/chat/completions" and l["status"] == 200]
    comp = [l for l in lines if l["route"] == "/v1/completions" and l["status"] == 200]
    assert chat and comp
    for line, u in ((chat[-1], r.usage), (comp[-1], usage)):
        assert line["prompt_tokens"] == u.prompt_tokens and line["completion_tokens"] == u.completion_tokens
        assert 0 < line["ttft_ms"] <= line["total_ms"]
        assert line["method"] == "POST" and line["client"] == "127.0.0.1" and re.match(r"\d{4}-\d\d-\d\dT", line["time"])
    assert not [l for l in lines if l["route"] == "/health"]  # probes only with --verbose
    assert any(l["status"] == 431 for l in lines)


def test_slow_client_flood_does_not_stop_health_or_generation(helix_bin, default_model):
    proc, port = start_server(helix_bin, default_model, "--parallel", "2", "--max-connections", "200",
                              "--max-connections-per-client", "40", "--request-timeout", "4", "--keep-alive", "2")
    flood = Flood(port, 400, 1.5, ["127.0.0.1"] + [f"127.0.0.{k}" for k in range(2, 10)])
    try:
        flood.thread.start()
        time.sleep(3)
        client = openai_client(port, timeout=60)
        health, generated = [], []

        def generate():
            r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Say yes."}],
                                               max_tokens=4, temperature=0)
            generated.append(r.usage.completion_tokens)

        t_end = time.time() + 10
        gen = threading.Thread(target=generate)
        gen.start()
        while time.time() < t_end:
            health.append(_health_ms(port))
            time.sleep(0.25)
        metrics = _request(port, "GET", "/metrics")[1].decode()  # mid-flood
        gen.join(60)
        assert generated and generated[0] > 0
        assert max(health) < 1000, health
    finally:
        flood.stop.set()
        flood.thread.join(30)
        stop_server(proc)
    value = lambda name: float(re.search(rf"^{name} (\S+)$", metrics, re.M).group(1))
    # The server held no more than its cap; the rest were closed (evicted, timed out) or refused.
    assert flood.closed_by_server > 200
    assert value("helix_http_connections_evicted_total") + value("helix_http_request_timeouts_total") > 0
    assert value("helix_http_connections_open") <= 200


def test_sigterm_answers_503_while_a_stream_finishes(helix_bin, default_model):
    proc, port = start_server(helix_bin, default_model, "--parallel", "1")
    try:
        c = openai_client(port)
        # Long enough to still be running when the requests below arrive.
        stream = c.completions.create(model="m", prompt="Count from 1 to 500: 1, 2, 3,", max_tokens=100,
                                      temperature=0, stream=True)
        first = next(iter(stream))
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        t0 = time.time()
        r, data = _request(port, "GET", "/v1/models", timeout=5)
        assert r.status == 503 and json.loads(data)["error"]["code"] == "shutting_down"
        r, data = _request(port, "POST", "/v1/completions", body=json.dumps({"prompt": "x", "max_tokens": 2}),
                           timeout=5)
        assert r.status == 503
        assert time.time() - t0 < 2
        r, data = _request(port, "GET", "/health", timeout=5)
        assert r.status == 503 and json.loads(data)["status"] == "draining"
        rest = list(stream)
        assert first is not None and rest[-1].choices[0].finish_reason in ("length", "stop")
        assert len(rest) > 20
        proc.wait(timeout=60)
        assert proc.returncode == 0
    finally:
        stop_server(proc)


def test_port_in_use_is_refused_and_port_zero_prints_the_port(helix_bin, default_model):
    proc, port = start_server(helix_bin, default_model)
    try:
        second = subprocess.run([helix_bin, "serve", "-m", default_model, "--port", str(port), "-c", "256"],
                                capture_output=True, timeout=120)
        assert second.returncode != 0
        assert "already in use" in second.stderr.decode()
        assert _health_ms(port) < 1000
    finally:
        stop_server(proc)
    p = subprocess.Popen([helix_bin, "serve", "-m", default_model, "--port", "0", "-c", "256"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        deadline = time.time() + 120
        while time.time() < deadline and "listening on" not in line:
            line = p.stderr.readline()
            assert line or p.poll() is None
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        assert m and int(m.group(1)) > 0
        assert _health_ms(int(m.group(1))) < 1000
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
