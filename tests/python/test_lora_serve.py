"""`helix serve --lora NAME=FILE`: several LoRA adapters over one base, a request choosing one by
model name ALIAS:NAME (the real openai client over real HTTP), on a tiny llama model:
  - each adapter's greedy completion equals `helix run --lora FILE` (and the base's `helix run`);
  - requests under different adapters and none, sent at once so that they share batches, give
    what each gives alone;
  - /v1/models lists the adapters; an unknown adapter is a 404 that names the served ones.
"""
import os
import sys

import openai
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import openai_client, run_concurrently, run_helix, start_server, stop_server  # noqa: E402

PROMPTS = ["hello world", "the cat", "a b c d", "once upon"]


@pytest.fixture(scope="module")
def setup(helix_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("lora_serve")
    base = str(d / "tiny.gguf")
    run_helix(helix_bin, "tiny-model", "llama", base, "--seed", "7")
    adapters = {}
    for name, seed in (("alpha", 1), ("beta", 2)):
        adapters[name] = str(d / f"{name}.gguf")
        run_helix(helix_bin, "lora", "random", base, adapters[name], "--rank", "8", "--std", "0.2", "--seed", seed)
    proc, port = start_server(helix_bin, base, "--parallel", "8", "--alias", "tiny",
                              *[a for n, p in adapters.items() for a in ("--lora", f"{n}={p}")])
    yield base, adapters, openai_client(port)
    stop_server(proc)


def complete(client, model, prompt):
    r = client.completions.create(model=model, prompt=prompt, max_tokens=12, temperature=0)
    assert r.model == model
    return r.choices[0].text


def test_each_adapter_matches_helix_run(helix_bin, setup):
    base, adapters, client = setup
    for name, path in [(None, None), *adapters.items()]:
        model = "tiny" if name is None else f"tiny:{name}"
        lora = [] if path is None else ["--lora", path]
        for p in PROMPTS[:2]:
            want = run_helix(helix_bin, "run", "-m", base, "-p", p, "-n", "12", "--temp", "0", *lora).stdout.decode()
            assert complete(client, model, p) == want, (model, p)


def test_mixed_batch_equals_alone(setup):
    _, _, client = setup
    jobs = [(m, p) for p in PROMPTS for m in ("tiny", "tiny:alpha", "tiny:beta")]
    alone = {j: complete(client, *j) for j in jobs}
    together = run_concurrently(lambda j: complete(client, *j), jobs)
    for j, got in zip(jobs, together):
        assert got == alone[j], j
    differ = sum(alone[("tiny", p)] != alone[(f"tiny:{n}", p)] for p in PROMPTS for n in ("alpha", "beta"))
    assert differ >= 4, "the adapters barely change the completions: test too weak"


def test_models_listed_and_unknown_adapter(setup):
    _, _, client = setup
    ids = {m.id for m in client.models.list().data}
    assert {"tiny", "tiny:alpha", "tiny:beta"} <= ids
    with pytest.raises(openai.NotFoundError) as e:
        complete(client, "tiny:gamma", "hello")
    assert "tiny:alpha" in str(e.value) and "gamma" in str(e.value)
