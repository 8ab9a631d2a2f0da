#!/usr/bin/env python3
"""Generates the training and held-out data of recipes/assistant (the showcase recipe that turns the
default pretrained Gemma 3 270M into an assistant).

Everything comes from templates written here over public facts, no other model's outputs:
  - Debian's tzdata (public domain): /usr/share/zoneinfo/zone.tab and iso3166.tab give cities, their
    countries, country codes, time zones and coordinates;
  - the periodic table (names, symbols, atomic numbers; facts) and a few word lists, inline below.

Data types (one JSONL pair NAME.train.jsonl / NAME.eval.jsonl each; the eval set never repeats a
train prompt):
  stage 1  format, extract, math, classify  instruction following in English and Chinese
  stage 2  grounded                         answers from numbered passages with [n] citations
           grounded_real                    the same over real man-page chunks in the exact prompt shapes
                                            of helix ask and ChatFile (scripts/assistant_grounded_real.py)
           grounded_facts                   passages with several facts about several invented things, a
                                            question about one of them (scripts/assistant_facts.py)
           grounded_docs                    how-to documents whose sections never name their subject; the
                                            passage's label (title > section) does, and the question
                                            uses other words (scripts/assistant_docs.py)
  stage 3  tools                            tool calls in the showcase chat template's format
Records are chat conversations ({"messages": [...], "tools": [...]}) with a "meta" object that the
evaluation metrics read (src/train/eval_metrics.h): format, labels, citations, n_passages, tools.

    python3 scripts/make_assistant_data.py [--seed 1] [--out recipes/assistant/data] [--scale 1.0]

The same seed gives the same files byte for byte (Python's random.Random is specified to be stable).
"""
import argparse
import hashlib
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import assistant_docs  # noqa: E402
import assistant_facts  # noqa: E402
import assistant_grounded_real  # noqa: E402

ZONEINFO = "/usr/share/zoneinfo"

# (atomic number, symbol, English name, Chinese name)
ELEMENTS = [
    (1, "H", "hydrogen", "氢"), (2, "He", "helium", "氦"), (3, "Li", "lithium", "锂"), (4, "Be", "beryllium", "铍"),
    (5, "B", "boron", "硼"), (6, "C", "carbon", "碳"), (7, "N", "nitrogen", "氮"), (8, "O", "oxygen", "氧"),
    (9, "F", "fluorine", "氟"), (10, "Ne", "neon", "氖"), (11, "Na", "sodium", "钠"), (12, "Mg", "magnesium", "镁"),
    (13, "Al", "aluminium", "铝"), (14, "Si", "silicon", "硅"), (15, "P", "phosphorus", "磷"), (16, "S", "sulfur", "硫"),
    (17, "Cl", "chlorine", "氯"), (18, "Ar", "argon", "氩"), (19, "K", "potassium", "钾"), (20, "Ca", "calcium", "钙"),
    (22, "Ti", "titanium", "钛"), (24, "Cr", "chromium", "铬"), (25, "Mn", "manganese", "锰"), (26, "Fe", "iron", "铁"),
    (27, "Co", "cobalt", "钴"), (28, "Ni", "nickel", "镍"), (29, "Cu", "copper", "铜"), (30, "Zn", "zinc", "锌"),
    (35, "Br", "bromine", "溴"), (47, "Ag", "silver", "银"), (50, "Sn", "tin", "锡"), (53, "I", "iodine", "碘"),
    (78, "Pt", "platinum", "铂"), (79, "Au", "gold", "金"), (80, "Hg", "mercury", "汞"), (82, "Pb", "lead", "铅"),
    (92, "U", "uranium", "铀"),
]
EN_FIRST = ["Maria", "John", "Aiko", "Omar", "Lena", "Carlos", "Priya", "Ivan", "Grace", "Tom", "Sara", "Ken", "Nadia",
            "Paul", "Mei", "Lucas", "Anna", "Femi", "Olga", "David"]
EN_LAST = ["Lopez", "Smith", "Tanaka", "Haddad", "Berg", "Silva", "Patel", "Petrov", "Okafor", "Brown", "Kim", "Novak"]
ZH_NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄勇", "周杰", "吴霞", "徐涛", "孙丽"]
ZH_CITIES = ["北京", "上海", "广州", "深圳", "成都", "杭州", "南京", "武汉", "西安", "重庆"]
EN_ITEMS = ["apples", "pears", "plums", "bread", "milk", "rice", "tea", "coffee", "eggs", "cheese", "lemons", "onions",
            "carrots", "beans", "salt", "honey", "butter", "flour", "grapes", "melons"]
ZH_ITEMS = ["苹果", "香蕉", "梨", "面包", "牛奶", "米饭", "茶", "咖啡", "鸡蛋", "奶酪", "柠檬", "洋葱", "胡萝卜", "豆子"]
POS_EN = ["The soup was delicious and the staff were friendly.", "I love this phone; the battery lasts for days.",
          "A wonderful film with a moving story.", "The hotel room was clean, quiet and bright.",
          "Great service, fast delivery, and the shoes fit perfectly.", "The concert was fantastic from start to end.",
          "This book is a joy to read.", "The new park is beautiful and full of flowers."]
NEG_EN = ["The soup was cold and the staff were rude.", "The battery died after one hour; I regret buying it.",
          "A boring film with a confusing story.", "The hotel room was dirty and noisy.",
          "The package arrived late and the shoes were broken.", "The concert started two hours late and sounded awful.",
          "This book is dull and far too long.", "The park is full of litter and the benches are broken."]
POS_ZH = ["这家餐厅的菜很好吃，服务也很周到。", "这部手机非常好用，电池能用好几天。", "这部电影很感人，我很喜欢。",
          "酒店房间干净又安静。", "快递很快，鞋子也很合脚。", "这本书写得很精彩。"]
NEG_ZH = ["这家餐厅的菜是凉的，服务员态度很差。", "这部手机用了一个小时就没电了，很后悔。", "这部电影很无聊，情节混乱。",
          "酒店房间又脏又吵。", "快递晚了一周，鞋子还是坏的。", "这本书又长又枯燥。"]
ANIMALS = ["cat", "horse", "eagle", "salmon", "frog", "tiger", "rabbit", "whale"]
PLANTS = ["oak", "rose", "fern", "tulip", "pine", "cactus", "maple", "bamboo"]
ZH_DIGITS = "零一二三四五六七八九"
SYSTEMS_EN = ["You are a helpful assistant.", "You are a concise assistant. Follow the instructions exactly.",
              "Answer briefly and exactly as asked."]
SYSTEMS_ZH = ["你是一个乐于助人的助手。", "请严格按照要求简洁地回答。"]


def read_tzdata():
    """Cities from zone.tab joined with country names from iso3166.tab (tzdata, public domain)."""
    countries, cities = {}, []
    try:
        with open(os.path.join(ZONEINFO, "iso3166.tab"), encoding="utf-8") as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    code, name = line.rstrip("\n").split("\t")[:2]
                    countries[code] = name
        with open(os.path.join(ZONEINFO, "zone.tab"), encoding="utf-8") as f:
            for line in f:
                if not line.strip() or line.startswith("#"):
                    continue
                code, coord, tz = line.rstrip("\n").split("\t")[:3]
                city = tz.split("/")[-1].replace("_", " ")
                area = tz.split("/")[0]
                if code not in countries or len(tz.split("/")) != 2 or area not in ("Europe", "Asia", "America",
                                                                                       "Africa", "Australia"):
                    continue
                lat = int(coord[1:3]) + int(coord[3:5]) / 60.0
                lat = -lat if coord[0] == "-" else lat
                cities.append({"city": city, "code": code, "country": countries[code], "tz": tz, "lat": round(lat, 1)})
    except OSError as e:
        sys.exit(f"make_assistant_data: cannot read tzdata ({e}); install Debian's tzdata package")
    cities.sort(key=lambda c: c["tz"])
    return countries, cities


def conv(user, answer, system=None, meta=None):
    msgs = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return {"messages": msgs, "meta": meta or {"format": "text"}}


def maybe_system(rng, zh):
    if rng.random() < 0.3:
        return rng.choice(SYSTEMS_ZH if zh else SYSTEMS_EN)
    return None


# ---- stage 1: instruction following -------------------------------------------------------
def gen_format(rng):
    zh = rng.random() < 0.35
    k = rng.randint(3, 5)
    items = rng.sample(ZH_ITEMS if zh else EN_ITEMS, k)
    kind = rng.choice(["list", "json", "upper", "sort"] if not zh else ["list", "json"])
    if kind == "list":
        q = (f"把下面的东西写成项目列表，每行以“- ”开头：{'、'.join(items)}" if zh else
             f"Write these items as a bulleted list, one per line starting with \"- \": {', '.join(items)}")
        return conv(q, "\n".join("- " + i for i in items), maybe_system(rng, zh), {"format": "list"})
    if kind == "json":
        q = (f"把下面的东西写成 JSON 字符串数组，只输出 JSON：{'、'.join(items)}" if zh else
             f"Return these items as a JSON array of strings and nothing else: {', '.join(items)}")
        return conv(q, json.dumps(items, ensure_ascii=False), maybe_system(rng, zh), {"format": "json"})
    if kind == "upper":
        text = " ".join(items)
        return conv(f"Rewrite in upper case: {text}", text.upper(), maybe_system(rng, zh), {"format": "text"})
    ordered = sorted(items)
    q = f"Sort these words alphabetically and answer with them separated by commas: {', '.join(items)}"
    return conv(q, ", ".join(ordered), maybe_system(rng, zh), {"format": "text"})


def gen_extract(rng, cities):
    zh = rng.random() < 0.35
    year = rng.randint(1950, 2024)
    if zh:
        name, city = rng.choice(ZH_NAMES), rng.choice(ZH_CITIES)
        s = rng.choice([f"{year}年，{name}搬到了{city}。", f"{name}于{year}年在{city}开了一家书店。"])
        q = f"从下面的句子中提取人名、城市和年份，以 JSON 输出，键为 name、city、year：{s}"
    else:
        name = f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}"
        city = rng.choice(cities)["city"]
        kind = rng.random()
        if kind < 0.25:
            user = name.split()[0].lower() + "." + name.split()[1].lower()
            dom = rng.choice(["example.org", "mail.example.com", "example.net"])
            text = f"Please write to {name} at {user}@{dom} before {rng.choice(['Friday', 'Monday', 'noon'])}."
            return conv(f"What is the email address in this text? Answer with the address only.\n\n{text}",
                        f"{user}@{dom}", maybe_system(rng, zh), {"format": "text"})
        s = rng.choice([f"In {year}, {name} moved to {city}.", f"{name} opened a bookshop in {city} in {year}.",
                        f"Born in {city}, {name} started painting in {year}."])
        q = f"Extract the person's name, the city and the year from this sentence as JSON with keys name, city, year: {s}"
    ans = json.dumps({"name": name, "city": city, "year": year}, ensure_ascii=False)
    return conv(q, ans, maybe_system(rng, zh), {"format": "json"})


def zh_number(n):
    return "".join(ZH_DIGITS[int(d)] for d in str(n)) if n < 10 else str(n)


def gen_math(rng):
    zh = rng.random() < 0.35
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    op = rng.choice(["+", "-", "*", "word"])
    if op == "+":
        r, expr = a + b, f"{a} + {b}"
    elif op == "-":
        a, b = max(a, b), min(a, b)
        r, expr = a - b, f"{a} - {b}"
    elif op == "*":
        a, b = rng.randint(2, 19), rng.randint(2, 12)
        r, expr = a * b, f"{a} × {b}"
    if op != "word":
        q = f"计算 {expr}，只回答数字。" if zh else f"What is {expr}? Answer with the number only."
        return conv(q, str(r), maybe_system(rng, zh), {"format": "number"})
    a, b = rng.randint(2, 30), rng.randint(2, 30)
    if zh:
        name, item = rng.choice(ZH_NAMES), rng.choice(["苹果", "本书", "支笔"])
        unit = "个" if item == "苹果" else ""
        q = f"{name}有 {a} {unit}{item}，又买了 {b} {unit}{item}。{name}现在一共有多少？只回答数字。"
    else:
        name, item = rng.choice(EN_FIRST), rng.choice(["apples", "books", "pencils", "stamps"])
        q = f"{name} has {a} {item} and buys {b} more. How many {item} does {name} have now? Answer with the number only."
    rec = conv(q, str(a + b), maybe_system(rng, zh), {"format": "number"})
    if rng.random() < 0.3:  # a second turn that refers back to the first answer
        follow = "再乘以 2 是多少？只回答数字。" if zh else "And twice that? Answer with the number only."
        rec["messages"] += [{"role": "user", "content": follow}, {"role": "assistant", "content": str(2 * (a + b))}]
    return rec


def gen_classify(rng):
    zh = rng.random() < 0.35
    kind = rng.choice(["sentiment", "parity", "kingdom", "language"] if not zh else ["sentiment", "parity"])
    if kind == "sentiment":
        pos = rng.random() < 0.5
        if zh:
            s = rng.choice(POS_ZH if pos else NEG_ZH)
            q = f"判断下面这句话的情感是正面还是负面，只回答“正面”或“负面”：{s}"
            return conv(q, "正面" if pos else "负面", maybe_system(rng, zh), {"format": "label", "labels": ["正面", "负面"]})
        s = rng.choice(POS_EN if pos else NEG_EN)
        q = f"Is the sentiment of this review positive or negative? Answer with one word.\n\n{s}"
        return conv(q, "positive" if pos else "negative", maybe_system(rng, zh),
                    {"format": "label", "labels": ["positive", "negative"]})
    if kind == "parity":
        n = rng.randint(1, 999)
        if zh:
            return conv(f"{n} 是奇数还是偶数？只回答“奇数”或“偶数”。", "偶数" if n % 2 == 0 else "奇数", maybe_system(rng, zh),
                        {"format": "label", "labels": ["奇数", "偶数"]})
        return conv(f"Is {n} even or odd? Answer with one word.", "even" if n % 2 == 0 else "odd", maybe_system(rng, zh),
                    {"format": "label", "labels": ["even", "odd"]})
    if kind == "kingdom":
        animal = rng.random() < 0.5
        x = rng.choice(ANIMALS if animal else PLANTS)
        return conv(f"Is a {x} an animal or a plant? Answer with one word.", "animal" if animal else "plant",
                    maybe_system(rng, zh), {"format": "label", "labels": ["animal", "plant"]})
    en = rng.random() < 0.5
    s = rng.choice(POS_EN + NEG_EN) if en else rng.choice(POS_ZH + NEG_ZH)
    return conv(f"Which language is this sentence in, English or Chinese? Answer with one word.\n\n{s}",
                "English" if en else "Chinese", maybe_system(rng, zh), {"format": "label", "labels": ["English", "Chinese"]})


# ---- stage 2: grounded answers with citations ----------------------------------------------
def element_passage(e, zh):
    n, sym, name, zname = e
    if zh:
        return f"{zname}是一种化学元素，元素符号为 {sym}，原子序数为 {n}。"
    return f"{name.capitalize()} is a chemical element with the symbol {sym} and atomic number {n}."


def city_passage(c):
    hemi = "north" if c["lat"] >= 0 else "south"
    return (f"{c['city']} is a city in {c['country']} (country code {c['code']}). It keeps the time zone {c['tz']} "
            f"and lies at latitude {abs(c['lat'])} degrees {hemi} of the equator.")


def passages_prompt(passages, question, zh):
    body = "\n".join(f"[{i + 1}] {p}" for i, p in enumerate(passages))
    if zh:
        return f"只根据下面编号的段落回答问题，并用 [n] 标注所用段落。\n\n{body}\n\n问题：{question}"
    return f"Answer the question using only the numbered passages below. Cite the passages you use as [n].\n\n{body}\n\nQuestion: {question}"


def place(rng, facts, k):
    """Shuffles k fact passages; returns them and the 1-based position of each original index."""
    order = list(range(len(facts)))
    rng.shuffle(order)
    pos = {orig: i + 1 for i, orig in enumerate(order)}
    return [facts[i] for i in order], pos


def gen_grounded(rng, cities):
    zh = rng.random() < 0.3
    k = rng.randint(3, 5)
    use_elements = zh or rng.random() < 0.4
    unanswerable = rng.random() < 0.1
    pool = rng.sample(ELEMENTS if use_elements else cities, k + 1)
    shown, hidden = pool[:k], pool[k]
    texts = [element_passage(e, zh) if use_elements else city_passage(e) for e in shown]
    passages, pos = place(rng, texts, k)
    two = rng.random() < 0.25 and not unanswerable
    if use_elements:
        a, b = shown[0], shown[1]
        if unanswerable:
            q = f"{hidden[3]}的原子序数是多少？" if zh else f"What is the atomic number of {hidden[2]}?"
            ans, cites = ("这些段落没有提到。" if zh else "The passages do not say."), []
        elif two:
            big = a if a[0] > b[0] else b
            if zh:
                q = f"{a[3]}和{b[3]}哪一个的原子序数更大？"
                ans = f"{big[3]}的原子序数更大（{big[0]}）[{min(pos[0], pos[1])}][{max(pos[0], pos[1])}]。"
            else:
                q = f"Which has the larger atomic number, {a[2]} or {b[2]}?"
                ans = f"{big[2].capitalize()} has the larger atomic number ({big[0]}) [{min(pos[0], pos[1])}][{max(pos[0], pos[1])}]."
            cites = sorted([pos[0], pos[1]])
        elif rng.random() < 0.5:
            q = f"{a[3]}的元素符号是什么？" if zh else f"What is the chemical symbol of {a[2]}?"
            ans = f"{a[3]}的元素符号是 {a[1]} [{pos[0]}]。" if zh else f"The chemical symbol of {a[2]} is {a[1]} [{pos[0]}]."
            cites = [pos[0]]
        else:
            q = f"{a[3]}的原子序数是多少？" if zh else f"What is the atomic number of {a[2]}?"
            ans = f"{a[3]}的原子序数是 {a[0]} [{pos[0]}]。" if zh else f"The atomic number of {a[2]} is {a[0]} [{pos[0]}]."
            cites = [pos[0]]
    else:
        a, b = shown[0], shown[1]
        if unanswerable:
            q = f"Which time zone does {hidden['city']} keep?"
            ans, cites = "The passages do not say.", []
        elif two:
            north = a if a["lat"] > b["lat"] else b
            q = f"Which lies further north, {a['city']} or {b['city']}?"
            ans = f"{north['city']} lies further north [{min(pos[0], pos[1])}][{max(pos[0], pos[1])}]."
            cites = sorted([pos[0], pos[1]])
        else:
            kind = rng.choice(["country", "tz", "code"])
            if kind == "country":
                q, ans = f"In which country is {a['city']}?", f"{a['city']} is in {a['country']} [{pos[0]}]."
            elif kind == "tz":
                q, ans = f"Which time zone does {a['city']} keep?", f"{a['city']} keeps the time zone {a['tz']} [{pos[0]}]."
            else:
                q, ans = (f"What is the country code of the country {a['city']} is in?",
                          f"The country code is {a['code']} [{pos[0]}].")
            cites = [pos[0]]
    meta = {"format": "citations", "citations": cites, "n_passages": k}
    return conv(passages_prompt(passages, q, zh), ans, maybe_system(rng, zh), meta)


# ---- stage 3: tool calls ---------------------------------------------------------------------
def tool(name, desc, props, required):
    return {"type": "function", "function": {"name": name, "description": desc, "parameters": {
        "type": "object", "properties": props, "required": required}}}


TOOLS = {
    "get_time": tool("get_time", "Current local time in an IANA time zone", {"timezone": {"type": "string"}}, ["timezone"]),
    "get_weather": tool("get_weather", "Current weather in a city",
                        {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                        ["city", "unit"]),
    "calculator": tool("calculator", "Evaluates an arithmetic expression", {"expression": {"type": "string"}},
                       ["expression"]),
    "convert_currency": tool("convert_currency", "Converts an amount between currencies (ISO codes)",
                             {"amount": {"type": "number"}, "from": {"type": "string"}, "to": {"type": "string"}},
                             ["amount", "from", "to"]),
    "country_code": tool("country_code", "The ISO 3166 code of a country", {"country": {"type": "string"}}, ["country"]),
}
CURRENCIES = [("USD", "dollars", "美元"), ("EUR", "euros", "欧元"), ("JPY", "yen", "日元"), ("GBP", "pounds", "英镑"),
              ("CNY", "yuan", "人民币")]


def call(name, args):
    return {"type": "function", "function": {"name": name, "arguments": args}}


def tool_task(rng, cities, countries):
    """(question, tool name, arguments, tool result text, final answer, zh)."""
    zh = rng.random() < 0.3
    kind = rng.choice(["get_time", "get_weather", "calculator", "convert_currency", "country_code"])
    c = rng.choice(cities)
    if kind == "get_time":
        hh, mm = rng.randint(0, 23), rng.randint(0, 59)
        q = f"{c['city']}现在几点？" if zh else f"What time is it in {c['city']} right now?"
        res = json.dumps({"timezone": c["tz"], "time": f"{hh:02d}:{mm:02d}"})
        ans = f"{c['city']}现在是 {hh:02d}:{mm:02d}。" if zh else f"It is {hh:02d}:{mm:02d} in {c['city']}."
        return q, kind, {"timezone": c["tz"]}, res, ans, zh
    if kind == "get_weather":
        unit = "fahrenheit" if rng.random() < 0.3 else "celsius"
        t = rng.randint(-10, 35) if unit == "celsius" else rng.randint(14, 95)
        cond = rng.choice(["sunny", "cloudy", "rain", "snow", "windy"])
        if zh:
            q = f"{c['city']}现在天气怎么样？用{'华氏度' if unit == 'fahrenheit' else '摄氏度'}。"
        else:
            q = f"What's the weather like in {c['city']}? Use {unit}."
        res = json.dumps({"city": c["city"], "temperature": t, "unit": unit, "condition": cond})
        sym = "°F" if unit == "fahrenheit" else "°C"
        ans = f"{c['city']}现在 {t}{sym}，天气：{cond}。" if zh else f"It is {t}{sym} and {cond} in {c['city']}."
        return q, kind, {"city": c["city"], "unit": unit}, res, ans, zh
    if kind == "calculator":
        a, b, d = rng.randint(100, 9999), rng.randint(100, 9999), rng.randint(2, 99)
        expr = f"({a} + {b}) * {d}"
        r = (a + b) * d
        q = f"请计算 ({a} + {b}) × {d}。" if zh else f"Please compute ({a} + {b}) × {d}."
        return q, kind, {"expression": expr}, json.dumps({"result": r}), (f"结果是 {r}。" if zh else f"The result is {r}."), zh
    if kind == "convert_currency":
        (f, fn, fz), (t, tn, tz) = rng.sample(CURRENCIES, 2)
        amount = rng.choice([5, 10, 20, 50, 100, 250, 1000])
        rate = round(rng.uniform(0.005, 200), 4)
        out = round(amount * rate, 2)
        q = f"把 {amount} {fz}换算成{tz}。" if zh else f"How much is {amount} {fn} in {tn}?"
        res = json.dumps({"amount": out, "currency": t})
        ans = f"{amount} {fz}约为 {out} {tz}。" if zh else f"{amount} {fn} is about {out} {tn}."
        return q, kind, {"amount": amount, "from": f, "to": t}, res, ans, zh
    code, name = rng.choice(sorted(countries.items()))
    q = f"What is the ISO country code of {name}?"
    return q, kind, {"country": name}, json.dumps({"code": code}), f"The ISO code of {name} is {code}.", False


NO_TOOL = [("Say hello in French.", "Bonjour."), ("What is the opposite of 'hot'? Answer with one word.", "cold"),
           ("用一个词回答：“大”的反义词是什么？", "小"), ("Spell the word 'cat' backwards.", "tac"),
           ("Give me the first three letters of the English alphabet, separated by commas.", "a, b, c")]


def gen_tools(rng, cities, countries, for_eval):
    names = list(TOOLS)
    if rng.random() < 0.12:  # a question no offered tool is needed for: answer directly
        offered = rng.sample(names, rng.randint(1, 3))
        q, a = rng.choice(NO_TOOL)
        rec = conv(q, a, None, {"format": "text"})
        rec["tools"] = [TOOLS[n] for n in offered]
        return rec
    q, name, args, res, final, zh = tool_task(rng, cities, countries)
    others = [n for n in names if n != name]
    offered = rng.sample(others, rng.randint(0, 2)) + [name]
    rng.shuffle(offered)
    msgs = ([{"role": "system", "content": rng.choice(SYSTEMS_ZH if zh else SYSTEMS_EN)}] if rng.random() < 0.3 else [])
    msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": None, "tool_calls": [call(name, args)]}]
    if not for_eval:  # eval stops at the call: the reference is the call itself
        msgs += [{"role": "tool", "content": res}, {"role": "assistant", "content": final}]
    return {"messages": msgs, "tools": [TOOLS[n] for n in offered],
            "meta": {"format": "tool_call", "tools": offered}}


# ---- splitting and writing -------------------------------------------------------------------
def prompt_key(rec):
    return json.dumps([m for m in rec["messages"] if m["role"] != "assistant"], ensure_ascii=False, sort_keys=True)


def make_split(gen, n_train, n_eval, rng_train, rng_eval):
    train, seen = [], set()
    for _ in range(n_train):
        r = gen(rng_train, False)
        train.append(r)
        seen.add(prompt_key(r))
    evals, tries = [], 0
    while len(evals) < n_eval and tries < 100 * n_eval:
        tries += 1
        r = gen(rng_eval, True)
        k = prompt_key(r)
        if k not in seen:
            seen.add(k)
            evals.append(r)
    return train, evals


def write_jsonl(path, recs):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def tzdata_sha(src):
    with open(os.path.join(ZONEINFO, src), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def check_sources(manifest_path):
    """A quick necessary condition for regenerating the same data here (rendering the man pages takes a
    minute): the same tzdata files, and every man page the manifest names on this machine."""
    sources = json.load(open(manifest_path, encoding="utf-8"))["sources"]
    for key, want in sources.items():
        if key.startswith("tzdata/") and tzdata_sha(key[len("tzdata/"):]) != want:
            print(f"{key} differs from the one the data was made with")
            return 3
        if key.startswith("man pages"):
            for page in want:
                name = page.split("/", 1)[1]  # train/NAME or eval/NAME; NAME may be zh_CN/NAME
                section = "man" + name.rsplit(".", 1)[1][:1]
                base = os.path.join(assistant_grounded_real.MAN, os.path.dirname(name), section, os.path.basename(name))
                if not (os.path.exists(base) or os.path.exists(base + ".gz")):
                    print(f"man page {name} is not on this machine ({base}[.gz])")
                    return 3
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "recipes", "assistant", "data"))
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies the number of training samples")
    ap.add_argument("--check", metavar="MANIFEST", help="only say whether this machine can reproduce MANIFEST's data "
                    "(same tzdata, every man page it names present): exit 0 if so, 3 if not; generates nothing")
    a = ap.parse_args()
    if a.check:
        sys.exit(check_sources(a.check))
    countries, cities = read_tzdata()
    gens = {
        "format": (lambda r, e: gen_format(r), 400, 40),
        "extract": (lambda r, e: gen_extract(r, cities), 400, 40),
        "math": (lambda r, e: gen_math(r), 400, 40),
        "classify": (lambda r, e: gen_classify(r), 400, 40),
        "grounded": (lambda r, e: gen_grounded(r, cities), 500, 50),
        "tools": (lambda r, e: gen_tools(r, cities, countries, e), 500, 50),
    }
    print("rendering man pages for grounded_real (Debian's man pages minus the KB eval corpus's) ...")
    real_train, real_eval, real_facts = assistant_grounded_real.build(
        random.Random(a.seed * 1000 + 99), n_en=max(40, int(320 * a.scale)), n_zh=max(24, int(160 * a.scale)))

    def gen_real(r, for_eval):
        docs = real_eval if for_eval else real_train
        while True:
            rec = assistant_grounded_real.gen_real(r, docs, real_facts)
            if rec:
                return rec
    gens["grounded_real"] = (gen_real, 500, 40)

    def until_drawn(gen):  # the sample generators return None for a draw to throw away
        def draw(r, for_eval):
            while True:
                rec = gen(r)
                if rec:
                    return rec
        return draw
    gens["grounded_facts"] = (until_drawn(assistant_facts.gen_facts), 600, 40)
    gens["grounded_docs"] = (until_drawn(assistant_docs.gen_docs), 600, 40)
    os.makedirs(a.out, exist_ok=True)
    manifest = {"generator": "scripts/make_assistant_data.py", "seed": a.seed, "scale": a.scale, "sources": {}, "files": {}}
    for src in ("zone.tab", "iso3166.tab"):
        manifest["sources"][f"tzdata/{src}"] = tzdata_sha(src)
    manifest["sources"]["man pages (grounded_real; name: sha256 of the rendered text, 16 hex)"] = {
        ("eval/" if d in real_eval else "train/") + d["id"]: d["sha"]
        for d in real_train + real_eval}
    for i, (name, (gen, n_train, n_eval)) in enumerate(gens.items()):
        rng_train = random.Random(a.seed * 1000 + 2 * i)
        rng_eval = random.Random(a.seed * 1000 + 2 * i + 1)
        train, evals = make_split(gen, max(1, int(n_train * a.scale)), n_eval, rng_train, rng_eval)
        write_jsonl(os.path.join(a.out, f"{name}.train.jsonl"), train)
        write_jsonl(os.path.join(a.out, f"{name}.eval.jsonl"), evals)
        manifest["files"][name] = {"train": len(train), "eval": len(evals)}
        print(f"{name}: {len(train)} train, {len(evals)} eval")
    with open(os.path.join(a.out, "manifest.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
