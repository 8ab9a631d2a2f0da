"""POST /v1/embeddings of `helix serve --embed-model` against the official openai client.

The vectors must match sentence-transformers' (reference stored in data/minilm_reference.json,
see test_embeddings.py) with cosine >= 0.999, whether the client asks for floats or for base64
(the client's default), for strings, lists of strings and token ids. Errors come back as the
client's own exception types, and embeddings requests made while chat streams are running
leave both correct (the encoder takes turns with the generation engine).
"""
import base64
import math
import threading

import numpy as np
import openai
import pytest

from test_embeddings import KNOWN_TOKENIZER_DIFFS, REF, _find_model
from conftest import openai_client, start_server, stop_server

KEY = "emb-key"
MIN_COSINE = 0.999


def _cos(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def ref():
    import json
    return json.loads(REF.read_text())


@pytest.fixture(scope="module")
def server(helix_bin, default_model):
    model = _find_model()
    if model is None:
        pytest.fail("no embedding model installed; run scripts/setup.sh")
    proc, port = start_server(helix_bin, default_model, "--parallel", "2", "--api-key", KEY, "--embed-model", model)
    yield port
    stop_server(proc)
    assert proc.returncode == 0


@pytest.fixture(scope="module")
def client(server):
    return openai_client(server, KEY)


@pytest.fixture(scope="module")
def embed_id(client):
    ids = [m.id for m in client.models.list().data]
    assert len(ids) == 2, ids
    return ids[1]


def _checked_indices(ref, n=24):
    """Sentences Helix tokenizes like Hugging Face and that fit the 256-token limit."""
    return [i for i in range(len(ref["sentences"]))
            if i not in KNOWN_TOKENIZER_DIFFS and ref["n_tokens_untruncated"][i] <= ref["max_seq_length"]][:n]


@pytest.mark.parametrize("encoding", ["float", "base64", None])
def test_batch_matches_sentence_transformers(client, embed_id, ref, encoding):
    idx = _checked_indices(ref)
    kw = {} if encoding is None else {"encoding_format": encoding}
    r = client.embeddings.create(model=embed_id, input=[ref["sentences"][i] for i in idx], **kw)
    assert r.object == "list" and r.model == embed_id
    assert [d.index for d in r.data] == list(range(len(idx)))
    assert r.usage.prompt_tokens == sum(len(ref["token_ids"][i]) for i in idx) == r.usage.total_tokens
    for d, i in zip(r.data, idx):
        # Asked for explicitly, base64 comes back as the raw string (little-endian float32);
        # by default the client asks for base64 itself and decodes it.
        v = np.frombuffer(base64.b64decode(d.embedding), dtype="<f4") if encoding == "base64" else d.embedding
        assert len(v) == 384
        assert abs(math.sqrt(sum(float(x) * float(x) for x in v)) - 1) < 1e-4  # normalized
        c = _cos(v, ref["embeddings"][i])
        assert c >= MIN_COSINE, (i, ref["sentences"][i][:60], c)


def test_single_string_and_token_ids(client, embed_id, ref):
    i = _checked_indices(ref)[3]
    one = client.embeddings.create(model=embed_id, input=ref["sentences"][i], encoding_format="float")
    assert len(one.data) == 1 and _cos(one.data[0].embedding, ref["embeddings"][i]) >= MIN_COSINE
    ids = ref["token_ids"][i]
    # With and without [CLS]/[SEP]: the server adds them when missing.
    for toks in (ids, ids[1:-1]):
        r = client.embeddings.create(model=embed_id, input=toks, encoding_format="float")
        assert _cos(r.data[0].embedding, one.data[0].embedding) > 0.99999
    many = client.embeddings.create(model=embed_id, input=[ids, ids[1:-1]], encoding_format="float")
    assert len(many.data) == 2


def test_long_input_is_refused_unless_truncation_is_asked_for(client, embed_id, ref):
    long_i = next(i for i, n in enumerate(ref["n_tokens_untruncated"]) if n > ref["max_seq_length"]
                  and i not in KNOWN_TOKENIZER_DIFFS)
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model=embed_id, input=ref["sentences"][long_i])
    assert "at most 256" in str(e.value) and e.value.code == "context_length_exceeded"
    r = client.embeddings.create(model=embed_id, input=ref["sentences"][long_i], encoding_format="float",
                                 extra_body={"truncate": True})
    assert _cos(r.data[0].embedding, ref["embeddings"][long_i]) >= MIN_COSINE


def test_errors(client, embed_id):
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="no-such-model", input="hi")
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model=embed_id, input="hi", dimensions=128)
    assert "384" in str(e.value)
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model=embed_id, input=[])
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model=embed_id, input=[[1, 2], "mixed", 3.5])
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model=embed_id, input=[10 ** 9])
    bad = openai.OpenAI(base_url=client.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.embeddings.create(model=embed_id, input="hi")


def test_embeddings_while_streaming(client, embed_id, ref):
    chat_id = client.models.list().data[0].id
    alone = client.chat.completions.create(model=chat_id, messages=[{"role": "user", "content": "Count to five."}],
                                           max_tokens=24, temperature=0).choices[0].message.content
    texts, errors = [], []

    def stream():
        try:
            parts = []
            for ch in client.chat.completions.create(model=chat_id, messages=[{"role": "user", "content": "Count to five."}],
                                                     max_tokens=24, temperature=0, stream=True):
                for c in ch.choices:
                    parts.append(c.delta.content or "")
            texts.append("".join(parts))
        except Exception as ex:  # reported below
            errors.append(ex)

    threads = [threading.Thread(target=stream) for _ in range(2)]
    for t in threads:
        t.start()
    idx = _checked_indices(ref, 8)
    for _ in range(3):
        r = client.embeddings.create(model=embed_id, input=[ref["sentences"][i] for i in idx], encoding_format="float")
        for d, i in zip(r.data, idx):
            assert _cos(d.embedding, ref["embeddings"][i]) >= MIN_COSINE
    for t in threads:
        t.join()
    assert not errors, errors
    assert texts == [alone, alone]


def test_server_without_embedding_model(helix_bin, default_model):
    proc, port = start_server(helix_bin, default_model)
    try:
        c = openai_client(port, "x")
        with pytest.raises(openai.NotFoundError) as e:
            c.embeddings.create(model="all-MiniLM-L6-v2", input="hi")
        assert "--embed-model" in str(e.value)
    finally:
        stop_server(proc)
