"""The command line as a user meets it (issue 12, "The terminal" and the command-line side of
"Serving: safe by default"):

- values that make no sense are refused with a message naming the allowed range, before the
  model loads; `helix bench --help`, `helix --version`;
- `--chat-template FILE` for run, chat and serve (checked against Jinja2 + llama.cpp's tokenizer);
- `helix chat` on a real terminal (a pty driven by pexpect): line editing, history file, /save
  messages; model text with control characters is shown in caret notation, never raw; a
  conversation longer than the context drops its oldest turns and says so once;
- `helix quantize` checks its output before any work and reports file sizes;
- `helix inspect` names the file type as llama.cpp does (gguf-py's LlamaFileType), counts
  parameters and bytes per tensor type (checked against gguf-py's reader).
"""
import json
import os
import pathlib
import re
import subprocess

import numpy as np
import pytest

from conftest import ROOT, run_helix, start_server, stop_server

# ---------------------------------------------------------------- values out of range


REFUSED = [
    (["-n", "-2"], "-n must be a whole number from -1 to"),
    (["-n", "ten"], "-n expects a whole number"),
    (["--temp", "nan"], "--temp must be a number >= 0"),
    (["--temp", "-0.5"], "--temp must be a number >= 0"),
    (["--temp", "warm"], "--temp expects a number >= 0"),
    (["--top-p", "1.5"], "--top-p must be a number from 0 to 1"),
    (["--min-p", "2"], "--min-p must be a number from 0 to 1"),
    (["--repeat-penalty", "0"], "--repeat-penalty must be a number > 0"),
    (["--repeat-penalty", "-1"], "--repeat-penalty must be a number > 0"),
    (["--top-k", "-3"], "--top-k must be a whole number from 0 to"),
    (["-c", "0"], "-c must be a whole number from 16 to"),
    (["-t", "0"], "-t must be a whole number from 1 to 1024"),
    (["-t", "4x"], "-t expects a whole number from 1 to 1024"),
    (["--presence-penalty", "inf"], "--presence-penalty must be a finite number"),
    (["--logit-bias", "5"], "--logit-bias expects TOKEN_ID+BIAS"),
    (["--seed", "-2"], "--seed must be a whole number >= -1"),
]


@pytest.mark.parametrize("args,message", REFUSED, ids=[" ".join(a) for a, _ in REFUSED])
@pytest.mark.parametrize("command", ["run", "chat"])
def test_values_out_of_range_are_refused(helix_bin, command, args, message):
    r = run_helix(helix_bin, command, "-p", "hi", *args, check=False, input=b"")
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert message in err, err
    assert "loading" not in err  # refused before the model is read


@pytest.mark.parametrize("args,message", [(["quantize", "a.gguf", "b.gguf", "Q8_0", "-t", "abc"], "-t expects"),
                                          (["embed", "-t", "0", "hi"], "-t must be a whole number from 1"),
                                          (["embed", "--batch-tokens", "x", "hi"], "--batch-tokens expects"),
                                          (["bench", "--prefill", "64,x"], "--prefill expects")])
def test_other_commands_check_numbers(helix_bin, args, message):
    r = run_helix(helix_bin, *args, check=False)
    assert r.returncode == 1 and message in r.stderr.decode(), r.stderr.decode()


@pytest.mark.parametrize("value", ["abc", "0", "-2", "2000"])
def test_helix_threads_env_is_checked(helix_bin, value):
    r = subprocess.run([helix_bin, "run", "-p", "hi"], capture_output=True,
                       env={**os.environ, "HELIX_THREADS": value}, timeout=60)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert "HELIX_THREADS" in err and "from 1 to 1024" in err, err


def test_boundary_values_are_accepted(helix_bin, default_model):
    r = subprocess.run([helix_bin, "run", "-m", default_model, "-p", "The sky is", "-n", "3", "--temp", "0",
                        "--top-p", "1", "--min-p", "0", "--top-k", "0", "--repeat-penalty", "1.1", "-c", "16", "--seed", "-1",
                        "-t", "1"], capture_output=True, env={**os.environ, "HELIX_THREADS": "2"}, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    assert "finish: length" in r.stderr.decode()


def test_bench_help_and_version(helix_bin):
    r = run_helix(helix_bin, "bench", "--help")
    assert r.stdout.decode().startswith("usage: helix bench")
    r = run_helix(helix_bin, "bench", "--streams", "x", check=False)
    assert r.returncode == 1 and "--streams expects a whole number from 1 to 256" in r.stderr.decode()
    version = re.search(r"project\(helix .*VERSION ([0-9.]+)\)", (ROOT / "CMakeLists.txt").read_text()).group(1)
    for args in (["--version"], ["version"]):
        out = run_helix(helix_bin, *args).stdout.decode()
        assert out.startswith(f"helix {version}"), out
    git = subprocess.run(["git", "rev-parse", "--short=7", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if git.returncode == 0:  # built from a checkout: `git describe` names the commit
        assert git.stdout.strip() in out, out


# ---------------------------------------------------------------- --chat-template

CUSTOM_TEMPLATE = ("{{ bos_token }}{% for m in messages %}### {{ m['role'] | upper }}:\n{{ m['content'] }}\n"
                   "{% endfor %}{% if add_generation_prompt %}### ASSISTANT:\n{% endif %}")


def reference_prompt_tokens(model, messages):
    """Jinja2 renders the template; llama.cpp's tokenizer (llama-cpp-python) counts the tokens."""
    import jinja2
    import llama_cpp
    text = jinja2.Environment().from_string(CUSTOM_TEMPLATE).render(
        messages=messages, add_generation_prompt=True, bos_token="<bos>", eos_token="<eos>")
    llm = llama_cpp.Llama(model_path=model, vocab_only=True, verbose=False)
    return len(llm.tokenize(text.encode(), add_bos=False, special=True))


def test_chat_template_file_errors(helix_bin, tmp_path):
    r = run_helix(helix_bin, "chat", "--chat-template", tmp_path / "missing.jinja", check=False, input=b"")
    assert r.returncode == 1 and "missing.jinja" in r.stderr.decode() and "No such file" in r.stderr.decode()
    bad = tmp_path / "bad.jinja"
    bad.write_text("{% for m in messages %}{{ m.content }")
    for cmd in ("chat", "run", "serve"):
        r = run_helix(helix_bin, cmd, "-p", "x", "--chat-template", bad, check=False, input=b"")
        err = r.stderr.decode()
        assert r.returncode == 1 and "bad.jinja' does not parse" in err and "loading" not in err, err


def test_run_uses_chat_template_file(helix_bin, default_model, tmp_path):
    t = tmp_path / "t.jinja"
    t.write_text(CUSTOM_TEMPLATE)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."}]
    r = run_helix(helix_bin, "run", "-m", default_model, "--chat-template", t, "-s", "Be brief.",
                  "-p", "Name a colour.", "-n", "2", "--temp", "0")
    got = int(re.search(r"prefill: (\d+) tokens", r.stderr.decode()).group(1))
    assert got == reference_prompt_tokens(default_model, messages)
    r = run_helix(helix_bin, "run", "-m", default_model, "-s", "x", "-p", "y", check=False)
    assert r.returncode == 1 and "-s (a system prompt) needs --chat" in r.stderr.decode()


def test_serve_uses_chat_template_file(helix_bin, default_model, tmp_path):
    import http.client
    t = tmp_path / "t.jinja"
    t.write_text(CUSTOM_TEMPLATE)
    messages = [{"role": "user", "content": "Say hello."}]
    proc, port = start_server(helix_bin, default_model, "--chat-template", str(t))
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        c.request("POST", "/v1/chat/completions", json.dumps({"messages": messages, "max_tokens": 1}),
                  {"Content-Type": "application/json"})
        body = json.loads(c.getresponse().read())
    finally:
        stop_server(proc)
    assert body["usage"]["prompt_tokens"] == reference_prompt_tokens(default_model, messages)


# ---------------------------------------------------------------- helix chat


def control_token_id(model, text):
    """A token that decodes to exactly `text` (llama.cpp's tokenizer, llama-cpp-python)."""
    import llama_cpp
    llm = llama_cpp.Llama(model_path=model, vocab_only=True, verbose=False)
    ids = llm.tokenize(text, add_bos=False, special=False)
    assert len(ids) == 1 and llm.detokenize(ids) == text, ids
    return ids[0]


@pytest.mark.parametrize("raw,shown", [(b"\x1b", b"^["), (b"\x07", b"^G"), (b"\xc2\x9b", b"<U+009B>")],
                         ids=["ESC", "BEL", "C1-CSI"])
def test_chat_never_writes_raw_control_characters(helix_bin, default_model, raw, shown):
    tok = control_token_id(default_model, raw)
    args = ["-m", default_model, "-n", "6", "--temp", "0", "--logit-bias", f"{tok}+100"]
    # The same biased model through `run` into a pipe writes the raw bytes: the test can fail.
    assert run_helix(helix_bin, "run", *args, "-p", "Hello").stdout.count(raw) >= 3
    r = run_helix(helix_bin, "chat", *args, input=b"Hello\n")  # chat: always shown, never sent
    assert raw not in r.stdout and r.stdout.count(shown) >= 3, r.stdout
    if raw == b"\x1b":
        pexpect = pytest.importorskip("pexpect")  # run on a terminal: shown too
        out = pexpect.run(helix_bin, args=["run", *args, "-p", "Hello"], timeout=120,
                          env={**os.environ, "TERM": "xterm"})
        assert raw not in out and out.count(shown) >= 3, out


def test_chat_drops_oldest_turns_when_the_context_fills(helix_bin, default_model, tmp_path):
    save = tmp_path / "conv.json"
    lines = [f"Message number {i}: tell me one short fact about the number {i}." for i in range(1, 9)]
    too_long = "word " * 300
    stdin = "\n".join(lines[:2] + [too_long] + lines[2:] + [f"/save {save}"]) + "\n"
    r = run_helix(helix_bin, "chat", "-m", default_model, "-c", "160", "-n", "12", "--temp", "0",
                  "-s", "You are terse.", input=stdin.encode())
    out = r.stdout.decode()
    assert out.count("outgrew the context of 160 tokens") == 1, out
    assert out.count("shorten it or restart with a larger -c") == 1, out  # the one message too long alone
    assert "[cut" not in out, out
    msgs = json.loads(save.read_text())
    assert msgs[0] == {"role": "system", "content": "You are terse."}
    assert msgs[1]["role"] == "user" and msgs[1]["content"] != lines[0]  # the oldest turns are gone
    assert msgs[-2] == {"role": "user", "content": lines[-1]} and msgs[-1]["role"] == "assistant"


def test_chat_on_a_terminal(helix_bin, default_model, tmp_path):
    pexpect = pytest.importorskip("pexpect")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "TERM": "xterm"}
    child = pexpect.spawn(helix_bin, ["chat", "-m", default_model, "-n", "4", "--temp", "0", "-c", "512"],
                          env=env, timeout=120)
    try:
        child.expect_exact("> ")
        child.send("Hi\r")
        child.expect_exact("> ")
        # Line editing: "/rset", three times cursor-left, insert "e" -> "/reset".
        child.send("/rset" + "\x1b[D" * 3 + "e\r")
        child.expect_exact("(conversation reset)")
        child.expect_exact("> ")
        # Backspace (DEL) edits too.
        child.send("/resxx\x7f\x7fet\r")
        child.expect_exact("(conversation reset)")
        child.expect_exact("> ")
        child.send("/save\r")
        child.expect_exact("/save needs a file name")
        child.expect_exact("> ")
        child.send("/save /nonexistent/x.json\r")
        child.expect_exact("could not save to /nonexistent/x.json: No such file or directory")
        child.expect_exact("> ")
        # History: arrow-up recalls the last line.
        child.send("/system Be kind.\r")
        child.expect_exact("(system prompt set")
        child.expect_exact("> ")
        child.send("\x1b[A\r")
        child.expect_exact("(system prompt set")
        child.expect_exact("> ")
        # Ctrl-C at the prompt does not quit.
        child.sendintr()
        child.expect_exact("(Ctrl-C stops a reply")
        child.send("/reset\r")
        child.expect_exact("(conversation reset)")
        child.expect_exact("> ")
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    path = tmp_path / "state" / "helix" / "chat_history"
    history = path.read_text().replace("\\040", " ")  # libedit's file escapes spaces
    assert "Hi\n" in history and "/reset\n" in history and "/system Be kind.\n" in history
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    # A new chat reads the history file: arrow-up recalls the last line of the previous one.
    child = pexpect.spawn(helix_bin, ["chat", "-m", default_model, "-n", "4"], env=env, timeout=120)
    try:
        child.expect_exact("> ")
        child.send("\x1b[A\r")
        child.expect_exact("(conversation reset)")
        # Wait for the next prompt: libedit flushes input typed before it takes the terminal.
        child.expect_exact("> ")
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def test_bench_on_a_tiny_model(helix_bin, tiny_f32):
    # The synthetic prompt ids stay inside a 320-token vocabulary (they started at id 1000).
    r = run_helix(helix_bin, "bench", "-m", tiny_f32, "--prefill", "16", "--depths", "0,8", "--decode-tokens", "4",
                  "--streams", "2", check=False)
    assert r.returncode == 0, r.stderr.decode()
    out = json.loads(r.stdout)
    assert set(out["prefill_tps"]) == {"16"} and set(out["decode_tps"]) == {"0", "8"}
    assert all(v > 0 for v in [*out["prefill_tps"].values(), *out["decode_tps"].values()])


# ---------------------------------------------------------------- helix quantize


@pytest.fixture(scope="module")
def tiny_f32(helix_bin, tmp_path_factory):
    p = tmp_path_factory.mktemp("q") / "tiny.gguf"
    run_helix(helix_bin, "tiny-model", "llama", p)
    return p


def test_quantize_checks_the_output_first(helix_bin, tiny_f32, tmp_path):
    cases = [
        (tmp_path / "no" / "such" / "dir" / "out.gguf", "does not exist"),
        (tmp_path, "is a folder"),
        (tiny_f32, "is the input file"),
        (f"{tiny_f32.parent}/./{tiny_f32.name}", "is the input file"),
    ]
    link = tmp_path / "link.gguf"
    link.symlink_to(tiny_f32)
    cases.append((link, "is the input file"))
    for out, message in cases:
        r = run_helix(helix_bin, "quantize", tiny_f32, out, "Q8_0", check=False)
        err = r.stderr.decode()
        assert r.returncode == 1 and message in err, err
        assert "[1/" not in err  # nothing was converted
    assert link.is_symlink()


def test_quantize_reports_file_sizes(helix_bin, tiny_f32, tmp_path):
    out = tmp_path / "q.gguf"
    r = run_helix(helix_bin, "quantize", tiny_f32, out, "Q8_0")
    m = re.search(r"\((\d+) -> (\d+) bytes\)", r.stderr.decode())
    assert m, r.stderr.decode()
    assert int(m.group(1)) == os.path.getsize(tiny_f32)
    assert int(m.group(2)) == os.path.getsize(out)


# ---------------------------------------------------------------- helix inspect


def test_inspect_names_file_type_and_counts(helix_bin, default_model):
    import gguf
    import llama_cpp
    llm = llama_cpp.Llama(model_path=default_model, n_ctx=16, verbose=False)
    params = llama_cpp.llama_model_n_params(llm.model)  # llama.cpp's count
    j = json.loads(run_helix(helix_bin, "inspect", default_model, "--json", "--no-tensors").stdout)
    assert j["file_type_name"] == "Q4_K_M" and gguf.LlamaFileType(j["file_type"]).name == "MOSTLY_Q4_K_M"
    assert j["parameter_count"] == params
    assert sum(t["parameters"] for t in j["types"]) == params
    assert sum(t["bytes"] for t in j["types"]) < os.path.getsize(default_model)
    text = run_helix(helix_bin, "inspect", default_model, "--no-tensors").stdout.decode()
    assert f"file type:    Q4_K_M (general.file_type = {j['file_type']})" in text
    assert f"parameters:   {params}" in text


def test_inspect_bytes_per_type(helix_bin, tiny_f32, tmp_path):
    import gguf
    out = tmp_path / "q.gguf"
    run_helix(helix_bin, "quantize", tiny_f32, out, "Q4_K_M")  # several types in one file
    by_type = {}
    for t in gguf.GGUFReader(out).tensors:
        e = by_type.setdefault(t.tensor_type.name, [0, 0, 0])
        e[0] += 1
        e[1] += int(np.prod(t.shape))
        e[2] += int(t.n_bytes)
    assert len(by_type) >= 2, by_type
    j = json.loads(run_helix(helix_bin, "inspect", out, "--json", "--no-tensors").stdout)
    assert {t["type"]: [t["tensors"], t["parameters"], t["bytes"]] for t in j["types"]} == by_type
    assert j["parameter_count"] == sum(v[1] for v in by_type.values())
    assert j["file_type_name"] == "Q4_K_M"


def test_inspect_file_type_names_match_llama_cpp(helix_bin, tmp_path):
    import gguf
    for ft in gguf.LlamaFileType:
        if ft.value == gguf.LlamaFileType.GUESSED:
            continue
        p = tmp_path / f"ft{ft.value}.gguf"
        w = gguf.GGUFWriter(str(p), "llama")
        w.add_file_type(ft.value)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        j = json.loads(run_helix(helix_bin, "inspect", p, "--json").stdout)
        want = ft.name.removeprefix("MOSTLY_").removeprefix("ALL_")
        assert j["file_type_name"] == want, (ft, j["file_type_name"])
