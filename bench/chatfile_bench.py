#!/usr/bin/env python3
"""ChatFile against a peer on the same documents and the same model: LlamaIndex (PyPI
llama-index-core + llama-index-llms-openai-like) pointed at `helix serve` through its
OpenAI-compatible LLM class. The peer summarises with tree-summarize and answers with a vector index
query engine (embeddings from the same server's /v1/embeddings); Helix runs `helix chatfile`.
Both are scored with bench/chatfile_eval.py's scorers on scripts/make_chatfile_eval.py's documents:
key-point recall (facts of the report found in the summary / key points), answer accuracy, and wall time.

  pip install llama-index-core llama-index-llms-openai-like
  HELIX_BIN=build/helix python3 bench/chatfile_bench.py --size small [--questions 8]

Not run by CI (it needs the packages above and minutes of model time).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
import chatfile_eval  # noqa: E402
from conftest import start_server, stop_server  # noqa: E402


def peer(port, report, facts):
    from llama_index.core import Document, Settings, SummaryIndex, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.llms.openai_like import OpenAILike
    import openai

    class ServerEmbedding(BaseEmbedding):
        """The server's /v1/embeddings (all-MiniLM-L6-v2): LlamaIndex's OpenAIEmbedding only takes
        OpenAI's model names, which helix serve refuses."""

        def _embed(self, texts):
            c = openai.OpenAI(base_url=base, api_key="none", timeout=600)
            r = c.embeddings.create(model="all-MiniLM-L6-v2", input=texts, extra_body={"truncate": True})
            return [d.embedding for d in r.data]

        def _get_query_embedding(self, query):
            return self._embed([query])[0]

        async def _aget_query_embedding(self, query):
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text):
            return self._embed([text])[0]

        def _get_text_embeddings(self, texts):
            return self._embed(texts)

    base = f"http://127.0.0.1:{port}/v1"
    Settings.llm = OpenAILike(model="helix", api_base=base, api_key="none", is_chat_model=True,
                              context_window=4096, max_tokens=256, temperature=0)
    # all-MiniLM-L6-v2 reads 256 tokens: the vector index gets passages of that size (as helix chatfile's
    # are), and anything longer is truncated by the server rather than refused
    Settings.embed_model = ServerEmbedding(model_name="all-MiniLM-L6-v2", embed_batch_size=32)
    Settings.node_parser = SentenceSplitter(chunk_size=1024, chunk_overlap=64)
    doc = Document(text=open(report, encoding="utf-8").read())
    t = time.time()
    summary = SummaryIndex.from_documents([doc]).as_query_engine(response_mode="tree_summarize").query(
        "List the key facts, figures, names and dates of this document.")
    t_sum = time.time() - t
    t = time.time()
    qe = VectorStoreIndex.from_documents([doc], transformations=[SentenceSplitter(chunk_size=200, chunk_overlap=20)]
                                         ).as_query_engine(similarity_top_k=5)
    answers = [str(qe.query(f["question"])) for f in facts]
    t_qa = time.time() - t
    kp = sum(f["answer"] in str(summary) for f in facts) / len(facts)
    acc = sum(f["answer"] in a for f, a in zip(facts, answers)) / len(facts)
    return {"key_point_recall": kp, "answer_accuracy": acc, "summary_s": t_sum, "questions_s": t_qa,
            "summary": str(summary), "answers": answers}


def cpu(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def helix(helix_bin, report, facts, work, extra):
    base = [helix_bin, "chatfile", report, "--json", "--cache", os.path.join(work, "cache"), *extra]
    t = time.time()
    k = json.loads(subprocess.run(base + ["--key-points"], capture_output=True, text=True, check=True).stdout)
    t_sum = time.time() - t
    asks = [x for f in facts for x in ("--ask", f["question"])]
    t = time.time()
    q = json.loads(subprocess.run(base + ["--no-history"] + asks, capture_output=True, text=True, check=True).stdout)
    t_qa = time.time() - t
    r = chatfile_eval.score_key_points(k["key_points"]["key_points"], facts)
    r.update(chatfile_eval.score_answers(q["answers"], facts))
    r.update({"summary_s": t_sum, "questions_s": t_qa})
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="small", choices=["tiny", "small", "full", "xl"])
    ap.add_argument("--questions", type=int, default=0)
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--helix", default=os.environ.get("HELIX_BIN", os.path.join(ROOT, "build", "helix")))
    ap.add_argument("--model", default=os.path.expanduser("~/.local/share/helix/models/default.gguf"))
    ap.add_argument("--adapter", default=os.path.expanduser("~/.local/share/helix/adapters/assistant.gguf"),
                    help="the assistant adapter both sides use (helix chatfile applies it by default; the server "
                         "gets --lora); 'none' for the base model on both sides")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="chatfile-bench-")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_chatfile_eval.py"), work, "--size", a.size],
                   check=True, capture_output=True)
    gold = json.load(open(os.path.join(work, "gold.json"), encoding="utf-8"))
    facts = gold["report"]["facts"][: a.questions or None]
    report = os.path.join(work, gold["report"]["file"])
    adapter = [] if a.adapter == "none" or not os.path.exists(a.adapter) else ["--lora", a.adapter]
    print(f"adapter: {adapter[1] if adapter else 'none'}; load average {open('/proc/loadavg').read().split()[0]}",
          file=sys.stderr)
    c0 = cpu(resource.RUSAGE_CHILDREN)
    h = helix(a.helix, report, facts, work, [] if adapter else ["--no-adapter"])
    h["cpu_s"] = cpu(resource.RUSAGE_CHILDREN) - c0
    c0, s0 = cpu(resource.RUSAGE_CHILDREN), cpu(resource.RUSAGE_SELF)
    # 8192: LlamaIndex packs 4096 tokens as tiktoken counts them, more in Gemma's tokens
    proc, port = start_server(a.helix, a.model, "-c", "8192", "--embeddings", *adapter)
    try:
        p = peer(port, report, facts)
    finally:
        stop_server(proc)
    p["cpu_s"] = cpu(resource.RUSAGE_CHILDREN) - c0 + cpu(resource.RUSAGE_SELF) - s0  # the server + LlamaIndex itself
    lines = ["| | key-point recall | answer accuracy | summary / key points (s) | questions (s) | CPU s (all) |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in (("helix chatfile", h), ("LlamaIndex 0.14 on helix serve", p)):
        lines.append(f"| {name} | {r['key_point_recall']:.2f} | {r['answer_accuracy']:.2f} | {r['summary_s']:.1f} | "
                     f"{r['questions_s']:.1f} | {r['cpu_s']:.0f} |")
    lines.append(f"| ratio helix / LlamaIndex | | | {h['summary_s'] / p['summary_s']:.2f} | "
                 f"{h['questions_s'] / p['questions_s']:.2f} | {h['cpu_s'] / p['cpu_s']:.2f} |")
    print("\n".join(lines))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"size": a.size, "questions": len(facts), "adapter": adapter[1] if adapter else None,
                       "helix": h, "llamaindex": p, "table": lines}, f, indent=1)


if __name__ == "__main__":
    main()
