"""Deterministic corpus of varied texts for tokenizer reference tests and benchmarks.

texts(n, seed) returns n strings mixing English, Chinese, Japanese, Korean, Cyrillic, Greek,
Arabic, Hindi, Thai, code, emoji (ZWJ sequences, flags, skin tones), numbers, runs of spaces,
tabs and newlines, HTML tags, accents and text that spells special tokens. The same arguments
always give the same texts (random.Random with a fixed seed; no files, no network).
"""
import random

WORDS = (
    "the of and to in is was for on that with as by at from it an be this are or which had "
    "not but have his they were one all their she there been has more when will would who so "
    "no if out up what about into than them can only other new some could time these two may "
    "then do first any my now such like our over man me even most made after also did many "
    "before must through back years where much your way well down should because each just "
    "those people Mr how too little state good very make world still own see men work long "
    "get here between both life being under never day same another know while last might us "
    "great old year off come since against go came right used take three tokenizer llama "
    "Gemma transformer attention gradient embedding don't isn't we're they've I'm you'll he'd "
    "It's O'Neil rock'n'roll naïve café résumé coöperate façade Zürich São Paulo Ångström "
    "HTTP JSON API URL GPU CPU x86_64 AVX2 well-known state-of-the-art e-mail co-op").split()
ZH = ("我想在苹果公司工作今天天气很好人工智能正在改变世界这是一个测试句子中华人民共和国"
      "北京上海广州深圳机器学习深度神经网络自然语言处理大模型训练推理部署服务的了是在不有")
JA = "こんにちは世界カタカナひらがな東京都日本語の文章を書きますトークナイザーテスト"
KO = "안녕하세요세계한국어문장토크나이저테스트서울대한민국"
OTHER = ["Привет, мир! Как дела?", "Ελληνικά γράμματα αβγδ", "مرحبا بالعالم", "नमस्ते दुनिया",
         "สวัสดีชาวโลก", "Ünïcödé ñ ß ø å æ œ", "Cửa Việt", "İstanbul ığdır", "ﬁ ﬂ ǆ Ǆ ǅ",
         "x² + y³ = z⁴", "½ ¼ ¾ ⅓ Ⅻ ⑦", "Ⓗⓔⓛⓛⓞ", "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ１２３", "e\u0301 a\u0308 n\u0303",
         "zero\u200bwidth\u200cjoin\u200d", "soft\u00adhyphen", "nbsp\u00a0here", "ideo\u3000space",
         "em\u2003space", "line\u2028sep", "\u00e9\u0300\u0301", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛", "🀄🃏"]
EMOJI = ["😀", "😁", "🦙", "🚀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸", "🇯🇵", "❤️", "✨", "🤖",
         "😶‍🌫️", "🧑🏿‍💻", "☕", "⚡", "🎉", "#️⃣", "©", "™"]
CODE = [
    "def f(x):\n    return x ** 2  # square\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}\n",
    "const auto it = std::find_if(v.begin(), v.end(), [](int x) { return x > 0; });",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC;",
    "<html><body><h1>Title</h1><p class=\"x\">Hello &amp; welcome</p></body></html>",
    "<table><tr><td>1</td><td>2</td></tr></table>",
    "{\"key\": [1, 2.5, -3e10, true, null], \"nested\": {\"a\": \"b\"}}",
    "if [ -f ~/.bashrc ]; then source ~/.bashrc; fi && echo $HOME | tr a-z A-Z",
    "fn main() { println!(\"{:?}\", vec![1u8, 2, 3]); }",
    "x = [i for i in range(10) if i % 2 == 0]\nprint(f\"{x!r:>10}\")",
    "    indented\n        more\n\t\ttabs\n",
    "#include <stdio.h>\nint main(void){printf(\"%d\\n\",42);return 0;}",
    "a->b->c; p = &q; *r = s[t]; u |= v ^ w << 2 >> 1;",
    "https://example.com/path?query=1&other=two#frag user@mail.org",
    "$ git commit -m 'fix: handle \\r\\n line endings'\r\n",
]
SPECIAL_TEXT = ["<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>", "<pad>", "<unk>", "<mask>",
                "[multimodal]", "<unused0>", "<start_of_image>", "<s>", "</s>", "<|endoftext|>",
                "<|im_start|>", "<0x41>", "▁", "▁▁hello"]
SPACES = [" ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", " \n ",
          "\n    ", "          ", "\t \t", " \u00a0 ", "\v", "\f"]


def _number(r):
    k = r.randrange(8)
    if k == 0:
        return str(r.randrange(10))
    if k == 1:
        return str(r.randrange(10 ** r.randrange(1, 20)))
    if k == 2:
        return f"{r.uniform(-1e6, 1e6):.{r.randrange(0, 8)}f}"
    if k == 3:
        return f"{r.randrange(1, 9999):,}"
    if k == 4:
        return f"{r.random():.3e}"
    if k == 5:
        return "".join(r.choice("0123456789") for _ in range(r.randrange(1, 40)))
    if k == 6:
        return f"{r.randrange(1900, 2100)}-{r.randrange(1, 13):02d}-{r.randrange(1, 29):02d}"
    return f"v{r.randrange(10)}.{r.randrange(100)}.{r.randrange(1000)}"


def _piece(r):
    k = r.randrange(100)
    if k < 40:
        w = r.choice(WORDS)
        c = r.randrange(10)
        return w.capitalize() if c == 0 else (w.upper() if c == 1 else w)
    if k < 48:
        return r.choice(".,;:!?'\"()[]{}-—–…/\\@#$%^&*_+=<>|~`")
    if k < 56:
        return _number(r)
    if k < 64:
        src = r.choice([ZH, ZH, JA, KO])
        i = r.randrange(len(src))
        return src[i:i + r.randrange(1, 12)]
    if k < 70:
        return r.choice(OTHER)
    if k < 77:
        return "".join(r.choice(EMOJI) for _ in range(r.randrange(1, 4)))
    if k < 85:
        return r.choice(SPACES)
    if k < 90:
        return r.choice(CODE)
    if k < 94:
        return r.choice(SPECIAL_TEXT)
    if k < 97:
        return chr(r.choice([r.randrange(0x20, 0x7f), r.randrange(0xa0, 0x2000),
                             r.randrange(0x2000, 0x3000), r.randrange(0x4e00, 0x9fff),
                             r.randrange(0x1f300, 0x1fa00), r.randrange(0x10000, 0x20000)]))
    return r.choice(["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "n't"])


def text(r):
    n = r.choice([1, 1, 2, 3, 5, 8, 13, 21, 40])
    out = []
    for _ in range(n):
        p = _piece(r)
        sep = r.choice([" ", " ", " ", "", "", "\n", "  ", "\t"])
        out.append(p + sep)
    s = "".join(out)
    if r.random() < 0.3:
        s = s.rstrip()
    if r.random() < 0.1:
        s = " " + s
    return s


def texts(n=3000, seed=1234):
    r = random.Random(seed)
    fixed = ["", " ", "  ", "\n", "\n\n\n", "\t", "Hello world", " Hello world", "Hello, y'all!",
             "3333333", "🦙.cpp", "中文测试", "   leading and trailing   ", "a" * 300,
             " " * 100, "\n" * 50, "x" * 40 + " " * 40 + "y", "<start_of_turn>user\nHi<end_of_turn>\n"]
    out = list(fixed)
    while len(out) < n:
        out.append(text(r))
    return out[:n]


def big_text(min_bytes=10 * 1024 * 1024, seed=99):
    """A text of at least min_bytes UTF-8 bytes (for benchmarks)."""
    r = random.Random(seed)
    parts = []
    size = 0
    while size < min_bytes:
        t = text(r) + "\n"
        parts.append(t)
        size += len(t.encode("utf-8"))
    return "".join(parts)
