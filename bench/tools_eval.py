#!/usr/bin/env python3
"""Tool use with the assistant adapter (issue 16; a benchmark, not a test), through `helix serve` and
the real `openai` client, with tools offered but not forced (tool_choice "auto"), once with the
installed assistant adapter (`serve --lora`) and once without it.

1. Held-out calls: recipes/assistant/data/tools.eval.jsonl (50 conversations in the format the
   adapter's tools stage was trained on, none of them in its training set; the reference is the call
   itself), plus hand-written control questions that need none of the offered tools. Scored:
     calls a tool        the reply has tool_calls (finish_reason "tool_calls")
     right tool          the first call names the reference's function
     arguments valid     the arguments are a JSON object with every required property
     correct             right tool and arguments equal to the reference's (numbers by value, strings
                         case- and space-insensitive)
     no call when none is needed   (control questions) the reply answers in text
2. End to end with Helix's built-in plugins: `"plugins": ["calculator", "datetime"]` (Helix runs the
   tool loop itself), questions with an exact answer: arithmetic (checked with Python's Fraction) and
   the time in a city (HELIX_NOW fixes the clock; checked with zoneinfo). Scored:
     called right        plugin_calls has the right tool and its result is the expected value
     answer has result   the final answer contains the tool's result (the number, or HH:MM)

  HELIX_BIN=build/helix python3 bench/tools_eval.py [--limit N] [--out bench/reports/2026-12-03]
"""
import argparse
import datetime
import json
import os
import pathlib
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from zoneinfo import ZoneInfo

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))
from conftest import start_server, stop_server  # noqa: E402
sys.path.insert(0, str(ROOT / "bench"))
from eval_chart import grouped_bars  # noqa: E402

EVAL = ROOT / "recipes" / "assistant" / "data" / "tools.eval.jsonl"
ADAPTER = pathlib.Path(os.environ.get("XDG_DATA_HOME", pathlib.Path.home() / ".local" / "share")) / "helix" / "adapters" / "assistant.gguf"
NOW = 1796310000  # 2026-12-03T15:00:00Z, the clock of the datetime plugin (HELIX_NOW)

# Questions none of the offered tools is needed for (not in the training data's five).
CONTROLS = ["Say good morning in Spanish.", "What is the plural of 'mouse'? Answer with one word.",
            "Write the word 'sun' in capital letters.", "用一个词回答：“快”的反义词是什么？",
            "Name a colour of the rainbow.", "What is the first letter of the word 'tree'?",
            "Translate 'thank you' into German.", "Is 'apple' a fruit or a vegetable? Answer with one word.",
            "用一个字回答：“上”的反义词是什么？", "Give me a word that rhymes with 'cat'."]
CITIES = [("Tokyo", "Asia/Tokyo"), ("Paris", "Europe/Paris"), ("New York", "America/New_York"),
          ("Sydney", "Australia/Sydney"), ("São Paulo", "America/Sao_Paulo"), ("Cairo", "Africa/Cairo"),
          ("Kolkata", "Asia/Kolkata"), ("Shanghai", "Asia/Shanghai")]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def norm(v):
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float)):
        return Fraction(str(v))
    if isinstance(v, str):
        s = re.sub(r"\s+", "", v).lower()
        try:
            return Fraction(s)
        except (ValueError, ZeroDivisionError):
            return s
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    if isinstance(v, list):
        return [norm(x) for x in v]
    return v


def held_out(limit):
    rows = [json.loads(x) for x in EVAL.read_text().splitlines() if x.strip()]
    items = []
    for r in rows[: limit or None]:
        gold = r["messages"][-1]["tool_calls"][0]["function"]
        items.append({"messages": r["messages"][:-1], "tools": r["tools"], "gold": gold})
    rng = random.Random(7)
    all_tools = {t["function"]["name"]: t for it in items for t in it["tools"]}
    for q in CONTROLS[: (limit // 5 if limit else None)]:
        offered = rng.sample(sorted(all_tools), 2)
        items.append({"messages": [{"role": "user", "content": q}], "tools": [all_tools[n] for n in offered], "gold": None})
    return items


def score_call(item, msg):
    calls = msg.tool_calls or []
    r = {"called": bool(calls), "gold": item["gold"]["name"] if item["gold"] else None,
         "got": [c.function.name for c in calls], "content": msg.content}
    if item["gold"] is None:
        r["no_call_ok"] = not calls and bool((msg.content or "").strip())
        return r
    c = calls[0].function if calls else None
    r["right_tool"] = bool(c) and c.name == item["gold"]["name"]
    args = None
    if c:
        try:
            args = json.loads(c.arguments)
        except ValueError:
            args = None
    spec = next((t["function"] for t in item["tools"] if c and t["function"]["name"] == c.name), None)
    req = spec["parameters"].get("required", []) if spec else []
    r["args_valid"] = isinstance(args, dict) and spec is not None and all(k in args for k in req)
    r["arguments"] = c.arguments if c else None
    r["correct"] = r["right_tool"] and isinstance(args, dict) and norm(args) == norm(item["gold"]["arguments"])
    return r


def plugin_questions(limit):
    rng = random.Random(3)
    qs = []
    forms = ["What is {e}?", "Please compute {e}.", "Calculate {e} exactly.", "请计算 {e}。"]
    for i in range(10):
        a, b, d = rng.randint(100, 9999), rng.randint(100, 9999), rng.randint(2, 99)
        e = rng.choice([f"({a} + {b}) * {d}", f"{a} * {d}", f"{a} - {b}", f"({a} - {b}) * {d}", f"{a} + {b} + {d}"])
        want = eval(e, {"__builtins__": {}})  # integers only: exact
        qs.append({"q": forms[i % len(forms)].format(e=e), "tool": "calculate", "want": str(want)})
    t = datetime.datetime.fromtimestamp(NOW, datetime.timezone.utc)
    for i, (city, tz) in enumerate(CITIES):
        hhmm = t.astimezone(ZoneInfo(tz)).strftime("%H:%M")
        q = f"{city}现在几点？" if i % 4 == 3 else f"What time is it in {city} right now?"
        qs.append({"q": q, "tool": "current_time", "want": hhmm, "timezone": tz})
    return qs[: limit or None]


def plugin_record(q, r):
    """What the reply to a plugin question says: its calls (tool, arguments, ok, result) and its answer."""
    calls = r.model_extra.get("plugin_calls") or []
    return {"q": q["q"], "calls": [[c["tool"], c["arguments"], c["ok"], c["result"]] for c in calls],
            "answer": r.choices[0].message.content or ""}


def tool_value(tool, result):
    """The value a tool's result gives (the calculator's number, current_time's HH:MM), or None."""
    try:
        res = json.loads(result)
    except ValueError:
        return None
    if tool == "calculate" and isinstance(res, dict) and "result" in res:
        return str(res["result"])
    if tool == "current_time" and isinstance(res, dict) and "local_time" in res:
        return res["local_time"][11:16]
    return None


def score_plugin(q, rec):
    """called_right: the right tool gave the expected value; answer_uses_result: the answer holds the value
    its first successful call returned (right or not: the loop answers from the tool); answer_has_expected:
    the answer holds the expected value."""
    plain = rec["answer"].replace(",", "").replace("\u202f", "")
    got = [(tool, tool_value(tool, res)) for tool, _, ok, res in rec["calls"] if ok]
    got = [(t, v) for t, v in got if v is not None]
    right = [v for t, v in got if t == q["tool"] and
             (v == q["want"] if t == "current_time" else Fraction(v) == Fraction(q["want"]))]
    return {"called": bool(rec["calls"]), "called_right": bool(right),
            "answer_uses_result": bool(got) and got[0][1] in plain, "answer_has_expected": q["want"] in plain}


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def share(rows, k):
    rows = [r for r in rows if k in r]
    return sum(bool(r[k]) for r in rows) / len(rows) if rows else 0.0


def run_condition(helix, model, adapter, items, pq, raw, name, ctx):
    import openai
    extra = ["-c", str(ctx)] + (["--lora", str(adapter)] if adapter else [])
    proc, port = start_server(helix, model, *extra)
    c = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", timeout=600)
    t0, c0 = time.time(), children_cpu()
    calls, plugs = [], []
    try:
        for i, it in enumerate(items):
            r = c.chat.completions.create(model="default", messages=it["messages"], tools=it["tools"], tool_choice="auto",
                                          temperature=0, max_tokens=96)
            s = score_call(it, r.choices[0].message)
            s["finish_reason"] = r.choices[0].finish_reason
            calls.append(s)
            raw.write(json.dumps({"condition": name, "part": "calls", **s}, ensure_ascii=False) + "\n")
            raw.flush()
            log(f"[{name}] call {i + 1}/{len(items)} gold {s['gold']} got {s['got']} "
                f"{'correct' if s.get('correct') or s.get('no_call_ok') else 'wrong'}")
        for i, q in enumerate(pq):
            r = c.chat.completions.create(model="default", messages=[{"role": "user", "content": q["q"]}], temperature=0,
                                          max_tokens=64, extra_body={"plugins": ["calculator", "datetime"],
                                                                     "max_plugin_steps": 3})
            rec = plugin_record(q, r)
            plugs.append(rec)
            raw.write(json.dumps({"condition": name, "part": "plugins", **rec}, ensure_ascii=False) + "\n")
            raw.flush()
            s = score_plugin(q, rec)
            log(f"[{name}] plugin {i + 1}/{len(pq)} {q['q']!r}: {rec['calls']}, right {s['called_right']}, "
                f"answer uses it {s['answer_uses_result']}")
    finally:
        stop_server(proc)
    s = summarize(calls, plugs, pq)
    s.update({"wall_s": round(time.time() - t0, 1), "server_cpu_s": round(children_cpu() - c0, 1)})
    return s


def summarize(calls, plugs, pq):
    """calls: score_call records; plugs: plugin_record records, in the order of pq."""
    gold = [s for s in calls if s["gold"]]
    ctrl = [s for s in calls if not s["gold"]]
    by_q = {q["q"]: q for q in pq}
    sc = [(score_plugin(by_q[p["q"]], p), by_q[p["q"]]["tool"]) for p in plugs]
    ps = [x for x, _ in sc]
    return {"held_out": len(gold), "controls": len(ctrl), "plugin_questions": len(plugs),
            "calls_a_tool": share(gold, "called"), "right_tool": share(gold, "right_tool"),
            "args_valid": share(gold, "args_valid"), "correct": share(gold, "correct"),
            "no_call_when_none_needed": share(ctrl, "no_call_ok"),
            "plugin_called": share(ps, "called"), "plugin_called_right": share(ps, "called_right"),
            "plugin_called_right_calc": share([x for x, t in sc if t == "calculate"], "called_right"),
            "plugin_called_right_time": share([x for x, t in sc if t == "current_time"], "called_right"),
            "plugin_answer_uses_result": share(ps, "answer_uses_result"),
            "plugin_answer_has_expected": share(ps, "answer_has_expected")}


ROWS = [("calls_a_tool", "held-out: calls a tool (auto)"), ("right_tool", "held-out: right tool"),
        ("args_valid", "held-out: arguments valid"), ("correct", "held-out: correct call (tool + arguments)"),
        ("no_call_when_none_needed", "controls: answers without a call"),
        ("plugin_called", "plugins: calls a tool (auto)"), ("plugin_called_right", "plugins: right call, right value"),
        ("plugin_called_right_calc", "  calculator questions"), ("plugin_called_right_time", "  time questions"),
        ("plugin_answer_uses_result", "plugins: answer holds its call's result"),
        ("plugin_answer_has_expected", "plugins: answer holds the expected value")]


PART_ROWS = {"calls": {"calls_a_tool", "right_tool", "args_valid", "correct", "no_call_when_none_needed"}}


def write_report(res, out, argv, name="tools_eval"):
    conds = list(res["conditions"])
    first = res["conditions"][conds[0]]
    rows = [(k, lbl) for k, lbl in ROWS  # the parts that ran
            if (first["held_out"] if k in PART_ROWS["calls"] else first["plugin_questions"])]
    lines = ["| metric | " + " | ".join(conds) + " |", "| --- |" + " ---: |" * len(conds)]
    for k, label in rows:
        lines.append(f"| {label} | " + " | ".join(f"{res['conditions'][c][k]:.2f}" for c in conds) + " |")
    lines.append("| wall s / server CPU s | " + " | ".join(
        f"{res['conditions'][c]['wall_s']:.0f} / {res['conditions'][c]['server_cpu_s']:.0f}" for c in conds) + " |")
    table = "\n".join(lines)
    (out / f"{name}.md").write_text(
        f"# Tool calls with tool_choice auto ({first['held_out']} held-out + {first['controls']} controls; "
        f"{first['plugin_questions']} plugin questions)\n\n"
        f"`HELIX_BIN=build/helix python3 bench/tools_eval.py {' '.join(argv)}` at {res['commit']}, {res['date']}. "
        f"Load average at the start: {res['load']}.\n\n{table}\n")
    (out / f"{name}.json").write_text(json.dumps(res, indent=1, ensure_ascii=False))
    grouped_bars(out / f"{name}.svg", "tool calls, tool_choice auto, helix serve + openai client", [lbl for _, lbl in rows],
                 {c: [res["conditions"][c][k] for k, _ in rows] for c in conds}, height=4.4)
    return table


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="first N held-out rows (and N/5 controls, N plugin questions)")
    ap.add_argument("--model", default=str(pathlib.Path.home() / ".local/share/helix/models/default.gguf"))
    ap.add_argument("--adapter", default=str(ADAPTER))
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--conditions", default="adapter,no-adapter")
    ap.add_argument("--parts", default="calls,plugins", help="calls (held-out + controls), plugins, or both")
    ap.add_argument("--out", default=str(ROOT / "bench" / "reports" / "2026-12-03"))
    a = ap.parse_args()
    helix = os.environ.get("HELIX_BIN", str(ROOT / "build" / "helix"))
    conds = a.conditions.split(",")
    if "adapter" in conds and not pathlib.Path(a.adapter).exists():
        sys.exit(f"no adapter at {a.adapter}: make it with helix sft recipes/assistant/recipe.toml --install")
    os.environ["HELIX_NOW"] = str(NOW)
    os.environ["HELIX_PLUGINS_DIR"] = tempfile.mkdtemp(prefix="tools-eval-plugins-")  # built-ins only
    items = held_out(a.limit) if "calls" in a.parts.split(",") else []
    pq = plugin_questions(a.limit) if "plugins" in a.parts.split(",") else []
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    res = {"commit": commit, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "load": " ".join(open("/proc/loadavg").read().split()[:3]), "now": NOW, "conditions": {}}
    with open(out / "tools_eval.replies.jsonl", "w", encoding="utf-8") as raw:
        for c in conds:
            res["conditions"][c] = run_condition(helix, a.model, a.adapter if c == "adapter" else None, items, pq, raw, c,
                                                 a.ctx)
    print(write_report(res, out, sys.argv[1:]))


if __name__ == "__main__":
    main()
