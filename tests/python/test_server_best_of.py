"""best_of with a reward model on the API (issue 14): `helix serve --rm NAME=FILE` and a chat
request with "best_of": N, "reward_model": NAME (sent by the official openai client as extra_body).

A tiny reward model (a response-level head and a step-level head, LoRA) is trained in the test on
a tiny model. The server's reply is checked against `helix rm score --json` run on the same texts:
every candidate's scores equal what rm score gives, and the chosen reply is the argmax. Also: the
n best of best_of come in rank order, aspect_weights change the ranking score, a streamed best_of
request streams the same winner, and wrong fields are 400s naming them.
"""
import json
import subprocess

import openai
import pytest

from conftest import openai_client, run_helix, start_server, stop_server

NO_END = {"0": -100, "1": -100, "2": -100}  # no early end of turn: every candidate has text
MESSAGES = [{"role": "user", "content": "Tell me about item 12."}]


@pytest.fixture(scope="module")
def served(helix_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("bestof")
    model = d / "tiny.gguf"
    run_helix(helix_bin, "tiny-model", "llama", model)
    good, bad = ["thanks", "please", "kindly"], ["ugh", "whatever", "shut"]
    pairs = [{"prompt": f"Tell me about item {i}.", "chosen": f"{good[i % 3]}, item {i} is fine.",
              "rejected": f"{bad[i % 3]}, item {i} is fine.", "aspect": "tone"} for i in range(24)]
    steps = [{"prompt": f"Plan {i}", "steps": [f"ok step {j}" if (i + j) % 3 else f"no step {j}" for j in range(3)],
              "labels": [int((i + j) % 3 != 0) for j in range(3)]} for i in range(24)]
    (d / "tone.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pairs))
    (d / "steps.jsonl").write_text("".join(json.dumps(r) + "\n" for r in steps))
    (d / "rm.toml").write_text(f"""name = "tiny-rm"
model = "{model}"
seed = 3
steps = 8
batch = 4
lr = 1e-2
head_lr = 3e-2
seq_len = 256
lora = {{ rank = 4, alpha = 8, targets = ["attn_q", "attn_v"] }}
[[aspects]]
name = "tone"
train = "tone.jsonl"
[[aspects]]
name = "steps"
level = "step"
train = "steps.jsonl"
""")
    rm = d / "tiny-rm.gguf"
    r = subprocess.run([helix_bin, "rm", "train", str(d / "rm.toml"), "--out", str(rm), "-t", "2"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    proc, port = start_server(helix_bin, str(model), "--alias", "tiny", "--parallel", "4", "--rm", f"tone={rm}")
    yield d, rm, openai_client(port), helix_bin
    stop_server(proc)


def ask(client, **kw):
    body = {"best_of": 4, "reward_model": "tone", **kw.pop("extra", {})}
    return client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=10, temperature=1.0, seed=7,
                                          logit_bias=NO_END, extra_body=body, **kw)


def rm_score(helix_bin, rm, d, texts):
    f = d / "cands.jsonl"
    f.write_text("".join(json.dumps({"messages": MESSAGES, "response": t}) + "\n" for t in texts))
    out = run_helix(helix_bin, "rm", "score", "--rm", rm, "--json", f).stdout.decode()
    return [json.loads(line)["scores"] for line in out.splitlines()]


def test_chosen_is_the_argmax_of_rm_score(served):
    d, rm, client, helix_bin = served
    r = ask(client)
    bo = r.model_extra["best_of"]
    cands = bo["candidates"]
    assert bo["reward_model"] == "tone" and len(cands) == 4
    assert len({c["text"] for c in cands}) > 1  # four different samples
    ref = rm_score(helix_bin, rm, d, [c["text"] for c in cands])
    for c, s in zip(cands, ref):
        assert c["scores"]["tone"] == pytest.approx(s["tone"], abs=1e-5)
        assert c["scores"]["steps"] == pytest.approx(s["steps"], abs=1e-5)  # per step
        assert c["score"] == pytest.approx(s["tone"], abs=1e-5)  # the only response head
    best = max(range(4), key=lambda i: ref[i]["tone"])
    assert bo["chosen"] == [best]
    ch = r.choices[0]
    assert ch.message.content == cands[best]["text"]
    assert ch.model_extra["scores"]["tone"] == pytest.approx(ref[best]["tone"], abs=1e-5)
    assert r.usage.completion_tokens == 40  # every candidate was generated


def test_n_best_in_rank_order_and_stream_gives_the_winner(served):
    d, rm, client, helix_bin = served
    r = ask(client, n=2)
    cands = r.model_extra["best_of"]["candidates"]
    order = sorted(range(4), key=lambda i: -cands[i]["score"])
    assert r.model_extra["best_of"]["chosen"] == order[:2]
    assert [c.message.content for c in r.choices] == [cands[i]["text"] for i in order[:2]]
    text, last = "", None
    for chunk in ask(client, stream=True):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            last = chunk
    assert text == ask(client).choices[0].message.content
    assert last.model_extra["best_of"]["chosen"] == [order[0]]


def test_bad_fields_are_400(served):
    d, rm, client, helix_bin = served
    for extra, n, what in [({"reward_model": "nope"}, 1, "no reward model 'nope'"),
                           ({}, 5, "must not exceed 'best_of'"),
                           ({"aspect_weights": {"steps": 1}}, 1, "no response-level aspect 'steps'"),
                           ({"best_of": 40}, 1, "from 1 to 16")]:
        with pytest.raises(openai.BadRequestError) as e:
            ask(client, n=n, extra=extra)
        assert what in str(e.value)
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=4, extra_body={"reward_model": "tone"})
    assert "goes with 'best_of'" in str(e.value)
