"""The soak benchmark (bench/soak.py) in its CI size: one minute of mixed load on `helix serve`
(chat and completions, streamed and not, n=2, stop strings, logprobs, embeddings, structured
output, dropped streams, wrong keys, bad requests) with a small slow-client flood in the middle.

Pass (issue 18): no error that is not the client's fault (5xx, 429, dropped connections,
schema-breaking replies, unexpected statuses), /health always under 1 s, no request over 120 s,
and /metrics counting the same generation sequences, embedding inputs and HTTP requests as the
client. The 10- and 60-minute runs are `python3 bench/soak.py --minutes N`.
"""
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_soak_one_minute(helix_bin, default_model, tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "soak.py"), "--minutes", "1", "--workers", "4",
                        "--flood", "200", "--flood-seconds", "15", "--bin", helix_bin, "--model", default_model,
                        "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    print(r.stdout, r.stderr[-3000:])
    out = json.loads((tmp_path / "soak-1min.json").read_text())
    kinds = {row["kind"]: row for row in out["rows"]}
    assert all(kinds[k]["n"] > 0 for k in ("chat", "chat_stream", "completion", "embeddings", "structured")), kinds
    assert out["errors_not_client"] == 0, out["error_examples"]
    assert out["health"]["max"] < 1.0 and out["health"]["not_200"] == 0, out["health"]
    assert out["max_latency_s"] < 120
    assert out["flood_closed_by_server"] > 0  # the flood did reach the server
    for name, v in out["metrics_agree"].items():
        assert v["equal"], (name, v)
    assert (tmp_path / "soak-1min.png").stat().st_size > 1000
    assert r.returncode == 0
