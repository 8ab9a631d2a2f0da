"""Realistic grounded-answer data for recipes/assistant (imported by scripts/make_assistant_data.py).

The short grounded set (gen_grounded there) has 3-5 one-sentence passages. `helix ask` and ChatFile's
Q&A give the model ~6 real chunks of several hundred characters instead, so this module builds samples
in exactly their shape from REAL text that is not in the KB evaluation corpus:
  - English: Debian's man pages (/usr/share/man/man{1,5,7,8}), rendered as the eval corpus was
    (`MANWIDTH=80 man --nh --nj -l FILE | col -bx`), minus the eval corpus's pages;
  - Chinese: Debian's Chinese man pages (/usr/share/man/zh_CN, packages manpages-zh, man-db, login,
    passwd), minus every page the eval corpus has in any language (and vimtutor, gnupg).
Each page is cut into paragraphs the way Helix's text parser does (lines of a block joined) and packed
into chunks of 300-1000 characters (Chinese: 150-500), like Helix's chunker.

Questions are made without a model, from one chunk's text: what an option does (man page option
paragraphs), what a command is for (NAME line), what a term is (definition sentences), what the page
says about some words of a sentence; some need two passages; ~10% are unanswerable ("The passages do
not say."). The answer is extractive (the passage's own words) with the [n] of the passage that holds
it, and the generator asserts that the cited passage holds the answer's evidence.

Two prompt shapes, byte for byte as Helix builds them:
  ask       knowledge::grounded_prompt (src/knowledge/grounding.cpp): instruction, "[n] (label) text"
            one per line (label: the document's title, a man page's "tar.1"; the chunk's newlines as
            spaces), "Question: ..." (Chinese: "问题：...")
  chatfile  chatfile::DocQA::ask (src/chatfile/qa.cpp, prompts.cpp): instructions naming the document,
            the pinned start of the document and the retrieved chunks as "[n] (where)\\ntext\\n\\n",
            then "\\nQuestion: ..." (Chinese: "问题: ...")
"""
import gzip
import hashlib
import os
import re
import subprocess

MAN = "/usr/share/man"
# The KB evaluation corpus (tests/python/data/kb_eval and bench/ask_eval.py): never trained on.
EVAL_PAGES = {"chmod", "chown", "cp", "date", "df", "diff", "du", "gzip", "gunzip", "zcat", "head", "kill", "ln", "ls",
              "mkdir", "mv", "rm", "sed", "sort", "tail", "touch", "uniq", "wc", "chage", "chfn", "chsh", "faillog",
              "gpasswd", "groupadd", "groupmod", "lastlog", "newgrp", "passwd", "su", "useradd", "userdel", "usermod",
              "vimtutor", "gpg", "gpg2", "gnupg", "gpgv", "dir", "vdir"}  # dir, vdir: the ls page

ASK_EN = "Answer the question using only the numbered passages below. Cite the passages you use as [n].\n\n"
ASK_ZH = "只根据下面编号的段落回答问题，并用 [n] 标注所用段落。\n\n"
CF_EN = ("You answer questions about the document \"%T\" using only the numbered passages given to you. After each "
         "sentence, cite the passages it uses as [n]. If the passages do not hold the answer, say that the document "
         "does not say. Answer briefly.")
CF_ZH = "你根据给出的编号段落回答关于文档《%T》的问题，只使用这些段落。每句话后用 [n] 标出所用的段落。如果段落中没有答案，就说文档中没有提到。回答要简短。"
NOT_SAY = {("ask", False): "The passages do not say.", ("ask", True): "这些段落没有提到。",
           ("chatfile", False): "The document does not say.", ("chatfile", True): "文档中没有提到。"}
MAX_TOKENS = 1380  # a sample must fit the recipe's seq_len (1536) with the chat template around it
ASK_BUDGET = 1365  # helix ask's passage budget: min(1500, n_ctx / 3) tokens at the default 4096 context
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def is_cjk_text(s):
    return len(CJK.findall(s)) * 3 > len(s.replace(" ", ""))


def mostly_cjk(s):
    """docs::mostly_cjk: CJK characters are at least a fifth of the letters (how helix ask and
    ChatFile choose the Chinese wording)."""
    letters = [c for c in s if c.isalpha()]
    cjk = sum(1 for c in letters if re.match(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]", c))
    return bool(letters) and cjk / len(letters) >= 0.2


def est_tokens(s):
    """Gemma's tokens, roughly: a CJK character is about one token, man-page text about 3.2 characters."""
    n_cjk = len(CJK.findall(s))
    return n_cjk + int((len(s) - n_cjk) / 3.2 + 1)


# ---- documents ---------------------------------------------------------------------------------
def page_name(path):
    base = os.path.basename(path)
    return base[:-3] if base.endswith(".gz") else base


def command_of(path):
    return page_name(path).rsplit(".", 1)[0]


def render(path):
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="0")
    try:
        man = subprocess.run(["man", "--nh", "--nj", "-l", path], capture_output=True, env=env, timeout=30)
        col = subprocess.run(["col", "-bx"], input=man.stdout, capture_output=True, env=env, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return col.stdout.decode("utf-8", "replace")


def squeeze_cjk(s):
    """manpages-zh puts spaces between words ("本手册页 描述 GNU 版本"): drop spaces between CJK characters."""
    return re.sub(r"(?<=[\u3000-\u9fff\uff00-\uffef]) +(?=[\u3000-\u9fff\uff00-\uffef])", "", s)


def paragraphs(text, zh):
    """Blocks separated by blank lines, their lines joined with single spaces (Helix's text parser)."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln.strip() for ln in block.split("\n") if ln.strip()]
        if not lines:
            continue
        p = re.sub(r"\s+", " ", " ".join(lines)).strip()
        if zh:
            p = squeeze_cjk(p)
        out.append(p)
    # the page's running header and footer lines ("LS(1) User Commands LS(1)") stay as in the eval chunks
    return out


def split_long(p, limit):
    """A paragraph longer than `limit` characters cut at sentence ends."""
    if len(p) <= limit:
        return [p]
    parts, cur = [], ""
    for s in re.split(r"(?<=[.!?。！？；])\s*", p):
        if cur and len(cur) + len(s) + 1 > limit:
            parts.append(cur)
            cur = ""
        cur = (cur + " " + s).strip() if cur and not is_cjk_text(s) else cur + s
    if cur:
        parts.append(cur)
    return [x[:limit] for x in parts if x]


def chunks_of(paras, rng, zh):
    """Paragraphs packed into chunks of 300-1000 characters (Chinese 150-500), joined by blank lines."""
    lo, hi = (150, 500) if zh else (300, 1000)
    out, cur = [], []
    target = rng.randint(lo + (hi - lo) // 3, hi)
    for p in [x for para in paras for x in split_long(para, hi)]:
        if cur and len("\n\n".join(cur + [p])) > target:
            out.append("\n\n".join(cur))
            cur, target = [], rng.randint(lo + (hi - lo) // 3, hi)
        cur.append(p)
    if cur:
        out.append("\n\n".join(cur))
    return [c for c in out if len(c) >= lo // 2]


def load_docs(rng, n_en, n_zh, log=print):
    """Rendered, chunked man pages: [{"name", "cmd", "zh", "chunks", "sha"}]."""
    def listing(folder, exclude_en_names):
        out = []
        for sec in ("man1", "man5", "man7", "man8"):
            d = os.path.join(folder, sec)
            if os.path.isdir(d):
                out += [os.path.join(d, f) for f in sorted(os.listdir(d))
                        if command_of(f) not in EVAL_PAGES and command_of(f) not in exclude_en_names]
        return out
    en_files = listing(MAN, set())
    zh_files = listing(os.path.join(MAN, "zh_CN"), set())
    rng.shuffle(en_files)
    rng.shuffle(zh_files)
    docs = []
    for files, want, zh in ((en_files, n_en, False), (zh_files, n_zh, True)):
        got, seen, family = 0, set(), {}
        for f in files:
            if got >= want:
                break
            fam = re.split(r"[_\-.]", command_of(f))[0]
            if command_of(f) in seen or family.get(fam, 0) >= (3 if zh else 2):  # not 300 gcloud pages
                continue
            text = render(f)
            if not (2000 <= len(text) <= 120000) or (zh and not is_cjk_text(text[:4000]) and len(CJK.findall(text)) < 300):
                continue
            odd = sum(1 for c in text if ord(c) > 127 and not CJK.match(c) and c not in "“”‘’—–…·©®°×")
            if odd > 0.01 * len(text):  # charset tables (iso_8859-11(7), koi8-r(7)): not prose, token-dense
                continue
            chunks = chunks_of(paragraphs(text, zh), rng, zh)
            if len(chunks) < 3:
                continue
            seen.add(command_of(f))
            family[fam] = family.get(fam, 0) + 1
            docs.append({"id": ("zh_CN/" if zh else "") + page_name(f), "name": page_name(f) + ".txt", "cmd": command_of(f), "zh": zh, "chunks": chunks,
                         "sha": hashlib.sha256(text.encode()).hexdigest()[:16]})
            got += 1
            if got % 50 == 0:
                log(f"  rendered {got}/{want} {'Chinese' if zh else 'English'} man pages")
    return docs


# ---- facts -------------------------------------------------------------------------------------
OPT_ARG = re.compile(r"^(\[?=?[A-Z][A-Z0-9_\-]*\]?|<[^>]+>|\[[^\]]+\]|=[A-Za-z_\[\]]+|[a-z]+)$")


def option_fact(para):
    """'-s, --symbolic-link make symbolic links' -> (spec, short, long, description) or None."""
    toks = para.split(" ")
    if not toks or not re.match(r"^--?[A-Za-z0-9?@]", toks[0]):
        return None
    i, spec = 0, []
    while i < len(toks):
        t = toks[i]
        prev_comma = spec and spec[-1].endswith(",")
        if re.match(r"^--?[A-Za-z0-9?@][\w\-=\[\]<>.]*,?$", t) or (spec and not prev_comma and OPT_ARG.match(t.rstrip(","))
                                                                    and t.rstrip(",").isupper()):
            spec.append(t)
            i += 1
            continue
        break
    desc = " ".join(toks[i:]).strip()
    if not spec or len(spec) > 5:
        return None
    zh = is_cjk_text(desc)
    if (zh and len(CJK.findall(desc)) < 4) or (not zh and len(desc.split()) < 3) or not re.match(r"^[\w\u3400-\u9fff(\"']", desc):
        return None
    names = [re.split(r"[=\[<,]", t)[0] for t in spec if t.startswith("-")]
    short = next((n for n in names if re.match(r"^-[A-Za-z0-9?@]$", n)), None)
    long = next((n for n in names if n.startswith("--") and len(n) > 3), None) or next(
        (n for n in names if re.match(r"^-[a-z][a-z0-9\-]{2,}$", n)), None)  # find's -daystart
    if not short and not long:
        return None
    first = re.split(r"(?<=[.。;；!?])\s", desc)[0]
    return " ".join(spec), short, long, first[:220]


DEF_EN = re.compile(r"^(?:An? |The )?\"?([A-Za-z][A-Za-z0-9_\-]{2,30}(?: [A-Za-z0-9_\-]{2,20}){0,2})\"? (is|are|means|shall mean|refers to) (an? |the )?(.{12,220}?[.])$")
NOT_TERM = {"it", "this", "that", "there", "these", "those", "which", "what", "he", "she", "they", "default", "the default",
            "this option", "this file", "this program", "this command", "the program", "the file", "the command", "the result"}


NOT_FIRST = {"this", "these", "that", "those", "it", "there", "each", "all", "some", "any", "if", "when", "one", "no"}


def sentences(para):
    """The sentences of a paragraph, without a leading run of headings ("PARAMETERS IF EXISTS Do ...")."""
    out = []
    for s in re.split(r"(?<=[.!?。！？])\s*", para):
        s = re.sub(r"^(?:[A-Z][A-Z_]+\b ?)+(?=[A-Z][a-z])", "", s.strip()) if re.match(r"^[A-Z]{2}", s.strip()) else s.strip()
        if s:
            out.append(s)
    return out


# "How do I ...?" facts: a sentence that says how to do something. Chinese: "要删除整行，请输入 dd。",
# "如果想..., 可以使用 -x 选项。", "按下 x 键来删除光标所在的字符。"; English: "To list every file, use -a.",
# "Use -r to copy directories recursively.". Users ask helix ask this way ("怎样删除从光标到行末的内容？").
HOW_ZH = re.compile(r"^(?:如果|若|假如)?(?:您|你|用户)?(?:要想|想要|想|要|需要|希望)(?P<task>[^，,。；]{3,24})[，,]\s*"
                    r"(?P<how>[^。！]*?(?:请|可以|可|应该|应|就|则|只需|使用|用|输入|键入|按|执行|运行|指定|加上|设置|调用)[^。！]{1,80})[。！]$")
HOW_ZH2 = re.compile(r"^(?:您|你)?(?:可以|可|只需)?(?:按下|按|输入|键入|使用|用|执行|运行)(?P<how>[^。，,]{1,30}?)(?:来|以便|以)"
                     r"(?P<task>[^，,。]{4,30})[。！]$")
HOW_EN = re.compile(r"^To (?P<task>[a-z][^,;:]{8,90}), (?P<how>[a-z].{6,200})\.$")
HOW_EN2 = re.compile(r"^Use (?P<how>\S.{0,40}?) to (?P<task>[a-z][^,;:]{8,90})\.$")


def howto_of(s, zh):
    """The task a how-to sentence explains ("删除整行", "list every file"), or None."""
    if zh:
        if not 8 <= len(CJK.findall(s)) <= 90:
            return None
        m = HOW_ZH.match(s) or HOW_ZH2.match(s)
        task = m and m.group("task").strip()
        return task if task and len(CJK.findall(task)) >= 2 and not task.startswith(("的", "是", "在")) and "的是" not in task else None
    if not 8 <= len(s.split()) <= 45:
        return None
    m = HOW_EN.match(s) or HOW_EN2.match(s)
    return m.group("task").strip() if m else None


def facts_of(doc):
    """Facts of each chunk: (kind, chunk index, data); data['evidence'] is a substring of the chunk."""
    facts = []
    for ci, ch in enumerate(doc["chunks"]):
        for para in ch.split("\n\n"):
            m = re.match(r"^(?:NAME|名称|名字|名 称)\s+(.{1,60}?)\s+[-–—]\s+(.{6,160})$", para)
            if m and re.split(r"[_\-.]", doc["cmd"])[0].lower() in m.group(1).lower():
                facts.append(("purpose", ci, {"evidence": m.group(2), "what": m.group(2)}))
                continue
            o = option_fact(para)
            if o:
                spec, short, long, desc = o
                facts.append(("option", ci, {"evidence": para[:len(spec) + 1 + len(desc)].strip(), "spec": spec, "short": short,
                                             "long": long, "desc": desc}))
                continue
            for s in sentences(para):
                how = howto_of(s, doc["zh"])
                if how:
                    facts.append(("howto", ci, {"evidence": s, "task": how}))
                    continue
                if doc["zh"]:
                    n = len(CJK.findall(s))
                    if 12 <= n <= 90 and s.endswith(("。", "！", "？")) and not s.startswith(("-", "[")):
                        facts.append(("sentence", ci, {"evidence": s, "rest": ch.replace(s, "")}))
                    continue
                d = DEF_EN.match(s)
                if d and d.group(1).lower() not in NOT_TERM and d.group(1).split()[0].lower() not in NOT_FIRST and not any(
                        w.isupper() and len(w) > 2 for w in d.group(1).split()):
                    facts.append(("definition", ci, {"evidence": s, "term": d.group(1)}))
                elif 8 <= len(s.split()) <= 40 and s[0].isupper() and s.endswith(".") and not s.startswith("-"):
                    facts.append(("sentence", ci, {"evidence": s, "rest": ch.replace(s, "")}))
    # a fact whose text has its own [n] markers would blur the answer's citations
    facts = [f for f in facts if not re.search(r"\[\d+\]|\u3010", f[2]["evidence"] + f[2].get("desc", ""))]
    for f in facts:
        assert f[2]["evidence"] in doc["chunks"][f[1]], (doc["name"], f)
    return facts


# ---- questions and answers ---------------------------------------------------------------------
STOP_EN = set("the a an of to and or in on for with by is are be that this which what when how does do any you your "
              "from as it its not may can if into only will than then also each all other used use using".split())


def keywords(s, rng, k, rest=""):
    """k content words of a sentence, in its order, at least one of them absent from `rest` (the rest of
    its chunk) so that the question points at this sentence, not at a neighbour sharing its words."""
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9_\-]{4,}", s) if w.lower() not in STOP_EN and not w.isupper()]
    words = list(dict.fromkeys(words))
    own = [w for w in words if w.lower() not in rest.lower()]
    if len(words) < 2 or not own:
        return []
    first = rng.choice(own)
    pick = {first} | set(rng.sample([w for w in words if w != first], min(k, len(words)) - 1))
    return [w for w in words if w in pick]


def zh_phrase(s, rng, rest=""):
    """A clause of the sentence (between Chinese punctuation) of 4-14 characters that the rest of its
    chunk does not also hold."""
    clauses = [c.strip() for c in re.split(r"[，,、；;：:。！？（）()]", s)
               if 4 <= len(CJK.findall(c)) and len(c.strip()) <= 14 and c.strip() not in rest]
    return rng.choice(clauses) if clauses else None


def qa(kind, data, doc, rng, n):
    """(question, answer) for one fact cited as [n]; None when the fact gives no good question."""
    zh, cmd = doc["zh"], doc["cmd"]
    if kind == "option":
        opt = data["long"] if data["long"] and rng.random() < 0.6 else (data["short"] or data["long"])
        desc = data["desc"].rstrip(".。")
        how = rng.random() < 0.35
        if zh:
            if how and is_cjk_text(desc):
                return f"使用 {cmd} 时，怎样{desc}？", f"用 {data['spec']} 选项：{desc} [{n}]。"
            return f"{cmd} 命令的 {opt} 选项有什么作用？", f"{data['spec']}：{desc} [{n}]。"
        if how and re.match(r"^[a-z]", desc) and len(desc.split()) <= 16:
            return f"Which option of {cmd} would {desc}?", f"{data['spec']}: {desc} [{n}]."
        form = rng.choice([f"What does the {opt} option of {cmd} do?", f"What does {opt} do in {cmd}?",
                           f"In {cmd}, what is the {opt} option for?"])
        return form, f"In {cmd}, {data['spec']} means: {desc} [{n}]."
    if kind == "purpose":
        if zh:
            return rng.choice([f"{cmd} 是做什么用的？", f"{cmd} 命令有什么作用？"]), f"{cmd}：{data['what']} [{n}]。"
        return rng.choice([f"What is {cmd} used for?", f"What does {cmd} do?"]), f"{cmd}: {data['what'].rstrip('.')} [{n}]."
    if kind == "definition":
        t = data["term"]
        return rng.choice([f"What is {t} according to the {cmd} manual?", f"In {cmd}, what does \"{t}\" mean?",
                           f"What is meant by {t} in {cmd}?"]), f"{data['evidence'][:-1]} [{n}]."
    s = data["evidence"]
    if kind == "howto":
        t = data["task"]
        if zh:
            return rng.choice([f"怎样{t}？", f"如何{t}？", f"在 {cmd} 中怎样{t}？", f"使用 {cmd} 时如何{t}？"]), f"{s.rstrip('。！')} [{n}]。"
        return rng.choice([f"How do I {t}?", f"How can I {t} with {cmd}?", f"In {cmd}, how do you {t}?"]), f"{s[:-1]} [{n}]."
    if zh:
        ph = zh_phrase(s, rng, data.get("rest", ""))
        if not ph:
            return None
        return rng.choice([f"{cmd} 的手册中关于“{ph}”是怎么说的？", f"关于{ph}，{cmd} 的文档怎么说？"]), f"{s.rstrip('。！？')} [{n}]。"
    kw = keywords(s, rng, rng.randint(2, 3), data.get("rest", ""))
    if not kw:
        return None
    return rng.choice([f"What does the {cmd} manual say about {' and '.join(kw)}?",
                       f"According to {cmd}'s documentation, what about {', '.join(kw)}?"]), f"{s[:-1]} [{n}]."


# ---- prompts -----------------------------------------------------------------------------------
def ask_prompt(question, passages, zh, labels):
    """knowledge::grounded_prompt: "[n] (label) text" per passage, label = the document's title and section
    (knowledge::passage_label; a .txt file's title is its stem: "tar.1")."""
    body = "\n".join(f"[{i + 1}] ({l}) {p.replace(chr(10), ' ')}" for i, (p, l) in enumerate(zip(passages, labels)))
    return (ASK_ZH if zh else ASK_EN) + body + ("\n\n问题：" if zh else "\n\nQuestion: ") + question


def chatfile_prompt(question, doc, passages, wheres, zh):
    instr = (CF_ZH if zh else CF_EN).replace("%T", doc["cmd"])
    body = "".join(f"[{i + 1}] ({w})\n{p}\n\n" for i, (p, w) in enumerate(zip(passages, wheres)))
    return instr + "\n\n" + body + "\n" + ("问题" if zh else "Question") + ": " + question


# ---- samples -----------------------------------------------------------------------------------
def pick_passages(rng, docs, doc, must, k, avoid, chatfile):
    """k chunks as (doc, chunk index) in prompt order: `must`, 1-3 more of doc (ChatFile: all from doc,
    its first chunk pinned as [1]), the rest from other pages of the same language; no added chunk
    contains a string of `avoid`; the extras fit helix ask's token budget."""
    chosen = list(must)
    same = [(doc, i) for i in range(len(doc["chunks"])) if (doc, i) not in chosen and (not chatfile or i > 0)]
    rng.shuffle(same)
    # other pages of the language; a small split (--scale 0.1's held-out Chinese) may have no other page of it
    pool = [d for d in docs if d["zh"] == doc["zh"] and d is not doc] or [d for d in docs if d is not doc]
    extra = same if chatfile else same[:rng.randint(1, 3)]
    while not chatfile and pool and len(extra) < k + 8:
        d = rng.choice(pool)
        extra.append((d, rng.randrange(len(d["chunks"]))))
    for e in extra:
        if len(chosen) >= k - (1 if chatfile else 0):
            break
        if e in chosen or any(a in e[0]["chunks"][e[1]] for a in avoid):
            continue
        chosen.append(e)
    while sum(est_tokens(d["chunks"][i]) + 16 for d, i in chosen) > ASK_BUDGET and len(chosen) > max(len(must), 3):
        for j in range(len(chosen) - 1, -1, -1):
            if chosen[j] not in must:
                del chosen[j]
                break
    # any order: retrieval puts the passage that holds the answer anywhere in the list, and a model
    # that learnt "the answer is in [1]" cites [1] (the first run's data put it first half the time)
    order = chosen[len(must):]
    rng.shuffle(order)
    for m in must:
        order.insert(rng.randint(0, len(order)), m)
    if chatfile:
        order = [(doc, 0)] + [o for o in order if o != (doc, 0)]
    return order


KIND_WEIGHT = {"option": 4, "purpose": 1, "definition": 1.5, "sentence": 3, "howto": 3}


def pick_fact(rng, fs):
    """A fact, each kind at KIND_WEIGHT (sentences would crowd out the rest)."""
    kinds = sorted({f[0] for f in fs})
    kind = rng.choices(kinds, [KIND_WEIGHT[k] for k in kinds])[0]
    return rng.choice([f for f in fs if f[0] == kind])


ZH_SHARE = 0.4  # of the samples (the KB eval has about a quarter Chinese questions; Chinese is the weaker side)


def gen_real(rng, docs, facts, shape=None):
    """One realistic grounded sample (a chat record with meta for the citations metric), or None."""
    zh = rng.random() < ZH_SHARE
    while True:
        doc = rng.choice(docs)
        if facts[doc["id"]] and doc["zh"] == zh:
            break
    zh = doc["zh"]
    shape = shape or ("chatfile" if rng.random() < 0.25 else "ask")
    cf = shape == "chatfile"
    k = rng.randint(4, 8) if not cf else rng.randint(4, 6)
    r = rng.random()
    f1 = pick_fact(rng, facts[doc["id"]])
    check = []
    if r < 0.1:  # unanswerable: the fact's chunk is not shown, and no shown chunk holds its key strings
        avoid = [f1[2]["evidence"][:40]] + [x for x in (f1[2].get("long"), f1[2].get("short")) if x and f1[0] == "option"]
        avoid = [a for a in avoid if len(a) > 2] + [doc["chunks"][f1[1]][:60]]
        got = qa(f1[0], f1[2], doc, rng, 1)
        if not got:
            return None
        order = pick_passages(rng, docs, doc, [], k, avoid, cf)
        if any(a in doc["chunks"][i] for d, i in order for a in avoid if d is doc):
            return None
        q, ans, cites = got[0], NOT_SAY[(shape, zh)], []
    elif r < 0.3:  # two facts in two different chunks (ChatFile: of the same page)
        other = doc if cf or rng.random() < 0.5 else rng.choice([d for d in docs if d["zh"] == zh and facts[d["id"]]])
        cands = [f for f in facts[other["id"]] if not (other is doc and f[1] == f1[1])]
        if not cands:
            return None
        f2 = pick_fact(rng, cands)
        order = pick_passages(rng, docs, doc, [(doc, f1[1]), (other, f2[1])], k, [], cf)
        n1, n2 = order.index((doc, f1[1])) + 1, order.index((other, f2[1])) + 1
        g1, g2 = qa(f1[0], f1[2], doc, rng, n1), qa(f2[0], f2[2], other, rng, n2)
        if not g1 or not g2 or g1[0] == g2[0]:
            return None
        q = (g1[0].rstrip("？") + "？另外，" + g2[0]) if zh else (g1[0] + " And " + g2[0][0].lower() + g2[0][1:])
        ans, cites = g1[1] + ("" if zh else " ") + g2[1], sorted({n1, n2})
        check = [(n1, f1[2]["evidence"]), (n2, f2[2]["evidence"])]
    else:
        order = pick_passages(rng, docs, doc, [(doc, f1[1])], k, [], cf)
        n1 = order.index((doc, f1[1])) + 1
        got = qa(f1[0], f1[2], doc, rng, n1)
        if not got:
            return None
        (q, ans), cites = got, [n1]
        check = [(n1, f1[2]["evidence"])]
    passages = [d["chunks"][i] for d, i in order]
    for n, ev in check:  # the cited passage truly holds the fact
        assert ev in passages[n - 1], (q, n, ev)
    assert sorted(int(x) for x in set(re.findall(r"\[(\d+)\]", ans))) == cites, (ans, cites)
    labels = [d["name"][:-len(".txt")] for d, i in order]
    if cf:
        wheres = [d["name"] + (f" \u00b7 {sec}" if (sec := section_of(d["chunks"][i])) and rng.random() < 0.5 else "")
                  for d, i in order]
        prompt_zh = mostly_cjk("".join(doc["chunks"]))  # ChatFile's language is the document's
        user = chatfile_prompt(q, doc, passages, wheres, prompt_zh)
    else:
        prompt_zh = mostly_cjk(q)  # helix ask's is the question's
        user = ask_prompt(q, passages, prompt_zh, labels)
    if est_tokens(user) + est_tokens(ans) > MAX_TOKENS:
        return None
    meta = {"format": "citations", "citations": cites, "n_passages": len(passages), "shape": shape,
            "lang": "zh" if zh else "en", "prompt_lang": "zh" if prompt_zh else "en", "doc": doc["name"],
            "title": doc["cmd"], "question": q, "labels": labels, "evidence": [[n, ev] for n, ev in check]}
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": ans}], "meta": meta}


def section_of(chunk):
    m = re.match(r"^([A-Z][A-Z ]{2,30}|[\u3400-\u9fff]{2,6}(?: \([A-Z ]+\))?) ", chunk)
    return m.group(1) if m else ""


def build(rng, n_en=320, n_zh=160, log=print):
    """The documents and their facts, split by document into train and eval (1 in 8 documents)."""
    docs = load_docs(rng, n_en, n_zh, log)
    n_zh_got = sum(d["zh"] for d in docs)
    if len(docs) - n_zh_got < n_en // 2 or n_zh_got < n_zh // 2:
        raise SystemExit(f"make_assistant_data: found {len(docs) - n_zh_got} English and {n_zh_got} Chinese man pages "
                         f"(want {n_en} and {n_zh}); install Debian's man-db, manpages and manpages-zh (scripts/setup.sh), "
                         "and make sure dpkg does not exclude /usr/share/man")
    facts = {d["id"]: facts_of(d) for d in docs}
    ev = [d for d in docs if int(hashlib.sha256(d["name"].encode()).hexdigest(), 16) % 8 == 0]
    tr = [d for d in docs if d not in ev]
    return tr, ev, facts
