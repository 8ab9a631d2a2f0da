"""Tool calling on `helix serve` through the official openai client and LangChain (langchain-openai).

The default model (Gemma 3 270M, not instruction-tuned) has a template without tool support, so
Helix describes the tools in a system message and reads {"tool_calls": [...]} replies (the generic
family). Servers started with real templates of other families (--chat-template, from the shared
testdata) check the Hermes/Qwen, Llama 3.1 and Mistral call syntax end to end. Forced calls
(tool_choice "required" or a named function) are generated under the grammar of the function's
parameters, so even this small model's calls must parse and validate against the schema
(checked with the jsonschema package). Generation is short (max_tokens 160: the model indents its JSON) to keep CI quick.
"""
import json
import os

import jsonschema
import openai
import pytest

from conftest import openai_client, start_server, stop_server

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "The current weather in a city",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "maxLength": 20},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city", "unit"]}}},
    {"type": "function", "function": {
        "name": "add", "description": "Adds two integers",
        "parameters": {"type": "object", "properties": {
            "a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}},
]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
ASK = [{"role": "user", "content": "What is the weather in Paris? And what is 2 + 3?"}]


@pytest.fixture(scope="module")
def server(helix_bin, default_model):
    proc, port = start_server(helix_bin, default_model, "--parallel", "4")
    yield port
    stop_server(proc)


@pytest.fixture(scope="module")
def client(server):
    return openai_client(server)


def _ask(client, **kw):
    args = dict(model="default", messages=ASK, tools=TOOLS, max_tokens=160, temperature=0, seed=7)
    args.update(kw)
    return client.chat.completions.create(**args)


def _check_calls(calls, names=None):
    assert calls, "no tool calls"
    for c in calls:
        assert c.type == "function"
        assert c.id.startswith("call_") and len(c.id) > 10
        assert c.function.name in (names or SCHEMAS)
        jsonschema.validate(json.loads(c.function.arguments), SCHEMAS[c.function.name])
    assert len({c.id for c in calls}) == len(calls)


def _stream(client, **kw):
    """Accumulates streamed tool-call deltas by index, as OpenAI's docs show. Each call also
    records in how many chunks its arguments came ("pieces") and whether its name came first."""
    calls, content, finish = {}, "", None
    for chunk in _ask(client, stream=True, **kw):
        for ch in chunk.choices:
            d = ch.delta
            content += d.content or ""
            for tc in d.tool_calls or []:
                cur = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": "", "pieces": 0,
                                                  "named_first": True})
                if tc.id:
                    cur["id"] = tc.id
                if tc.function and tc.function.name:
                    cur["name"] += tc.function.name
                if tc.function and tc.function.arguments:
                    cur["named_first"] = cur["named_first"] and bool(cur["name"])
                    cur["arguments"] += tc.function.arguments
                    cur["pieces"] += 1
            finish = ch.finish_reason or finish
    return [calls[i] for i in sorted(calls)], content, finish


def test_required_call_parses_and_validates(client):
    r = _ask(client, tool_choice="required")
    c = r.choices[0]
    assert c.finish_reason == "tool_calls"
    assert c.message.content is None
    _check_calls(c.message.tool_calls)
    # Parallel calls: at temperature 0 this model calls both tools for this question.
    assert sorted(t.function.name for t in c.message.tool_calls) == ["add", "get_weather"]


def test_named_function_is_the_one_called(client):
    for name in SCHEMAS:
        r = _ask(client, tool_choice={"type": "function", "function": {"name": name}})
        assert r.choices[0].finish_reason == "tool_calls"
        _check_calls(r.choices[0].message.tool_calls, [name])
        assert len(r.choices[0].message.tool_calls) == 1


def test_parallel_tool_calls_false_gives_one_call(client):
    r = _ask(client, tool_choice="required", parallel_tool_calls=False)
    _check_calls(r.choices[0].message.tool_calls)
    assert len(r.choices[0].message.tool_calls) == 1


def test_stream_matches_non_stream(client):
    whole = _ask(client, tool_choice="required").choices[0].message.tool_calls
    calls, content, finish = _stream(client, tool_choice="required")
    assert finish == "tool_calls" and content == ""
    assert [(c["name"], c["arguments"]) for c in calls] == [(c.function.name, c.function.arguments) for c in whole]
    assert all(c["id"].startswith("call_") for c in calls)


def test_arguments_stream_piece_by_piece(client):
    """The call's id and name come first, then its arguments in many pieces as the model writes
    them (not the whole call at the end), adding up to the non-streamed call (greedy)."""
    named = {"type": "function", "function": {"name": "get_weather"}}
    whole = _ask(client, tool_choice=named).choices[0].message.tool_calls
    calls, content, finish = _stream(client, tool_choice=named)
    assert finish == "tool_calls" and content == ""
    assert [(c["name"], c["arguments"]) for c in calls] == [(c.function.name, c.function.arguments) for c in whole]
    assert all(c["named_first"] for c in calls)
    assert calls[0]["pieces"] >= 4, calls  # {"city": "...", "unit": "..."} is many tokens


def test_none_gives_text(client):
    r = _ask(client, tool_choice="none", max_tokens=8)
    assert r.choices[0].message.tool_calls is None
    assert isinstance(r.choices[0].message.content, str)
    assert r.choices[0].finish_reason in ("stop", "length")
    calls, content, finish = _stream(client, tool_choice="none", max_tokens=8)
    assert calls == [] and content == r.choices[0].message.content and finish == r.choices[0].finish_reason


def test_auto_reply_is_content_or_valid_calls(client):
    c = _ask(client, tool_choice="auto", max_tokens=24).choices[0]
    if c.message.tool_calls:
        assert c.finish_reason == "tool_calls"
        for t in c.message.tool_calls:
            json.loads(t.function.arguments)
    else:
        assert isinstance(c.message.content, str)


def test_full_loop_with_tool_results(client):
    first = _ask(client, tool_choice={"type": "function", "function": {"name": "add"}}).choices[0].message
    msgs = ASK + [{"role": "assistant", "content": first.content,
                   "tool_calls": [c.model_dump() for c in first.tool_calls]}]
    assert msgs[-1]["content"] is None
    for call in first.tool_calls:
        args = json.loads(call.function.arguments)
        msgs.append({"role": "tool", "tool_call_id": call.id, "content": str(args["a"] + args["b"])})
    r = _ask(client, messages=msgs, max_tokens=8)
    assert r.choices[0].finish_reason in ("stop", "length", "tool_calls")
    r = _ask(client, messages=msgs, tool_choice="required")
    _check_calls(r.choices[0].message.tool_calls)


def test_bad_tool_requests_are_400_naming_the_field(client):
    cases = [({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
             ({"tool_choice": "sometimes"}, "tool_choice"),
             ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, "tools"),
             ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {
                 "type": "object", "properties": {"s": {"type": "string", "pattern": "a+"}}}}}],
               "tool_choice": "required"}, "tools")]
    for extra, param in cases:
        with pytest.raises(openai.BadRequestError) as e:
            _ask(client, **extra)
        assert e.value.body["param"] == param, e.value.body


@pytest.mark.parametrize("template", ["Qwen-Qwen2.5-7B-Instruct", "meta-llama-Llama-3.1-8B-Instruct",
                                      "mistralai-Mistral-Nemo-Instruct-2407"])
def test_template_families_end_to_end(helix_bin, default_model, testdata, template):
    path = os.path.join(testdata, "chat-templates", template + ".jinja")
    proc, port = start_server(helix_bin, default_model, "--chat-template", path)
    try:
        client = openai_client(port)
        r = _ask(client, tool_choice="required", parallel_tool_calls=False)
        assert r.choices[0].finish_reason == "tool_calls"
        _check_calls(r.choices[0].message.tool_calls)
        calls, _, finish = _stream(client, tool_choice="required", parallel_tool_calls=False)
        assert finish == "tool_calls"
        assert [(c["name"], c["arguments"]) for c in calls] == [
            (c.function.name, c.function.arguments) for c in r.choices[0].message.tool_calls]
        assert calls[0]["named_first"] and calls[0]["pieces"] >= 3, calls  # streamed as written
        # "auto": free text with the call's grammar armed for its opening tag (Hermes, Mistral).
        c = _ask(client, tool_choice="auto", max_tokens=24).choices[0]
        assert c.message.tool_calls is None or c.finish_reason == "tool_calls"
        call = r.choices[0].message.tool_calls[0]
        msgs = ASK + [{"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                      {"role": "tool", "tool_call_id": call.id, "content": "done"}]
        assert _ask(client, messages=msgs, max_tokens=4).choices[0].finish_reason in ("stop", "length", "tool_calls")
    finally:
        stop_server(proc)


def test_langchain_bind_tools_and_structured_output(server):
    from langchain_openai import ChatOpenAI
    from pydantic import BaseModel, Field

    llm = ChatOpenAI(base_url=f"http://127.0.0.1:{server}/v1", api_key="none", model="default", temperature=0,
                     max_tokens=80, max_retries=0)

    class Weather(BaseModel):
        """The current weather in a city"""
        city: str = Field(max_length=20)
        unit: str = Field(json_schema_extra={"enum": ["celsius", "fahrenheit"]})

    msg = llm.bind_tools([Weather], tool_choice="Weather").invoke("Weather in Paris?")
    assert len(msg.tool_calls) == 1 and msg.tool_calls[0]["name"] == "Weather"
    assert msg.tool_calls[0]["args"]["unit"] in ("celsius", "fahrenheit")
    out = llm.with_structured_output(Weather, method="function_calling").invoke("Weather in Paris?")
    assert isinstance(out, Weather) and out.unit in ("celsius", "fahrenheit")


def test_langchain_streams_tool_calls(server):
    """LangChain's streaming: the tool-call chunks add up to the same call as invoke (greedy), and
    the arguments come in several chunks."""
    from langchain_openai import ChatOpenAI
    from pydantic import BaseModel, Field

    llm = ChatOpenAI(base_url=f"http://127.0.0.1:{server}/v1", api_key="none", model="default", temperature=0,
                     max_tokens=80, max_retries=0)

    class Weather(BaseModel):
        """The current weather in a city"""
        city: str = Field(max_length=20)
        unit: str = Field(json_schema_extra={"enum": ["celsius", "fahrenheit"]})

    bound = llm.bind_tools([Weather], tool_choice="Weather")
    whole = bound.invoke("Weather in Paris?")
    acc, arg_chunks = None, 0
    for chunk in bound.stream("Weather in Paris?"):
        acc = chunk if acc is None else acc + chunk
        arg_chunks += sum(1 for c in chunk.tool_call_chunks if c.get("args"))
    assert [(c["name"], c["args"]) for c in acc.tool_calls] == [(c["name"], c["args"]) for c in whole.tool_calls]
    assert acc.tool_calls[0]["name"] == "Weather"
    assert arg_chunks >= 3
