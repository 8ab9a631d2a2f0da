#!/usr/bin/env python3
"""Soak test of `helix serve` (issue 18): N minutes of mixed load on 127.0.0.1.

Client threads send, at random: chat and completions, streamed and not, n=2, stop strings,
logprobs, embeddings, structured output (checked against its schema with jsonschema), streams
the client drops after the first chunk, wrong API keys and bad requests (max_tokens 0). In the
middle a slow-client flood (sockets from 127.0.0.2-9 that send one header line every 5 s) runs
for a while. Recorded: counts per kind and status, latency percentiles, /health latency
(polled every second), resident memory of the server every 15 s, and whether /metrics agrees
with what the client counted. Prints a table; writes JSON, a markdown table and a memory chart
(PNG) under --out (bench/results by default).

Errors that are not the client's fault: a 5xx, a 429, a connection the server dropped, a reply
that breaks its schema, or any status other than the one the kind expects (dropped streams,
wrong keys and bad requests are the client's). Pass: none of those, /health always < 1 s, no
request over 120 s.

  python3 bench/soak.py --minutes 10
  python3 bench/soak.py --minutes 1 --flood 200 --flood-seconds 15 --workers 4   # the CI size
"""
import argparse
import datetime
import http.client
import json
import os
import pathlib
import random
import re
import select
import socket
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
KEY = "soak-key"
SCHEMA = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20},
                                           "age": {"type": "integer", "minimum": 0, "maximum": 150}},
          "required": ["name", "age"]}
PROMPTS = ["Tell me about the sea.", "Write a haiku about rain.", "What is 12 times 7?", "List three colours.",
           "Explain what a CPU does.", "Say hello in French.", "Describe a cat in one sentence."]

# kind -> (weight, statuses that are right for it)
KINDS = {
    "chat": (14, {200}), "chat_stream": (14, {200}), "completion": (8, {200}), "completion_stream": (8, {200}),
    "n2": (5, {200}), "stop": (6, {200}), "logprobs": (6, {200}), "embeddings": (8, {200}),
    "structured": (6, {200}), "disconnect": (8, {"dropped"}), "wrong_key": (5, {401}), "bad_request": (4, {400}),
}
CLIENT_FAULT = {"disconnect", "wrong_key", "bad_request"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Client:
    def __init__(self, port):
        self.port = port
        self.lock = threading.Lock()
        self.results = []  # (kind, status, seconds, sequences accepted, embedding inputs)
        self.http_requests = 0

    def request(self, method, path, body=None, key=KEY, stream=False, drop=False, timeout=300):
        """(status, body bytes or list of SSE data lines); 'dropped' when the client hangs up."""
        with self.lock:
            self.http_requests += 1
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            r = c.getresponse()
            if not stream or r.status != 200:
                return r.status, r.read()
            events = []
            for line in r:
                line = line.strip()
                if line.startswith(b"data: "):
                    events.append(line[6:])
                    if drop:
                        return "dropped", events
                    if line == b"data: [DONE]":
                        break
            return r.status, events
        finally:
            c.close()

    def one(self, kind, rng):
        prompt = rng.choice(PROMPTS)
        mt = rng.randint(4, 24)
        chat = {"model": "any", "messages": [{"role": "user", "content": prompt}], "max_tokens": mt,
                "temperature": rng.choice([0, 0.7])}
        comp = {"model": "any", "prompt": prompt, "max_tokens": mt, "temperature": 0.7}
        seqs, inputs, path, body, kw = 1, 0, "/v1/chat/completions", chat, {}
        if kind == "chat_stream":
            kw = {"stream": True}
            chat["stream"] = True
        elif kind in ("completion", "completion_stream", "stop"):
            path, body = "/v1/completions", comp
            if kind == "completion_stream":
                comp["stream"], kw = True, {"stream": True}
            if kind == "stop":
                comp["stop"] = [".", "\n"]
        elif kind == "n2":
            chat["n"], seqs = 2, 2
        elif kind == "logprobs":
            chat.update(logprobs=True, top_logprobs=3)
        elif kind == "embeddings":
            path, body, seqs = "/v1/embeddings", {"input": rng.sample(PROMPTS, 3)}, 0
            inputs = 3
        elif kind == "structured":
            chat["messages"][0]["content"] = "Give a person's name and age as JSON."
            chat["max_tokens"] = 48
            chat["response_format"] = {"type": "json_schema", "json_schema": {"name": "p", "schema": SCHEMA}}
        elif kind == "disconnect":
            chat.update(stream=True, max_tokens=64)
            kw = {"stream": True, "drop": True}
        elif kind == "wrong_key":
            kw, seqs = {"key": "wrong-" + str(rng.random())}, 0
        elif kind == "bad_request":
            chat["max_tokens"], seqs = 0, 0
        t0 = time.time()
        try:
            status, data = self.request("POST", path, body, **kw)
        except (OSError, http.client.HTTPException) as e:
            status, data = f"conn:{type(e).__name__}", b""
        dt = time.time() - t0
        if kind == "structured" and status == 200:
            status = self.check_structured(data)
        accepted = seqs if status in (200, "dropped") else 0
        with self.lock:
            self.results.append((kind, status, dt, accepted, inputs if status == 200 else 0))

    @staticmethod
    def check_structured(data):
        import jsonschema
        choice = json.loads(data)["choices"][0]
        if choice["finish_reason"] != "stop":
            return 200  # cut by max_tokens: not expected to parse
        try:
            jsonschema.validate(json.loads(choice["message"]["content"]), SCHEMA)
            return 200
        except (ValueError, jsonschema.ValidationError):
            return "schema_broken"


class Flood:
    """n slow clients that each send a request line, then one header line every `every` s, and
    come back (at the next tick) when the server closes them; from several loopback addresses
    (127.0.0.2-9 unless told). Also used by tests/python/test_server_http.py."""

    def __init__(self, port, n, every=5.0, sources=None):
        self.port, self.n, self.every = port, n, every
        self.sources = sources or [f"127.0.0.{k}" for k in range(2, 10)]
        self.stop = threading.Event()
        self.closed_by_server = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def connect(self, i):
        s = socket.socket()
        s.bind((self.sources[i % len(self.sources)], 0))
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", self.port))
        except BlockingIOError:
            pass
        return [s, b"POST /v1/chat/completions HTTP/1.1\r\n"]

    def run(self):
        socks, next_send = [None] * self.n, 0.0
        while not self.stop.is_set():
            if time.time() >= next_send:
                for i, e in enumerate(socks):
                    if e is None:
                        try:
                            e = socks[i] = self.connect(i)
                        except OSError:
                            continue
                    try:
                        e[0].send(e[1])
                        e[1] = b"X-Slow: %d\r\n" % i
                    except OSError:
                        pass
                next_send = time.time() + self.every
            live = {e[0].fileno(): (i, e[0]) for i, e in enumerate(socks) if e is not None}
            poller = select.poll()  # any number of descriptors (select() stops at 1024)
            for fd in live:
                poller.register(fd, select.POLLIN)
            for fd, _ in poller.poll(200):
                i, s = live[fd]
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:  # closed (or answered and closed) by the server
                    s.close()
                    self.closed_by_server += 1
                    socks[i] = None
        for e in socks:
            if e is not None:
                e[0].close()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def metric(text, name):
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else float("nan")


def start(args, port):
    log = open(os.path.join(args.out, "soak-server.log"), "w")
    cmd = [args.bin, "serve", "-m", args.model, "--port", str(port), "-c", str(args.ctx), "--parallel",
           str(args.parallel), "--embeddings", "--api-key", KEY]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(600):
        if proc.poll() is not None:
            sys.exit(f"helix serve exited ({proc.returncode}); see {log.name}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return proc  # this /health is one HTTP request the server counted
        except OSError:
            time.sleep(0.2)
    proc.kill()
    sys.exit("helix serve did not come up")


def run(args):
    os.makedirs(args.out, exist_ok=True)
    port = free_port()
    proc = start(args, port)
    client = Client(port)
    client.http_requests = 1  # the /health that found the server up
    t_start = time.time()
    t_end = t_start + args.minutes * 60
    flood_at = t_start + args.minutes * 30 - args.flood_seconds / 2
    stop = threading.Event()
    health, memory = [], [(0.0, rss_mb(proc.pid))]
    flood = Flood(port, args.flood)
    flood_window = [None, None]

    def worker(seed):
        rng = random.Random(seed)
        kinds, weights = list(KINDS), [w for w, _ in KINDS.values()]
        while time.time() < t_end:
            client.one(rng.choices(kinds, weights)[0], rng)

    def monitor():
        next_mem = time.time() + args.mem_every
        while not stop.is_set():
            t0 = time.time()
            try:
                status, _ = client.request("GET", "/health", timeout=30)
            except OSError:
                status = "conn"
            health.append((t0 - t_start, time.time() - t0, status))
            if time.time() >= next_mem:
                memory.append((time.time() - t_start, rss_mb(proc.pid)))
                next_mem += args.mem_every
            if args.flood and flood_window[0] is None and time.time() >= flood_at:
                flood_window[0] = time.time() - t_start
                flood.thread.start()
            if flood_window[0] is not None and flood_window[1] is None and \
                    time.time() - t_start >= flood_window[0] + args.flood_seconds:
                flood.stop.set()
                flood_window[1] = time.time() - t_start
            time.sleep(max(0.0, 1.0 - (time.time() - t0)))

    mon = threading.Thread(target=monitor, daemon=True)
    mon.start()
    workers = [threading.Thread(target=worker, args=(k,)) for k in range(args.workers)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    flood.stop.set()
    mon.join(10)
    time.sleep(1)
    memory.append((time.time() - t_start, rss_mb(proc.pid)))
    _, metrics = client.request("GET", "/metrics")
    metrics = metrics.decode()
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
    return summarize(args, client, health, memory, metrics, flood, flood_window)


def summarize(args, client, health, memory, metrics, flood, window):
    rows, bad = [], []
    for kind, (_, ok) in KINDS.items():
        rs = [r for r in client.results if r[0] == kind]
        statuses = {}
        for r in rs:
            statuses[str(r[1])] = statuses.get(str(r[1]), 0) + 1
            if r[1] not in ok:
                bad.append((kind, r[1]))
        lat = [r[2] for r in rs]
        rows.append({"kind": kind, "n": len(rs), "statuses": statuses, "p50": pct(lat, 50), "p95": pct(lat, 95),
                     "p99": pct(lat, 99), "max": max(lat) if lat else float("nan")})
    hl = [h[1] for h in health]
    seqs = sum(r[3] for r in client.results)
    inputs = sum(r[4] for r in client.results)
    agree = {
        "generation sequences": (seqs, metric(metrics, "helix_requests_total")),
        "embedding inputs": (inputs, metric(metrics, "helix_embedding_inputs_total")),
        "HTTP requests": (client.http_requests, metric(metrics, "helix_http_requests_total")),
    }
    warm = [m for t, m in memory if t >= args.minutes * 60 * 0.25]
    out = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "minutes": args.minutes, "workers": args.workers, "parallel": args.parallel, "ctx": args.ctx,
        "flood": args.flood, "flood_window_s": window, "flood_closed_by_server": flood.closed_by_server,
        "rows": rows, "requests": len(client.results),
        "errors_not_client": len(bad), "error_examples": [list(map(str, b)) for b in bad[:20]],
        "max_latency_s": max((r[2] for r in client.results), default=0),
        "health": {"n": len(hl), "p50": pct(hl, 50), "p99": pct(hl, 99), "max": max(hl, default=0),
                   "not_200": sum(1 for h in health if h[2] != 200)},
        "memory_mb": memory, "memory_growth_after_warmup_mb": (warm[-1] - warm[0]) if len(warm) > 1 else 0,
        "metrics_agree": {k: {"client": a, "server": b, "equal": a == b} for k, (a, b) in agree.items()},
    }
    out["pass"] = (out["errors_not_client"] == 0 and out["health"]["max"] < 1.0 and out["health"]["not_200"] == 0
                   and out["max_latency_s"] < 120)
    report(out, args)
    return out


def report(out, args):
    lines = [f"helix serve soak, {out['minutes']} min, {out['workers']} clients, --parallel {out['parallel']}, "
             f"-c {out['ctx']}, flood {out['flood']} sockets at {out['flood_window_s']} s ({out['date']})", "",
             "| kind | requests | statuses | p50 s | p95 s | p99 s | max s |", "|---|---:|---|---:|---:|---:|---:|"]
    for r in out["rows"]:
        st = ", ".join(f"{k}: {v}" for k, v in sorted(r["statuses"].items()))
        lines.append(f"| {r['kind']} | {r['n']} | {st} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} | "
                     f"{r['max']:.2f} |")
    h, mem = out["health"], out["memory_mb"]
    lines += ["", f"errors that are not the client's fault: {out['errors_not_client']} {out['error_examples'][:5]}",
              f"longest request: {out['max_latency_s']:.1f} s",
              f"/health: {h['n']} polls, p50 {h['p50'] * 1000:.0f} ms, p99 {h['p99'] * 1000:.0f} ms, "
              f"max {h['max'] * 1000:.0f} ms, not 200: {h['not_200']}",
              f"resident memory: start {mem[0][1]:.0f} MB, max {max(m for _, m in mem):.0f} MB, end {mem[-1][1]:.0f} MB; "
              f"growth after warm-up (first quarter) {out['memory_growth_after_warmup_mb']:+.0f} MB",
              f"flood sockets closed by the server: {out['flood_closed_by_server']}",
              "/metrics vs client: " + "; ".join(f"{k} {v['client']} vs {v['server']:.0f}"
                                                  f"{'' if v['equal'] else ' (DIFFERENT)'}"
                                                  for k, v in out["metrics_agree"].items()),
              f"PASS: {out['pass']}"]
    text = "\n".join(lines)
    print(text)
    stem = os.path.join(args.out, f"soak-{args.minutes:g}min")
    with open(stem + ".md", "w") as f:
        f.write(text + "\n")
    with open(stem + ".json", "w") as f:
        json.dump(out, f, indent=1)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.plot([t / 60 for t, _ in mem], [m for _, m in mem], marker="o")
        if out["flood_window_s"][0] is not None:
            end = out["flood_window_s"][1] or out["flood_window_s"][0]
            ax.axvspan(out["flood_window_s"][0] / 60, end / 60, alpha=0.2, color="red", label="slow-client flood")
            ax.legend()
        ax.set_xlabel("minutes")
        ax.set_ylabel("resident memory (MB)")
        ax.set_ylim(bottom=0)
        ax.set_title(f"helix serve soak: resident memory every {args.mem_every:g} s")
        fig.tight_layout()
        fig.savefig(stem + ".png", dpi=100)
    except ImportError:
        print("matplotlib missing: no chart")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--workers", type=int, default=8, help="client threads sending requests back to back")
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--flood", type=int, default=2000, help="slow-client sockets in the middle of the run")
    ap.add_argument("--flood-seconds", type=float, default=60)
    ap.add_argument("--mem-every", type=float, default=15)
    ap.add_argument("--bin", default=os.environ.get("HELIX_BIN", str(ROOT / "build" / "helix")))
    ap.add_argument("--model", default=os.environ.get("HELIX_MODEL", os.path.expanduser(
        "~/.local/share/helix/models/default.gguf")))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args(argv)
    args.flood_seconds = min(args.flood_seconds, args.minutes * 60 / 2)
    return run(args)


if __name__ == "__main__":
    sys.exit(0 if main()["pass"] else 1)
