"""Chat templates: `helix template` renders every template in the shared testdata byte for byte
as Python's jinja2 does when set up as Hugging Face transformers sets it up, for a range of
conversations; where jinja2 raises, helix must fail too (non-zero exit, message on stderr)."""
import datetime
import functools
import json
import os
import pathlib

import pytest
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from conftest import run_helix

BOS, EOS = "<s>", "</s>"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Zürich"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"],
                         "description": "Temperature unit"},
                "days": {"type": "integer", "description": "Forecast days"},
            },
            "required": ["city"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web.",
        "parameters": {"type": "object",
                       "properties": {"query": {"type": "string", "description": "What to look for"},
                                      "tags": {"type": "array", "items": {"type": "string"},
                                               "description": "Filters"}},
                       "required": ["query"]},
    },
}
TOOLS = [WEATHER_TOOL, SEARCH_TOOL]

SYSTEM = {"role": "system", "content": "You are a helpful assistant. Réponds en français si besoin."}
USER1 = {"role": "user", "content": "Hello! What's 2 + 2?"}
ASSIST1 = {"role": "assistant", "content": "2 + 2 = 4."}
USER2 = {"role": "user", "content": "  And in Chinese?  你好  "}
CALL_OBJ = {"role": "assistant", "content": "",
            "tool_calls": [{"id": "call12345", "type": "function",
                            "function": {"name": "get_weather",
                                         "arguments": {"city": "Zürich", "unit": "celsius"}}}]}
CALL_STR = {"role": "assistant", "content": None,
            "tool_calls": [{"id": "call12345", "type": "function",
                            "function": {"name": "get_weather",
                                         "arguments": "{\"city\": \"Paris\", \"days\": 3}"}}]}
TWO_CALLS = {"role": "assistant", "content": "Let me check both.",
             "tool_calls": [
                 {"id": "call00001", "type": "function",
                  "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}},
                 {"id": "call00002", "type": "function",
                  "function": {"name": "search", "arguments": {"query": "Oslo events", "tags": ["music"]}}}]}
TOOL_RESULT = {"role": "tool", "tool_call_id": "call12345", "name": "get_weather",
               "content": "{\"temperature\": 21, \"condition\": \"sunny\"}"}
TOOL_RESULT2 = {"role": "tool", "tool_call_id": "call00002", "name": "search",
                "content": "Concert at 8pm"}
FINAL = {"role": "assistant", "content": "It is 21 °C and sunny in Zürich."}

CONVERSATIONS = {
    "user": ([USER1], None),
    "system_user": ([SYSTEM, USER1], None),
    "multi_turn": ([SYSTEM, USER1, ASSIST1, USER2], None),
    "multi_turn_no_system": ([USER1, ASSIST1, USER2], None),
    "tools_offered": ([SYSTEM, USER1], TOOLS),
    "tools_no_system": ([USER1], TOOLS),
    "tool_call_object_args": ([USER1, CALL_OBJ, TOOL_RESULT, FINAL], TOOLS),
    "tool_call_string_args": ([SYSTEM, USER1, CALL_STR, TOOL_RESULT], TOOLS),
    "two_tool_calls": ([USER1, TWO_CALLS, TOOL_RESULT, TOOL_RESULT2], TOOLS),
    "content_parts": ([{"role": "user", "content": [{"type": "text", "text": "Describe "},
                                                     {"type": "image"},
                                                     {"type": "text", "text": "this picture."}]}],
                      None),
    "reasoning": ([USER1, {"role": "assistant",
                           "content": "<think>\nSimple sum.\n</think>\n\nIt is 4."}, USER2], None),
    "reasoning_content": ([USER1, {"role": "assistant", "content": "It is 4.",
                                   "reasoning_content": "Add the numbers."}], None),
    "tool_result_parts": ([USER1, CALL_OBJ,
                           {"role": "tool", "tool_call_id": "call12345",
                            "content": [{"type": "text", "text": "21 degrees"}]}], TOOLS),
    "bad_tool_call_id": ([USER1, {**CALL_OBJ, "tool_calls": [{**CALL_OBJ["tool_calls"][0], "id": "x"}]},
                          {**TOOL_RESULT, "tool_call_id": "x"}], TOOLS),
    "system_only": ([SYSTEM], None),
    "assistant_last": ([USER1, ASSIST1], None),
    "non_alternating": ([USER1, USER2], None),
    "empty": ([], None),
}


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


class RaisedByTemplate(Exception):
    """What raise_exception() raises (a jinja2 TemplateError in transformers)."""


def raise_exception(message):
    raise RaisedByTemplate(message)


def strftime_now(fmt):
    return datetime.datetime.now().strftime(fmt)


def reference(source, messages, tools, add_generation_prompt, bos, eos, errors=None):
    """Renders like transformers' apply_chat_template; returns bytes, or None if jinja2 raises
    (appending the exception to `errors` when given)."""
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    try:
        return env.from_string(source).render(
            messages=messages, tools=tools, add_generation_prompt=add_generation_prompt,
            bos_token=bos, eos_token=eos).encode()
    except Exception as e:  # noqa: BLE001 - any failure in jinja2 must be a failure in helix
        if errors is not None:
            errors.append(e)
        return None


TESTDATA = pathlib.Path(os.environ.get("HELIX_TESTDATA",
                                       pathlib.Path(__file__).resolve().parents[3] / "shared" / "testdata"))
TEMPLATE_NAMES = sorted(p.name for p in (TESTDATA / "chat-templates").glob("*.jinja"))


def templates(testdata):
    return sorted((testdata / "chat-templates").glob("*.jinja"))


def check_case(helix_bin, tmp_path, source_args, source, conv, agp, bos=BOS, eos=EOS):
    messages, tools = CONVERSATIONS[conv]
    mfile = tmp_path / f"{conv}.json"
    mfile.write_text(json.dumps(messages, ensure_ascii=False), encoding="utf-8")
    args = ["template", *source_args, "--messages", mfile]
    if tools is not None:
        tfile = tmp_path / f"{conv}.tools.json"
        tfile.write_text(json.dumps(tools, ensure_ascii=False), encoding="utf-8")
        args += ["--tools", tfile]
    if agp:
        args.append("--add-generation-prompt")
    args += ["--bos", bos, "--eos", eos]
    errors = []
    expected = reference(source, messages, tools, agp, bos, eos, errors)
    r = run_helix(helix_bin, *args, check=False)
    if expected is None:
        assert r.returncode != 0, f"jinja2 raises for {conv}, helix printed {r.stdout[:300]!r}"
        assert r.stdout == b"" and r.stderr.strip(), "helix failed without a message"
        if isinstance(errors[0], RaisedByTemplate):  # the template's own reason is reported
            assert str(errors[0]).encode() in r.stderr, r.stderr
        return "raises"
    assert r.returncode == 0, f"helix failed where jinja2 renders: {r.stderr.decode(errors='replace')}"
    assert r.stdout == expected, (
        f"mismatch for {conv} agp={agp}\n--- jinja2 ---\n{expected.decode()}\n"
        f"--- helix ---\n{r.stdout.decode(errors='replace')}")
    return "renders"


def test_all_templates_present(testdata):
    assert len(templates(testdata)) >= 10, f"expected the chat templates in {testdata / 'chat-templates'}"
    assert len(TEMPLATE_NAMES) == len(templates(testdata))


@pytest.mark.parametrize("agp", [False, True], ids=["no_gen_prompt", "gen_prompt"])
@pytest.mark.parametrize("conv", sorted(CONVERSATIONS))
@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_template_matches_jinja2(helix_bin, testdata, tmp_path, name, conv, agp):
    path = testdata / "chat-templates" / name
    source = path.read_text(encoding="utf-8")
    check_case(helix_bin, tmp_path, ["--template", path], source, conv, agp)


def test_most_cases_render(helix_bin, testdata, tmp_path):
    """Guards against a suite that passes only because everything raises."""
    outcomes = []
    for path in templates(testdata):
        source = path.read_text(encoding="utf-8")
        for conv in CONVERSATIONS:
            outcomes.append(check_case(helix_bin, tmp_path, ["--template", path], source, conv, True))
    assert outcomes.count("renders") >= len(outcomes) * 0.6, outcomes


@pytest.mark.parametrize("agp", [False, True], ids=["no_gen_prompt", "gen_prompt"])
def test_fallback_template_matches_jinja2(helix_bin, tmp_path, agp):
    source = run_helix(helix_bin, "template", "--fallback", "--show-template").stdout.decode()
    assert "<|im_start|>" in source
    for conv in CONVERSATIONS:
        check_case(helix_bin, tmp_path, ["--fallback"], source, conv, agp)


@functools.lru_cache(maxsize=None)
def _gguf_template_and_specials(path):
    """(chat template or None, BOS text, EOS text) read with gguf-py (slow: read once)."""
    import gguf
    reader = gguf.GGUFReader(path)

    def field(name):
        f = reader.fields.get(name)
        return None if f is None else f.parts[f.data[0]]

    tmpl = field("tokenizer.chat_template")
    tokens = reader.fields["tokenizer.ggml.tokens"]

    def token(key):
        i = int(field(key)[0])
        return bytes(tokens.parts[tokens.data[i]]).decode()

    return (None if tmpl is None else bytes(tmpl).decode(),
            token("tokenizer.ggml.bos_token_id"), token("tokenizer.ggml.eos_token_id"))


@pytest.mark.parametrize("agp", [False, True], ids=["no_gen_prompt", "gen_prompt"])
def test_default_model_template(helix_bin, default_model, tmp_path, agp):
    """The default model's template (its own, or the built-in one Helix uses when its file has
    none), with the model's BOS and EOS text, renders as jinja2 renders it for every
    conversation."""
    tmpl, bos, eos = _gguf_template_and_specials(default_model)
    shown = run_helix(helix_bin, "template", "-m", default_model, "--show-template")
    source = shown.stdout.decode()
    if tmpl is None:
        assert b"no tokenizer.chat_template" in shown.stderr
    else:
        assert source == tmpl
    for conv in CONVERSATIONS:
        messages, tools = CONVERSATIONS[conv]
        mfile = tmp_path / f"{conv}.json"
        mfile.write_text(json.dumps({"messages": messages, "tools": tools}), encoding="utf-8")
        args = ["template", "-m", default_model, "--messages", mfile]
        if agp:
            args.append("--add-generation-prompt")
        expected = reference(source, messages, tools, agp, bos, eos)
        r = run_helix(helix_bin, *args, check=False)
        if expected is None:
            assert r.returncode != 0
        else:
            assert r.returncode == 0, r.stderr.decode(errors="replace")
            assert r.stdout == expected, conv


def test_template_errors_name_the_line(helix_bin, tmp_path):
    t = tmp_path / "bad.jinja"
    t.write_text("line one\n{% for m in messages %}\n{{ m.content }\n{% endfor %}\n")
    m = tmp_path / "m.json"
    m.write_text(json.dumps([USER1]))
    r = run_helix(helix_bin, "template", "--template", t, "--messages", m, check=False)
    assert r.returncode != 0 and r.stdout == b""
    assert b"line 3" in r.stderr
    t.write_text("{{ raise_exception('no system messages, please') }}")
    r = run_helix(helix_bin, "template", "--template", t, "--messages", m, check=False)
    assert r.returncode != 0 and b"no system messages, please" in r.stderr


def test_extra_variables(helix_bin, testdata, tmp_path):
    path = testdata / "chat-templates" / "Qwen-Qwen3-0.6B.jinja"
    m = tmp_path / "m.json"
    m.write_text(json.dumps([USER1]))
    r = run_helix(helix_bin, "template", "--template", path, "--messages", m,
                  "--add-generation-prompt", "--var", "enable_thinking=false")
    assert r.stdout.endswith(b"<think>\n\n</think>\n\n")
