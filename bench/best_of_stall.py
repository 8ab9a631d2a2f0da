"""How much a best_of request (reward-model scoring on the engine thread, one candidate per turn)
stalls a stream running beside it: the gaps between a greedy stream's chunks alone, then with a
best_of=N request running at the same time (same server, same run). Reports the gaps' median and
maximum in both runs, their ratio, and the best_of request's time.

  python3 bench/best_of_stall.py --rm /path/to/prefs-rm.gguf [--model MODEL] [--n 4] [--out FILE.json]
"""
import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
from conftest import _helix_bin, openai_client, start_server, stop_server  # noqa: E402

QUESTION = [{"role": "user", "content": "Write a long story about a lighthouse keeper and the sea."}]


def stream_gaps(client, tokens):
    times = []
    for ch in client.chat.completions.create(model="m", messages=QUESTION, max_tokens=tokens, temperature=0,
                                             stream=True):
        if ch.choices and ch.choices[0].delta.content:
            times.append(time.perf_counter())
    gaps = sorted(b - a for a, b in zip(times, times[1:]))
    return {"chunks": len(times), "median_gap_s": gaps[len(gaps) // 2], "max_gap_s": gaps[-1]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rm", required=True)
    ap.add_argument("--model", default=os.path.expanduser("~/.local/share/helix/models/default.gguf"))
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=160)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    proc, port = start_server(_helix_bin(), a.model, "--parallel", str(a.n + 1), "--rm", f"rm={a.rm}")
    try:
        client = openai_client(port)
        stream_gaps(client, 8)  # warm-up
        alone = stream_gaps(client, a.tokens)
        best = {}

        def best_of():
            t0 = time.perf_counter()
            r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Say hello politely."}],
                                               max_tokens=48, temperature=1.0, seed=1,
                                               extra_body={"best_of": a.n, "reward_model": "rm"})
            best["seconds"] = time.perf_counter() - t0
            best["scores"] = [c["score"] for c in r.model_extra["best_of"]["candidates"]]

        t = threading.Thread(target=best_of)
        t.start()
        beside = stream_gaps(client, a.tokens)
        t.join()
    finally:
        stop_server(proc)
    rep = {"load_avg": os.getloadavg(), "best_of": a.n, "alone": alone, "beside_best_of": beside, "best_of_request": best,
           "max_gap_ratio": beside["max_gap_s"] / alone["max_gap_s"],
           "median_gap_ratio": beside["median_gap_s"] / alone["median_gap_s"]}
    print(json.dumps(rep, indent=1))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(rep, f, indent=1)


if __name__ == "__main__":
    main()
