"""Grounded data shaped like how-to documents (imported by scripts/make_assistant_data.py as the
`grounded_docs` set).

Real guides rarely repeat their subject in every sentence: under "Growing Tomatoes > Watering" the
text says "Water deeply twice a week", under "Bicycle Maintenance > Chain" it says "Clean and lubricate
the chain every three hundred kilometres". Asked "How often should tomatoes be watered?", a model that
matches the question's words against the passage's finds no "tomatoes" and says the passages do not
say, or copies a sentence of another passage that shares a word. Helix's prompt names each passage's
document and section ("[1] (Growing Tomatoes > Watering) Watering  Water deeply ..."), so here:
  - each document is about one invented thing (a plant variety, a machine model, a bake, an
    instrument), its title names it, and each section's passage holds 1-2 of its facts in imperative or
    pronoun sentences that never name it, among sentences that hold no value;
  - the other passages are the same sections of documents about other things of the same domain (the
    same sentence shapes, other values) and other sections of the same document, so only the label
    tells them apart;
  - the question uses other words than the passage ("How often should X be watered?" / "Water deeply
    every four days"; "How hot should the oven be?" / "Bake at 220 degrees"), English values are often
    written in words ("twice a week", "three hundred kilometres"), and the answer restates the value
    with its [n];
  - ~8% ask a fact the thing's document does not give (another thing's passage gives it) and answer
    "The passages do not say."; a quarter are ChatFile prompts over one document's sections.

Everything is invented (names from word lists, values drawn at random), so only the passages can
answer. Prompts are byte for byte those of helix ask and ChatFile (assistant_grounded_real).
"""
import re

from assistant_facts import cap, zh_small
from assistant_grounded_real import NOT_SAY, ask_prompt, chatfile_prompt

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def words(n):
    """English words for 0-999 ("three hundred", "twenty-eight"), as prose writes round figures."""
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else "-" + ONES[n % 10])
    h, rest = divmod(n, 100)
    return ONES[h] + " hundred" + ("" if rest == 0 else " and " + words(rest))


def en_num(rng, lo, hi, step=1):
    n = rng.randrange(lo, hi + 1, step)
    return words(n) if rng.random() < 0.45 else str(n)


def zh_num(rng, lo, hi, step=1):
    n = rng.randrange(lo, hi + 1, step)
    return zh_small(n) if n < 100 and rng.random() < 0.5 else str(n)


def en_every(rng):
    return rng.choice(["once a week", "twice a week", "three times a week", "every day", "every morning",
                       f"every {words(rng.randint(2, 6))} days", f"every {rng.randint(2, 6)} days"])


def zh_every(rng):
    return rng.choice(["每天一次", "每周一次", "每周两次", "每周三次", f"每{zh_small(rng.randint(2, 6))}天一次"])


def f(value, say, ask, answer):
    """A fact: value(rng) draws it; `say` are sentences that state it without naming the thing; `ask`
    the questions ({e} the thing); `answer` the reply ({e}, {v})."""
    return {"value": value, "say": say, "ask": ask, "answer": answer}


# domain -> lang -> {"things", "titles" ({e}), "sections": {section: {"facts": {key: f(...)}, "filler": [...]}}}
DOMAINS = {
    "garden": {
        "en": {
            "things": [a + " " + p for a in ["Sunrise", "Black Prince", "Velvet", "Early Gold", "Moonbeam", "Ruby", "Snowcap",
                                             "Copper", "Tiger", "Emerald", "Silver Bell", "Firefly"]
                       for p in ["tomatoes", "peppers", "strawberries", "roses", "lettuce", "beans", "cucumbers"]],
            "titles": ["Growing {e}", "{e}: a grower's guide", "Caring for {e}"],
            "sections": {
                "Watering": {"facts": {
                    "water": f(en_every, ["Water deeply {v} rather than a little every day.", "Give the plants water {v}.",
                                          "Water {v}, at the base of the plant."],
                               ["How often should {e} be watered?", "How often do {e} need water?", "How frequently should I water {e}?"],
                               "Water {e} {v}")},
                    "filler": ["Water the soil, not the leaves.", "Mulch with straw to keep moisture in.",
                               "Uneven watering makes the fruit split.", "Never let the pots dry out completely."]},
                "Light": {"facts": {
                    "sun": f(lambda r: en_num(r, 4, 12), ["They need at least {v} hours of direct sunlight every day.",
                                                          "Give them {v} hours of sun a day."],
                             ["How much sun do {e} need?", "How many hours of light do {e} need each day?"],
                             "{E} need at least {v} hours of sunlight a day")},
                    "filler": ["A south-facing bed is best.", "In a greenhouse, open the vents on hot days."]},
                "Planting": {"facts": {
                    "soil": f(lambda r: en_num(r, 8, 20), ["Plant them out when the soil has warmed to {v} degrees.",
                                                           "Wait until the soil reaches {v} degrees before planting."],
                              ["When can {e} be planted outside?", "How warm must the soil be before planting {e}?"],
                              "Plant {e} when the soil has warmed to {v} degrees"),
                    "spacing": f(lambda r: en_num(r, 20, 90, 5), ["Space the plants {v} centimetres apart.",
                                                                 "Leave {v} centimetres between plants."],
                                 ["How far apart should {e} be planted?", "What spacing do {e} need?"],
                                 "Plant {e} {v} centimetres apart")},
                    "filler": ["Dig in compost a week before.", "Plant after the last frost."]},
                "Harvest": {"facts": {
                    "days": f(lambda r: en_num(r, 40, 120, 5), ["Pick the fruit about {v} days after planting.",
                                                               "The first crop is ready {v} days after planting."],
                              ["How long until {e} can be harvested?", "When are {e} ready to pick?"],
                              "{E} are ready about {v} days after planting")},
                    "filler": ["Pick in the morning, when it is cool.", "Store the crop in a dry place."]},
            },
        },
        "zh": {
            "things": [a + p for a in ["红宝石", "金星", "雪山", "翡翠", "朝霞", "紫云", "银铃", "火焰", "明月", "春雷"]
                       for p in ["番茄", "辣椒", "草莓", "月季", "生菜", "黄瓜", "茄子"]],
            "titles": ["{e}种植指南", "怎样种{e}", "{e}的养护"],
            "sections": {
                "浇水": {"facts": {
                    "water": f(zh_every, ["浇水{v}，要浇透。", "{v}浇水，不要每天浇一点。"],
                               ["{e}多久浇一次水？", "{e}应该多长时间浇水？"], "{e}浇水{v}")},
                    "filler": ["浇在土上，不要浇在叶子上。", "用稻草覆盖可以保持水分。"]},
                "光照": {"facts": {
                    "sun": f(lambda r: zh_num(r, 4, 12), ["每天至少需要{v}小时的直射阳光。", "每天要晒{v}个小时的太阳。"],
                             ["{e}需要多少光照？", "{e}每天要晒几个小时太阳？"], "{e}每天至少需要{v}小时光照")},
                    "filler": ["朝南的地方最好。", "温室里天热时要通风。"]},
                "种植": {"facts": {
                    "soil": f(lambda r: zh_num(r, 8, 20), ["等土温升到{v}度再种。", "土壤温度达到{v}度以后才能移栽。"],
                              ["{e}什么时候可以种到户外？", "种{e}时土温要多少度？"], "土温达到{v}度时种{e}"),
                    "spacing": f(lambda r: zh_num(r, 20, 90, 5), ["株距保持{v}厘米。", "每棵之间留{v}厘米。"],
                                 ["{e}的株距是多少？", "{e}要种多远一棵？"], "{e}的株距是{v}厘米")},
                    "filler": ["种之前一周先施堆肥。", "最后一次霜冻之后再种。"]},
                "采收": {"facts": {
                    "days": f(lambda r: zh_num(r, 40, 120, 5), ["种下后大约{v}天可以采摘。", "定植{v}天后开始收获。"],
                              ["{e}种下多久可以收获？", "{e}什么时候能摘？"], "{e}种下后约{v}天可以采收")},
                    "filler": ["早上凉快的时候采摘。", "收获后放在干燥的地方。"]},
            },
        },
    },
    "machine": {
        "en": {
            "things": [b + " " + p for b in ["Apex", "Nova", "Vector", "Orion", "Summit", "Falcon", "Zenith", "Pioneer", "Atlas",
                                             "Comet"]
                       for p in ["road bike", "mountain bike", "e-bike", "tandem", "cargo bike", "touring bike"]],
            "titles": ["{e} maintenance", "{e} owner's manual", "Looking after your {e}"],
            "sections": {
                "Chain": {"facts": {
                    "oil": f(lambda r: en_num(r, 100, 900, 50) + " kilometres",
                             ["Clean and lubricate the chain every {v}.", "Oil the chain every {v}."],
                             ["How often should I lubricate the chain of the {e}?", "When does the {e}'s chain need oil?"],
                             "Lubricate the chain of the {e} every {v}"),
                    "stretch": f(lambda r: r.choice(["half a percent", "one percent", "0.75 percent", "three quarters of a percent"]),
                                 ["A chain stretched by more than {v} must be replaced."],
                                 ["When must the {e}'s chain be replaced?", "How much chain stretch is too much on the {e}?"],
                                 "Replace the chain of the {e} once it has stretched by more than {v}")},
                    "filler": ["Wipe off the old oil first.", "A worn chain wears out the gears."]},
                "Tyres": {"facts": {
                    "pressure": f(lambda r: en_num(r, 2, 9) + " bar", ["Pump the tyres to {v}.", "The tyres run at {v}."],
                                  ["What tyre pressure does the {e} need?", "How hard should the {e}'s tyres be pumped?"],
                                  "The tyres of the {e} need {v}")},
                    "filler": ["Check the pressure every week.", "Too little pressure causes pinch flats."]},
                "Brakes": {"facts": {
                    "pads": f(lambda r: r.choice(["one millimetre", "two millimetres", "half a millimetre", "1.5 millimetres"]),
                              ["Replace the pads when less than {v} of material is left.",
                               "Pads thinner than {v} must be changed."],
                              ["When should the {e}'s brake pads be replaced?", "How worn can the brake pads of the {e} get?"],
                              "Replace the brake pads of the {e} when less than {v} is left")},
                    "filler": ["Keep oil away from the brakes.", "Squeaking pads need cleaning."]},
                "Storage": {"facts": {
                    "temp": f(lambda r: en_num(r, 5, 30) + " degrees", ["Keep it somewhere dry, below {v}.",
                                                                       "Store it indoors at no more than {v}."],
                              ["How warm can the place where I keep the {e} be?", "What is the highest storage temperature for the {e}?"],
                              "Store the {e} below {v}")},
                    "filler": ["Cover it if you keep it outside.", "Take the battery out over winter."]},
            },
        },
        "zh": {
            "things": [b + p for b in ["飞鸽", "永久", "凤凰", "捷安", "美利", "骏马", "神州", "长江"]
                       for p in ["公路车", "山地车", "电动车", "折叠车", "旅行车", "三轮车"]],
            "titles": ["{e}保养手册", "{e}使用说明", "{e}的维护"],
            "sections": {
                "链条": {"facts": {
                    "oil": f(lambda r: zh_num(r, 100, 900, 50) + "公里", ["每骑{v}清洗并润滑链条。", "链条每{v}上一次油。"],
                             ["{e}的链条多久上一次油？", "{e}的链条应该多长时间润滑一次？"], "{e}的链条每{v}润滑一次")},
                    "filler": ["先把旧油擦干净。", "磨损的链条会损坏齿轮。"]},
                "轮胎": {"facts": {
                    "pressure": f(lambda r: zh_num(r, 2, 9) + "巴", ["轮胎气压保持在{v}。", "轮胎要充到{v}。"],
                                  ["{e}的轮胎要打多少气？", "{e}的胎压应该是多少？"], "{e}的胎压是{v}")},
                    "filler": ["每周检查一次胎压。", "气压太低容易爆胎。"]},
                "刹车": {"facts": {
                    "pads": f(lambda r: r.choice(["一毫米", "两毫米", "半毫米"]), ["刹车片剩下不到{v}时要更换。", "刹车片薄于{v}就要换。"],
                              ["{e}的刹车片什么时候换？", "{e}的刹车片磨到多薄要换？"], "{e}的刹车片剩下不到{v}时更换")},
                    "filler": ["不要让油沾到刹车上。", "刹车有响声时要清洁。"]},
            },
        },
    },
    "kitchen": {
        "en": {
            "things": [a + " " + p for a in ["Harvest", "Country", "Alpine", "Lemon seed", "Honey oat", "Dark rye", "Walnut", "Fig",
                                             "Saffron", "Maple"]
                       for p in ["loaf", "cake", "buns", "tart", "flatbread", "biscuits"]],
            "titles": ["{e}", "Baking {e}", "{e} recipe"],
            "sections": {
                "Baking": {"facts": {
                    "oven": f(lambda r: en_num(r, 160, 250, 10) + " degrees", ["Bake in a preheated oven at {v}.",
                                                                              "Heat the oven to {v} and bake on the middle shelf."],
                              ["How hot should the oven be for the {e}?", "At what temperature is the {e} baked?"],
                              "Bake the {e} at {v}"),
                    "time": f(lambda r: en_num(r, 12, 75) + " minutes", ["Bake for {v}, until golden.", "It needs {v} in the oven."],
                              ["How long does the {e} bake?", "How many minutes should the {e} stay in the oven?"],
                              "The {e} bakes for {v}")},
                    "filler": ["Turn the tray halfway through.", "Let it cool on a rack."]},
                "Dough": {"facts": {
                    "rise": f(lambda r: r.choice(["half an hour", "an hour", "two hours", "three hours", "overnight",
                                                   f"{words(r.randint(2, 5))} hours"]),
                              ["Let the dough rise for {v} in a warm place.", "Leave it covered to rise for {v}."],
                              ["How long should the dough for the {e} rise?", "How much rising time does the {e} need?"],
                              "Let the dough for the {e} rise for {v}"),
                    "flour": f(lambda r: en_num(r, 200, 900, 50) + " grams", ["Mix {v} of flour with the water and salt.",
                                                                            "Start with {v} of flour."],
                               ["How much flour goes into the {e}?", "How much flour do I need for the {e}?"],
                               "The {e} takes {v} of flour")},
                    "filler": ["Knead until smooth.", "Cover the bowl with a damp cloth."]},
            },
        },
        "zh": {
            "things": [a + p for a in ["桂花", "红枣", "芝麻", "核桃", "南瓜", "紫薯", "椰蓉", "豆沙"] for p in ["面包", "蛋糕", "馒头", "饼干", "酥饼"]],
            "titles": ["{e}的做法", "怎样做{e}", "{e}食谱"],
            "sections": {
                "烘烤": {"facts": {
                    "oven": f(lambda r: zh_num(r, 160, 250, 10) + "度", ["烤箱预热到{v}再放进去。", "用{v}烤。"],
                              ["做{e}烤箱要多少度？", "{e}用多少度烤？"], "{e}用{v}烤"),
                    "time": f(lambda r: zh_num(r, 12, 75) + "分钟", ["烤{v}，直到表面金黄。", "放进烤箱烤{v}。"],
                              ["{e}要烤多久？", "{e}烤几分钟？"], "{e}要烤{v}")},
                    "filler": ["中途把烤盘调个方向。", "出炉后放在架子上晾凉。"]},
                "发面": {"facts": {
                    "rise": f(lambda r: r.choice(["半小时", "一小时", "两小时", "三小时", "一夜"]), ["面团放在温暖的地方发酵{v}。", "盖上盖子发{v}。"],
                              ["做{e}的面团要发多久？", "{e}的面要发酵多长时间？"], "{e}的面团发酵{v}")},
                    "filler": ["揉到表面光滑。", "用湿布盖住面盆。"]},
            },
        },
    },
    "instrument": {
        "en": {
            "things": [b + " " + p for b in ["Polaris", "Vega", "Lyra", "Sirius", "Kepler", "Halley", "Cygnus", "Altair"]
                       for p in ["telescope", "binoculars", "microscope", "camera", "drone", "weather station"]],
            "titles": ["Using the {e}", "{e} guide", "Getting started with the {e}"],
            "sections": {
                "Before you start": {"facts": {
                    "cool": f(lambda r: r.choice(["half an hour", "twenty minutes", "an hour", "ten minutes", "forty minutes"]),
                              ["Let it cool outside for {v} before use.", "Leave it outdoors for {v} to settle to the air temperature."],
                              ["How long should the {e} cool outside?", "How long must the {e} adjust to the outside air?"],
                              "Let the {e} cool outside for {v}"),
                    "charge": f(lambda r: r.choice(["two hours", "three hours", "ninety minutes", "four hours", "overnight"]),
                                ["Charge the battery fully for {v} first.", "The first charge takes {v}."],
                                ["How long does the {e}'s battery take to charge?", "How long should I charge the {e} before first use?"],
                                "Charge the {e} for {v}")},
                    "filler": ["Check that the lens caps are off.", "Read the safety notes first."]},
                "Settings": {"facts": {
                    "zoom": f(lambda r: en_num(r, 10, 300, 10) + " times", ["The highest useful magnification is {v}.",
                                                                          "Do not go beyond {v} magnification."],
                              ["What is the most magnification the {e} can use?", "How far can the {e} usefully zoom?"],
                              "The {e} is useful up to {v} magnification")},
                    "filler": ["Start with the lowest power.", "Focus slowly."]},
            },
        },
    },
}


def section_text(rng, sec, name, values, zh):
    """A section's chunk as Helix's chunker keeps it: the heading line, then the sentences (the facts'
    and some filler) in a paragraph or two."""
    sents = [rng.choice(sec["facts"][k]["say"]).format(v=v) for k, v in values]
    sents += rng.sample(sec["filler"], rng.randint(0, len(sec["filler"])))
    rng.shuffle(sents)
    cut = rng.randint(1, len(sents))
    j = "" if zh else " "
    body = j.join(sents[:cut]) + ("\n\n" + j.join(sents[cut:]) if sents[cut:] else "")
    return name + "\n\n" + body


def gen_docs(rng):
    """One sample (a chat record with meta for the citations metric), or None to draw again."""
    zh = rng.random() < 0.4
    doms = [d for d in sorted(DOMAINS) if ("zh" if zh else "en") in DOMAINS[d]]
    dom = DOMAINS[rng.choice(doms)]["zh" if zh else "en"]
    things = rng.sample(dom["things"], rng.randint(2, 4))
    secs = sorted(dom["sections"])
    title_t = rng.choice(dom["titles"])
    docs = {}  # thing -> {section: [(key, value)]}
    for t in things:
        shown = rng.sample(secs, rng.randint(1, len(secs)))
        docs[t] = {s: [(k, dom["sections"][s]["facts"][k]["value"](rng))
                       for k in rng.sample(sorted(dom["sections"][s]["facts"]), rng.randint(1, len(dom["sections"][s]["facts"])))]
                   for s in shown}
    target = things[0]
    chatfile = rng.random() < 0.25
    pool = [(t, s) for t in (things[:1] if chatfile else things) for s in docs[t]]
    known = [(s, k) for s in docs[target] for k, _ in docs[target][s]]
    others = [(s, k) for t in things[1:] for s in docs[t] for k, _ in docs[t][s]
              if (s, k) not in known and not any(k == k2 for s2 in docs[target] for k2, _ in docs[target][s2])]
    if rng.random() < 0.08 and others and not chatfile:
        ask = [rng.choice(others)]
    else:
        ask = rng.sample(known, 2 if rng.random() < 0.12 and len(known) > 1 else 1)
    # the asked sections of the target, and the same sections of the other things first among the rest
    must = [(target, s) for s in dict.fromkeys(s for s, _ in ask) if s in docs[target]]
    rest = [p for p in pool if p not in must]
    rng.shuffle(rest)
    rest.sort(key=lambda p: (p[1] not in [s for s, _ in ask]))
    chosen = must + rest[:rng.randint(2, 6)]
    if len(chosen) < 2:
        return None
    rng.shuffle(chosen)
    title = {t: title_t.format(e=cap(t) if not zh else t) for t in things}
    passages = [section_text(rng, dom["sections"][s], s, docs[t][s], zh) for t, s in chosen]
    labels = [f"{title[t]} > {s}" for t, s in chosen]
    value = {(s, k): v for s in docs[target] for k, v in docs[target][s]}
    qs = [rng.choice(dom["sections"][s]["facts"][k]["ask"]).format(e=target) for s, k in ask]
    q = (qs[0] if len(qs) == 1 else qs[0] + "另外，" + qs[1]) if zh else \
        (qs[0] if len(qs) == 1 else qs[0] + " And " + qs[1][0].lower() + qs[1][1:])
    shape = "chatfile" if chatfile else "ask"
    if any(x not in value for x in ask):
        ans, cites = NOT_SAY[(shape, zh)], []
    else:
        parts, cites = [], []
        for s, k in ask:
            n = chosen.index((target, s)) + 1
            ft = dom["sections"][s]["facts"][k]
            parts.append(ft["answer"].format(e=target, E=cap(target), v=value[(s, k)]) + f" [{n}]")
            cites.append(n)
            assert value[(s, k)] in passages[n - 1]
        cites = sorted(set(cites))
        ans = ("，".join(parts) + "。") if zh else (". ".join(cap(p) for p in parts) + ".")
    if chatfile:
        wheres = [f"{title[target]}.md \u00b7 {title[target]} > {s}" for _, s in chosen]
        user = chatfile_prompt(q, {"cmd": title[target]}, passages, wheres, zh)
    else:
        user = ask_prompt(q, passages, zh, labels)
    assert sorted(int(x) for x in set(re.findall(r"\[(\d+)\]", ans))) == cites, (ans, cites)
    meta = {"format": "citations", "citations": cites, "n_passages": len(passages), "shape": shape,
            "lang": "zh" if zh else "en", "question": q, "labels": labels, "thing": target}
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": ans}], "meta": meta}
