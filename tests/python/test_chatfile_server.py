"""ChatFile through `helix serve`: the real openai client's files API (upload, list, retrieve,
content, delete) and POST /v1/chatfile over real HTTP with the default model: minutes that validate
against the published schema and hold the same decisions as the CLI, cited answers, clear 4xx errors."""
import http.client
import json
import os
import subprocess
import sys

import jsonschema
import openai
import pytest

from conftest import openai_client, start_server, stop_server

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def post(port, path, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, json.loads(r.read())


@pytest.fixture(scope="module")
def served(helix_bin, default_model, tmp_path_factory):
    d = tmp_path_factory.mktemp("cfs")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_chatfile_eval.py"), str(d), "--size", "tiny"],
                   check=True, capture_output=True)
    old = {k: os.environ.get(k) for k in ("XDG_DATA_HOME", "XDG_CACHE_HOME")}
    data_home = old["XDG_DATA_HOME"] or os.path.expanduser("~/.local/share")
    embed = os.environ.get("HELIX_EMBED_MODEL") or os.path.join(data_home, "helix", "models", "embed")
    os.environ["XDG_DATA_HOME"] = str(d / "data")
    os.environ["XDG_CACHE_HOME"] = str(d / "cache")
    try:
        proc, port = start_server(helix_bin, default_model, "-c", "4096", "--embed-model", embed)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    yield d, port
    stop_server(proc)


def test_files_api_with_the_openai_client(served):
    d, port = served
    client = openai_client(port)
    data = (d / "meeting_zh.txt").read_bytes()
    f = client.files.create(file=("meeting_zh.txt", data), purpose="assistants")
    assert f.id.startswith("file-") and f.bytes == len(data) and f.filename == "meeting_zh.txt"
    assert f.id in [x.id for x in client.files.list().data]
    assert client.files.retrieve(f.id).filename == "meeting_zh.txt"
    assert client.files.content(f.id).read() == data
    assert client.files.delete(f.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(f.id)
    with pytest.raises(openai.BadRequestError, match="not a type ChatFile reads"):
        client.files.create(file=("tool.exe", b"MZ\x00\x00"), purpose="assistants")


def test_chatfile_route_minutes_and_answers(served, helix_bin, tmp_path):
    d, port = served
    client = openai_client(port)
    meeting = client.files.create(file=("meeting_zh.txt", (d / "meeting_zh.txt").read_bytes()), purpose="assistants")
    report = client.files.create(file=("report_en.md", (d / "report_en.md").read_bytes()), purpose="assistants")
    status, out = post(port, "/v1/chatfile", {"file_ids": [meeting.id], "tasks": ["minutes"], "chunk_tokens": 600})
    assert status == 200, out
    m = out["minutes"]
    jsonschema.validate(m, json.load(open(os.path.join(ROOT, "schemas", "minutes.schema.json"))))
    # The same decisions as the command line on the same file and settings (its own cache).
    cli = subprocess.run([helix_bin, "chatfile", str(d / "meeting_zh.txt"), "--minutes", "--json", "--chunk-tokens",
                          "600", "--cache", str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert [x["text"] for x in json.loads(cli.stdout)["minutes"]["decisions"]] == [x["text"] for x in m["decisions"]]
    status, out = post(port, "/v1/chatfile", {"file_ids": [report.id],
                                              "questions": ["How many customer accounts did the authority serve?"]})
    assert status == 200, out
    a = out["answers"][0]
    assert "412,600" in a["answer"] and a["citations"]
    assert "412,600" in a["passages"][a["citations"][0] - 1]["text"]


def test_chatfile_route_errors(served):
    _, port = served
    status, out = post(port, "/v1/chatfile", {"file_ids": ["file-000000000000000000000000"], "tasks": ["summary"]})
    assert status == 404 and "No such file" in out["error"]["message"]
    status, out = post(port, "/v1/chatfile", {"file_ids": []})
    assert status == 400 and out["error"]["param"] == "file_ids"
    client = openai_client(port)
    f = client.files.create(file=("x.txt", b"hello there."), purpose="assistants")
    status, out = post(port, "/v1/chatfile", {"file_ids": [f.id], "tasks": ["poem"]})
    assert status == 400 and "unknown task" in out["error"]["message"]
