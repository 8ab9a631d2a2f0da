"""`helix serve` against the official openai Python client (and raw HTTP for the SSE framing).

Starts the server on a free loopback port with the default model and checks chat, completions,
streaming, usage, errors as the client's own exception types, concurrent streams that match
answers served alone, a client killed mid-stream, 429 when full, and SIGTERM draining.
Generation lengths are kept short: the machines that run this are slow.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import time

import openai
import pytest

from conftest import openai_client, run_concurrently, start_server, stop_server

KEY = "test-key-123"


@pytest.fixture(scope="module")
def server(helix_bin, default_model):
    proc, port = start_server(helix_bin, default_model, "--parallel", "8", "--api-key", KEY)
    yield port
    stop_server(proc)
    assert proc.returncode == 0


@pytest.fixture(scope="module")
def client(server):
    return openai_client(server, KEY)


@pytest.fixture(scope="module")
def model_id(client):
    models = client.models.list().data
    assert len(models) == 1
    return models[0].id


def _chat(client, model_id, text, n=8, **kw):
    return client.chat.completions.create(model=model_id, messages=[{"role": "user", "content": text}],
                                          max_tokens=n, temperature=0, **kw)


def _stream_text(client, model_id, text, n=8):
    parts, finish = [], None
    for chunk in client.chat.completions.create(model=model_id, messages=[{"role": "user", "content": text}],
                                                max_tokens=n, temperature=0, stream=True):
        for c in chunk.choices:
            if c.delta.content:
                parts.append(c.delta.content)
            if c.finish_reason:
                finish = c.finish_reason
    return "".join(parts), finish


def test_chat_non_stream_has_usage(client, model_id):
    r = _chat(client, model_id, "What is the capital of France?")
    assert r.object == "chat.completion"
    assert r.choices[0].message.role == "assistant"
    assert isinstance(r.choices[0].message.content, str) and r.choices[0].message.content
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 5
    assert 0 < r.usage.completion_tokens <= 8
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_chat_stream_matches_non_stream_and_reports_usage(client, model_id):
    whole = _chat(client, model_id, "Name a colour.").choices[0].message.content
    chunks = list(client.chat.completions.create(
        model=model_id, messages=[{"role": "user", "content": "Name a colour."}], max_tokens=8, temperature=0,
        stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    # The repeated prompt was served from the prefix cache.
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens > 0


def test_completions_and_logprobs(client, model_id):
    r = client.completions.create(model=model_id, prompt="The sky is", max_tokens=5, temperature=0, logprobs=2)
    assert r.object == "text_completion"
    assert r.usage.completion_tokens > 0
    lp = r.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs)
    assert all(x <= 0 for x in lp.token_logprobs)
    streamed = "".join(c.choices[0].text for c in client.completions.create(
        model=model_id, prompt="The sky is", max_tokens=5, temperature=0, stream=True) if c.choices)
    assert streamed == r.choices[0].text
    c = _chat(client, model_id, "Hi", n=3, logprobs=True, top_logprobs=2)
    content = c.choices[0].logprobs.content
    assert content and len(content[0].top_logprobs) == 2


def test_errors_are_openai_exceptions(client, model_id, server):
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=model_id, messages=[{"role": "user", "content": "x"}], temperature="hot")
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=model_id, prompt="word " * 2000, max_tokens=1)
    assert "1024" in str(e.value) and "context" in str(e.value)
    # Another model name is answered by the one model served (as llama-server does).
    assert _chat(client, "gpt-4o-mini", "x", n=1).model == model_id
    bad = openai_client(server, "wrong")
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    # Malformed JSON, sent raw.
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
    conn.request("POST", "/v1/chat/completions", body="{not json",
                 headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    r = conn.getresponse()
    body = json.loads(r.read())
    assert r.status == 400
    assert set(body["error"]) == {"message", "type", "param", "code"}


def test_raw_sse_framing(server, model_id):
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=120)
    conn.request("POST", "/v1/chat/completions", body=json.dumps({
        "model": model_id, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4,
        "temperature": 0, "stream": True}), headers={"Authorization": f"Bearer {KEY}"})
    r = conn.getresponse()
    assert r.status == 200
    assert r.getheader("Content-Type").startswith("text/event-stream")
    raw = r.read().decode()
    assert raw.endswith("data: [DONE]\n\n")
    events = raw.split("\n\n")[:-1]
    assert all(e.startswith("data: ") for e in events)
    for e in events[:-1]:
        j = json.loads(e[len("data: "):])
        assert j["object"] == "chat.completion.chunk" and "delta" in j["choices"][0]


def _stream_sampled(client, model_id, text, n, seed):
    parts = []
    for chunk in client.chat.completions.create(model=model_id, messages=[{"role": "user", "content": text}],
                                                max_tokens=n, temperature=0.9, seed=seed, stream=True):
        for c in chunk.choices:
            parts.append(c.delta.content or "")
    return "".join(parts)


def test_concurrent_streams_match_alone(client, model_id):
    """16 concurrent streams (8 slots: the rest queue) give exactly the answers each gets alone,
    greedy and seeded sampling alike."""
    jobs = [(f"Count from {i} to {i + 3}.", None) for i in range(8)] + \
           [(f"Name a color number {i}.", 1000 + i) for i in range(8)]

    def one(job):
        text, seed = job
        return _stream_text(client, model_id, text, 6) if seed is None else _stream_sampled(client, model_id, text, 6, seed)

    alone = [one(j) for j in jobs]
    assert run_concurrently(one, jobs) == alone


def test_long_prompts_concurrent_match_alone(client, model_id):
    """Streams past 256 tokens of context (where decode attention splits its keys across threads
    when a stream runs alone) give the same tokens and the same logprobs, to the bit, concurrently
    as alone."""
    story = ("The lighthouse keeper climbed the stairs every evening, counted the steps, trimmed "
             "the wick and watched the ships pass the rocks in the bay. ") * 12
    jobs = [f"Question {i}: summarize this story in one line.\n\n{story}" for i in range(4)]

    def one(text):
        r = client.chat.completions.create(model=model_id, messages=[{"role": "user", "content": text}],
                                           max_tokens=8, temperature=0, logprobs=True, top_logprobs=3)
        lp = r.choices[0].logprobs.content
        return r.choices[0].message.content, [(t.token, t.logprob, [(a.token, a.logprob) for a in t.top_logprobs]) for t in lp]

    alone = [one(j) for j in jobs]
    assert run_concurrently(one, jobs) == alone


def test_oversized_body_is_413_and_server_keeps_serving(server, client, model_id):
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=60)
    big = json.dumps({"model": model_id, "prompt": "x" * (9 << 20)})
    try:
        conn.request("POST", "/v1/completions", body=big,
                     headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
        r = conn.getresponse()
        assert r.status == 413
        assert "too large" in json.loads(r.read())["error"]["message"]
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close the connection before the whole body is sent
    assert _chat(client, model_id, "Say yes.", n=2).choices[0].message.content is not None


def test_slow_client_does_not_stall_others(server, client, model_id):
    """A client that reads its stream very slowly keeps its slot; others are served meanwhile."""
    s = socket.create_connection(("127.0.0.1", server))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    body = json.dumps({"model": model_id, "messages": [{"role": "user", "content": "Tell a long story."}],
                       "max_tokens": 64, "temperature": 0, "stream": True})
    s.sendall((f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode())
    got = s.recv(64)
    t0 = time.time()
    assert _chat(client, model_id, "Say yes.", n=3).choices[0].message.content is not None
    assert time.time() - t0 < 120
    # The slow reader still gets a complete stream.
    s.settimeout(120)
    while not got.rstrip().endswith(b"data: [DONE]") and b"0\r\n\r\n" not in got[-16:]:
        time.sleep(0.01)
        chunk = s.recv(256)
        if not chunk:
            break
        got += chunk
    s.close()
    assert b"data: [DONE]" in got


def test_client_killed_mid_stream(server, client, model_id):
    s = socket.create_connection(("127.0.0.1", server))
    body = json.dumps({"model": model_id, "messages": [{"role": "user", "content": "Tell a long story."}],
                       "max_tokens": 200, "stream": True})
    s.sendall((f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode())
    got = b""
    while b"data:" not in got:
        got += s.recv(4096)
    s.close()
    assert _chat(client, model_id, "Say yes.", n=3).choices[0].message.content is not None
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
    conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {KEY}"})
    metrics = conn.getresponse().read().decode()
    assert "helix_prefix_cache_hits_total" in metrics and "helix_running" in metrics
    # latency histograms: cumulative buckets ending in +Inf == count, a sum, some observations
    for name in ("helix_time_to_first_token_seconds", "helix_time_per_output_token_seconds",
                 "helix_request_duration_seconds", "helix_engine_step_seconds"):
        assert f"# TYPE {name} histogram" in metrics
        buckets = [(line.split('le="')[1].split('"')[0], float(line.rsplit(" ", 1)[1]))
                   for line in metrics.splitlines() if line.startswith(name + "_bucket")]
        counts = [c for _, c in buckets]
        assert buckets[-1][0] == "+Inf" and counts == sorted(counts), name
        count = float(next(l for l in metrics.splitlines() if l.startswith(name + "_count ")).split()[1])
        total = float(next(l for l in metrics.splitlines() if l.startswith(name + "_sum ")).split()[1])
        assert counts[-1] == count > 0 and total > 0, name


def test_busy_is_429_and_sigterm_drains(helix_bin, default_model):
    proc, port = start_server(helix_bin, default_model, "--parallel", "1", "--queue", "0")
    try:
        c = openai_client(port)
        mid = c.models.list().data[0].id
        stream = c.completions.create(model=mid, prompt="Once upon a time", max_tokens=24, temperature=0,
                                      stream=True)
        first = next(iter(stream))
        with pytest.raises(openai.RateLimitError):
            c.completions.create(model=mid, prompt="x", max_tokens=2)
        proc.send_signal(signal.SIGTERM)
        rest = list(stream)
        assert rest and rest[-1].choices[0].finish_reason == "length"
        assert first is not None
        proc.wait(timeout=60)
        assert proc.returncode == 0
    finally:
        stop_server(proc)
