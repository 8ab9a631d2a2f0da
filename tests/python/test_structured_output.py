"""Structured output of `helix serve` (response_format) with the official openai client.

Every reply to a json_schema request must parse with json.loads and validate with the
`jsonschema` package (an independent validator), greedy and sampled with several seeds; also
json_object mode, streaming, the completions route, a reply cut by max_tokens (finish_reason
"length"), and schemas the server refuses (openai.BadRequestError naming response_format).
Schemas bound their strings and arrays so a reply always fits max_tokens; generations are short
because the machines that run this are slow.
"""
import json
from concurrent.futures import ThreadPoolExecutor

import jsonschema
import openai
import pytest

from conftest import openai_client, start_server, stop_server


@pytest.fixture(scope="module")
def server(helix_bin, default_model):
    proc, port = start_server(helix_bin, default_model, "--parallel", "6")
    yield port
    stop_server(proc)


@pytest.fixture(scope="module")
def client(server):
    return openai_client(server)


SCHEMAS = {
    "person": ("Describe a fictional person as JSON.", {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 24},
            "age": {"type": "integer", "minimum": 0, "maximum": 120},
            "address": {"type": "object",
                        "properties": {"city": {"type": "string", "maxLength": 20},
                                       "zip": {"type": "string", "maxLength": 8}},
                        "required": ["city"], "additionalProperties": False},
        },
        "required": ["name", "age", "address"], "additionalProperties": False}),
    "pets": ("List two pets as JSON.", {
        "type": "array", "minItems": 1, "maxItems": 3,
        "items": {"type": "object",
                  "properties": {"kind": {"enum": ["cat", "dog", "fish"]},
                                 "name": {"type": "string", "maxLength": 16}},
                  "required": ["kind", "name"], "additionalProperties": False}}),
    "measure": ("Give a temperature reading as JSON.", {
        "type": "object",
        "properties": {"value": {"type": "number"}, "celsius": {"type": "boolean"},
                       "sensor": {"type": ["string", "null"], "maxLength": 12},
                       "count": {"type": "integer"}},
        "required": ["value", "celsius", "sensor"], "additionalProperties": False}),
    "answer": ("Is the sky blue? Answer as JSON.", {
        "$defs": {"yes": {"type": "object", "properties": {"answer": {"const": "yes"},
                                                          "why": {"type": "string", "maxLength": 30}},
                          "required": ["answer", "why"], "additionalProperties": False}},
        "anyOf": [{"$ref": "#/$defs/yes"},
                  {"type": "object", "properties": {"answer": {"const": "no"}}, "required": ["answer"],
                   "additionalProperties": False},
                  {"type": "integer"}]}),
}


def _ask(client, model, prompt, schema, **kw):
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}], max_tokens=200,
        response_format={"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": True}},
        **kw)


def _check(choice, schema):
    assert choice.finish_reason == "stop", choice
    value = json.loads(choice.message.content)
    jsonschema.validate(value, schema)
    return value


@pytest.fixture(scope="module")
def model(client):
    return client.models.list().data[0].id


def test_every_schema_greedy(client, model):
    with ThreadPoolExecutor(len(SCHEMAS)) as pool:
        futures = {k: pool.submit(_ask, client, model, p, s, temperature=0) for k, (p, s) in SCHEMAS.items()}
    for k, f in futures.items():
        _check(f.result().choices[0], SCHEMAS[k][1])


def test_every_schema_sampled_with_seeds(client, model):
    jobs = [(k, seed) for k in SCHEMAS for seed in (1, 2)]
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [(k, pool.submit(_ask, client, model, SCHEMAS[k][0], SCHEMAS[k][1], temperature=1.0, seed=seed, n=2))
                   for k, seed in jobs]
    for k, f in futures:
        r = f.result()
        assert len(r.choices) == 2
        for c in r.choices:
            _check(c, SCHEMAS[k][1])


def test_json_object_mode(client, model):
    r = client.chat.completions.create(
        model=model, messages=[{"role": "user",
                                "content": 'Reply with a JSON object of the form {"capital": "..."} for France.'}],
        max_tokens=150, temperature=0, response_format={"type": "json_object"},
        extra_body={"repeat_penalty": 1.3})  # the small default model repeats keys forever otherwise
    assert r.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(r.choices[0].message.content), dict)


def test_streaming_with_a_schema(client, model):
    prompt, schema = SCHEMAS["pets"]
    parts, finish = [], None
    for chunk in client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": prompt}], max_tokens=200, temperature=0,
            stream=True, response_format={"type": "json_schema", "json_schema": {"name": "pets", "schema": schema}}):
        for c in chunk.choices:
            parts.append(c.delta.content or "")
            finish = c.finish_reason or finish
    assert finish == "stop"
    jsonschema.validate(json.loads("".join(parts)), schema)
    # The same as the reply in one piece.
    whole = _ask(client, model, prompt, schema, temperature=0).choices[0].message.content
    assert "".join(parts) == whole


def test_completions_route(client, model):
    schema = {"type": "object", "properties": {"colour": {"enum": ["red", "green", "blue"]}}, "required": ["colour"]}
    r = client.completions.create(model=model, prompt="The colour of grass, as JSON:", max_tokens=60, temperature=0,
                                  extra_body={"response_format": {"type": "json_schema",
                                                                  "json_schema": {"name": "c", "schema": schema}}})
    assert r.choices[0].finish_reason == "stop"
    jsonschema.validate(json.loads(r.choices[0].text), schema)


def test_cut_by_max_tokens_is_length(client, model):
    prompt, schema = SCHEMAS["person"]
    r = _ask(client, model, prompt, schema, temperature=0, max_completion_tokens=4)
    assert r.choices[0].finish_reason == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.choices[0].message.content)


@pytest.mark.parametrize("fmt, words", [
    ({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "string", "pattern": "^a+$"}}}, "pattern"),
    ({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "number", "minimum": 0}}}, "minimum"),
    ({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "strnig"}}}, "strnig"),
    ({"type": "json_schema", "json_schema": {"name": "x", "schema": {"$ref": "#/$defs/none"}}}, "$ref"),
    ({"type": "json_schema"}, "json_schema"),
    ({"type": "xml"}, "xml"),
])
def test_bad_formats_are_400(client, model, fmt, words):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}], max_tokens=4,
                                       response_format=fmt)
    err = e.value.body
    assert err["param"] == "response_format"
    assert words in err["message"]
