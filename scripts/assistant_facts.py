"""Grounded data where each passage holds several facts about several things (imported by
scripts/make_assistant_data.py as the `grounded_facts` set).

The man-page set (assistant_grounded_real.py) answers with the passage's own sentence, and the short set
has one fact per passage, so the model learnt to copy a sentence that shares words with the question.
Real documents put several figures in one paragraph: "Road tyres run at six to eight bar, mountain bike
tyres at two bar."; "乌龙茶……产自福建和台湾。……普洱茶产自云南". Asked "What pressure do road tyres need?"
or "普洱茶产自哪里？", the model copied the wrong sentence or made one up. Here a passage describes 2-4
things of one kind (teas, bicycle parts, people), each with 1-3 of its attributes, and the other
passages describe other things of the same kind with the same attributes, so only the thing's name tells
the passages apart. The question asks one attribute of one thing (what, where, how much, how many,
which year; Chinese 哪里、多少、几次、哪一年、什么), and the answer states just that value with the [n] of the
passage that holds it; ~10% ask an attribute no passage gives (a shown thing's other attribute, the
hardest case) and answer "The passages do not say.", ~15% ask about two things.

The things are invented (names from word lists, values drawn at random), so the answer can only come
from the passages, never from what the model already believes. Prompts are byte for byte those of
helix ask and ChatFile (assistant_grounded_real.ask_prompt / chatfile_prompt).
"""
import re

from assistant_grounded_real import NOT_SAY, ask_prompt, chatfile_prompt

ZH_NUM = "零一二三四五六七八九十"


def zh_small(n):
    """Chinese numerals for 1-99 (八十, 十二, 七), as prose writes small numbers."""
    if n < 10:
        return ZH_NUM[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else ZH_NUM[tens]) + "十" + (ZH_NUM[ones] if ones else "")


def num(rng, lo, hi, step=1, zh=False):
    n = rng.randrange(lo, hi + 1, step)
    return zh_small(n) if zh and n < 100 and rng.random() < 0.4 else str(n)


ZH_PLACES = ["云南", "福建", "浙江", "安徽", "四川", "湖南", "广东", "江苏", "贵州", "台湾", "江西", "湖北", "广西", "山东", "河南", "陕西"]
EN_PLACES = ["Kenya", "Assam", "Darjeeling", "Ceylon", "Yunnan", "Fujian", "Colombia", "Brazil", "Ethiopia", "Java", "Sumatra",
             "Vietnam", "Peru", "Guatemala", "Jamaica", "Nepal", "Rwanda", "Uganda"]
ZH_CITIES = ["北京", "上海", "广州", "深圳", "成都", "杭州", "南京", "武汉", "西安", "重庆", "苏州", "天津", "长沙", "青岛", "厦门", "昆明"]
EN_CITIES = ["Lyon", "Porto", "Leeds", "Graz", "Turin", "Ghent", "Malmo", "Bergen", "Krakow", "Seville", "Dresden", "Utrecht",
             "Cork", "Basel", "Tartu", "Split"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]


def a(values, say, ask, answer, only=None):
    """An attribute: its value drawn by values(rng, zh), sentences that say it (one is drawn per passage),
    questions that ask it, and the answer's wording. {e} is the thing, {v} the value. `only`: the words
    one of which a thing's name must hold to have it (a pump has a pressure, a chain has none)."""
    return {"values": values, "say": say, "ask": ask, "answer": answer, "only": only}


def has(kind, name, key):
    only = kind["attrs"][key]["only"]
    return not only or any(w in name for w in only)


KINDS = {
    "tea": {
        "zh": {
            "headings": ["中国茶", "名茶介绍", "茶叶简介", "茶的种类"],
            "names": ([p + s for p in ["云雾", "白毫", "金叶", "雪芽", "紫笋", "银针", "凤凰", "翠峰", "松萝", "玉露", "碧潭", "竹叶", "兰香",
                                       "春眉", "青峰", "月光"] for s in ["茶", "红茶", "毛尖"]]),
            "attrs": {
                "origin": a(lambda r, z: r.choice(ZH_PLACES), ["{e}产自{v}。", "{e}主要产于{v}。", "{e}的产地是{v}。"],
                            ["{e}产自哪里？", "{e}的产地是哪里？", "{e}是哪里产的？"], "{e}产自{v}"),
                "kind": a(lambda r, z: r.choice(["不发酵", "半发酵", "全发酵", "后发酵"]), ["{e}是一种{v}的茶。", "{e}属于{v}茶。"],
                          ["{e}是什么类型的茶？", "{e}是发酵茶吗？属于哪一类？"], "{e}是{v}的茶"),
                "temp": a(lambda r, z: num(r, 70, 100, 5, z), ["冲泡{e}的水温应该在{v}度左右。", "{e}适合用{v}度的水冲泡。"],
                          ["冲泡{e}的水温应该是多少？", "{e}要用多少度的水冲泡？"], "冲泡{e}的水温是{v}度左右"),
                "steeps": a(lambda r, z: num(r, 2, 9, 1, z), ["{e}可以冲泡{v}次。", "一份{e}能泡{v}次。"],
                            ["{e}可以冲泡几次？", "一份{e}能泡几次？"], "{e}可以冲泡{v}次"),
                "price": a(lambda r, z: str(r.randrange(20, 900, 10)), ["{e}每斤售价{v}元。", "{e}的价格是每斤{v}元。"],
                           ["{e}多少钱一斤？", "{e}的价格是多少？"], "{e}每斤{v}元"),
            },
        },
        "en": {
            "headings": ["Teas and coffees", "Our range", "Growing regions", "Tasting notes"],
            "names": [p + " " + s for p in ["Blue Ridge", "Golden Leaf", "Silver Tip", "Red Valley", "Morning Mist", "High Peak", "Cedar",
                                            "Amber", "Jade Spring", "River Bend", "Old Mill", "Lark Hill"] for s in ["tea", "coffee", "blend"]],
            "attrs": {
                "origin": a(lambda r, z: r.choice(EN_PLACES), ["{e} is grown in {v}.", "{e} comes from {v}.", "The beans or leaves of {e} are picked in {v}."],
                            ["Where does {e} come from?", "Where is {e} grown?"], "{e} comes from {v}"),
                "temp": a(lambda r, z: num(r, 70, 100, 5), ["Brew {e} with water at {v} degrees.", "{e} is best made with water at about {v} degrees."],
                          ["At what temperature should {e} be brewed?", "How hot should the water be for {e}?"], "{e} is brewed at about {v} degrees"),
                "price": a(lambda r, z: str(r.randrange(8, 90)), ["{e} costs {v} dollars a kilogram.", "A kilogram of {e} sells for {v} dollars."],
                           ["How much does {e} cost?", "What is the price of {e}?"], "{e} costs {v} dollars a kilogram"),
                "harvest": a(lambda r, z: r.choice(MONTHS), ["{e} is harvested in {v}.", "The harvest of {e} takes place in {v}."],
                             ["When is {e} harvested?", "In which month is {e} harvested?"], "{e} is harvested in {v}"),
            },
        },
    },
    "gear": {
        "zh": {
            "headings": ["自行车保养", "配件说明", "使用手册", "产品参数"],
            "names": [b + p for b in ["飞鸽", "永久", "凤凰", "捷安", "美利", "喜德", "骏马", "神州"]
                      for p in ["公路车轮胎", "山地车轮胎", "链条", "刹车片", "车灯", "电池", "打气筒"]],
            "attrs": {
                "pressure": a(lambda r, z: num(r, 2, 9, 1, z), ["{e}的气压应该保持在{v}巴。", "{e}需要充气到{v}巴。"],
                              ["{e}需要多大的气压？", "{e}应该充气到多少巴？"], "{e}的气压是{v}巴", ["轮胎", "打气筒"]),
                "weight": a(lambda r, z: str(r.randrange(90, 2000, 10)), ["{e}重{v}克。", "{e}的重量是{v}克。"],
                            ["{e}有多重？", "{e}的重量是多少？"], "{e}重{v}克"),
                "replace": a(lambda r, z: num(r, 2, 24, 1, z), ["{e}每{v}个月应该更换一次。", "建议每{v}个月更换{e}。"],
                             ["{e}多久更换一次？", "{e}应该多长时间换一次？"], "{e}每{v}个月更换一次"),
                "price": a(lambda r, z: str(r.randrange(30, 1500, 10)), ["{e}售价{v}元。", "{e}的价格是{v}元。"],
                           ["{e}多少钱？", "{e}的价格是多少？"], "{e}的价格是{v}元"),
                "origin": a(lambda r, z: r.choice(ZH_CITIES), ["{e}在{v}生产。", "{e}由{v}的工厂制造。"],
                            ["{e}是在哪里生产的？", "{e}产自哪里？"], "{e}在{v}生产"),
            },
        },
        "en": {
            "headings": ["Bicycle maintenance", "Parts", "Owner's manual", "Specifications"],
            "names": [b + " " + p for b in ["Apex", "Nova", "Vector", "Orion", "Summit", "Falcon", "Zenith", "Pioneer"]
                      for p in ["road tyre", "mountain tyre", "chain", "brake pad", "headlamp", "battery", "pump"]],
            "attrs": {
                "pressure": a(lambda r, z: num(r, 2, 9), ["The {e} runs at {v} bar.", "Inflate the {e} to {v} bar."],
                              ["What pressure does the {e} need?", "How many bar should the {e} have?"], "The {e} needs {v} bar",
                              ["tyre", "pump"]),
                "weight": a(lambda r, z: str(r.randrange(90, 2000, 10)), ["The {e} weighs {v} grams.", "At {v} grams, the {e} is light."],
                            ["How much does the {e} weigh?", "What is the weight of the {e}?"], "The {e} weighs {v} grams"),
                "replace": a(lambda r, z: num(r, 2, 24), ["Replace the {e} every {v} months.", "The {e} should be changed every {v} months."],
                             ["How often should the {e} be replaced?", "When should I change the {e}?"], "The {e} should be replaced every {v} months"),
                "range": a(lambda r, z: str(r.randrange(50, 3000, 50)), ["The {e} lasts about {v} kilometres.", "Expect about {v} kilometres from the {e}."],
                           ["How long does the {e} last?", "How many kilometres does the {e} last?"], "The {e} lasts about {v} kilometres",
                           ["tyre", "chain", "brake pad"]),
            },
        },
    },
    "people": {
        "zh": {
            "headings": ["团队介绍", "员工名录", "联系人", "作者简介"],
            "names": [s + g for s in "张王李刘陈杨赵黄周吴徐孙马朱胡郭" for g in ["伟", "芳", "娜", "洋", "静", "磊", "敏", "勇", "杰", "霞", "涛", "丽"]],
            "attrs": {
                "city": a(lambda r, z: r.choice(ZH_CITIES), ["{e}住在{v}。", "{e}现在在{v}工作。"],
                          ["{e}住在哪里？", "{e}在哪个城市？"], "{e}在{v}"),
                "job": a(lambda r, z: r.choice(["工程师", "医生", "教师", "会计", "律师", "厨师", "设计师", "记者", "护士", "司机"]),
                         ["{e}是一名{v}。", "{e}的职业是{v}。"], ["{e}是做什么工作的？", "{e}的职业是什么？"], "{e}是{v}"),
                "year": a(lambda r, z: str(r.randrange(1995, 2025)), ["{e}于{v}年加入公司。", "{e}是{v}年入职的。"],
                          ["{e}是哪一年加入公司的？", "{e}哪年入职？"], "{e}于{v}年加入公司"),
                "age": a(lambda r, z: num(r, 22, 65, 1, z), ["{e}今年{v}岁。"], ["{e}今年多大？", "{e}几岁了？"], "{e}今年{v}岁"),
            },
        },
        "en": {
            "headings": ["Our team", "Staff", "Contacts", "About the authors"],
            "names": [f + " " + l for f in ["Maria", "John", "Aiko", "Omar", "Lena", "Carlos", "Priya", "Ivan", "Grace", "Tom", "Sara", "Ken"]
                      for l in ["Lopez", "Smith", "Tanaka", "Haddad", "Berg", "Silva", "Patel", "Novak"]],
            "attrs": {
                "city": a(lambda r, z: r.choice(EN_CITIES), ["{e} lives in {v}.", "{e} is based in {v}."],
                          ["Where does {e} live?", "Which city is {e} based in?"], "{e} lives in {v}"),
                "job": a(lambda r, z: r.choice(["an engineer", "a doctor", "a teacher", "an accountant", "a lawyer", "a chef", "a designer",
                                                "a reporter", "a nurse", "a pilot"]),
                         ["{e} works as {v}.", "{e} is {v}."], ["What does {e} do for a living?", "What is {e}'s job?"], "{e} is {v}"),
                "year": a(lambda r, z: str(r.randrange(1995, 2025)), ["{e} joined the company in {v}.", "{e} has been with us since {v}."],
                          ["When did {e} join the company?", "In which year did {e} join?"], "{e} joined in {v}"),
                "age": a(lambda r, z: num(r, 22, 65), ["{e} is {v} years old."], ["How old is {e}?"], "{e} is {v} years old"),
            },
        },
    },
}


def passage(rng, kind, things, zh):
    """One passage and its label (the document title helix ask shows): maybe the heading as its first
    line, then each thing's sentences (as a paragraph, or run together)."""
    paras = []
    for name, facts in things:
        sent = [rng.choice(kind["attrs"][k]["say"]).format(e=name, v=v) for k, v in facts]
        paras.append(("" if zh else " ").join(sent))
    sep = "\n\n" if rng.random() < 0.5 else ("" if zh else " ")
    body = sep.join(paras)
    label = rng.choice(kind["headings"])
    if rng.random() < 0.4:
        body = label + "\n\n" + body
    return body, label


def cap(s):
    return s[0].upper() + s[1:]


def gen_facts(rng):
    """One sample (a chat record with meta for the citations metric), or None to draw again."""
    zh = rng.random() < 0.5
    kind_name = rng.choice(sorted(KINDS))
    kind = KINDS[kind_name]["zh" if zh else "en"]
    k = rng.randint(3, 6)
    names = rng.sample(kind["names"], k * 3)
    attrs = sorted(kind["attrs"])
    table, passages, labels, where = {}, [], [], {}
    for p in range(k):
        things = []
        for name in names[3 * p:3 * p + rng.randint(2, 3)]:
            mine = [key for key in attrs if has(kind, name, key)]
            facts = [(key, kind["attrs"][key]["values"](rng, zh)) for key in rng.sample(mine, min(len(mine), rng.randint(1, 3)))]
            things.append((name, facts))
            for key, v in facts:
                table[(name, key)] = v
                where[(name, key)] = p + 1
        body, label = passage(rng, kind, things, zh)
        passages.append(body)
        labels.append(label)
    known = sorted(table)
    r = rng.random()
    if r < 0.1:  # a shown thing's attribute that no passage gives
        missing = [(n, key) for n in {n for n, _ in known} for key in attrs if (n, key) not in table and has(kind, n, key)]
        if not missing:
            return None
        n, key = rng.choice(sorted(missing))
        asks, cites = [(n, key)], []
    else:
        asks = rng.sample(known, 2 if r < 0.25 else 1)
        if len(asks) == 2 and asks[0][0] == asks[1][0]:
            return None
        cites = sorted({where[x] for x in asks})
    qs = [rng.choice(kind["attrs"][key]["ask"]).format(e=n) for n, key in asks]
    if zh:
        q = qs[0] if len(qs) == 1 else qs[0] + "另外，" + qs[1]
    else:
        q = cap(qs[0]) if len(qs) == 1 else cap(qs[0]) + " And " + qs[1][0].lower() + qs[1][1:]
    shape = "chatfile" if rng.random() < 0.25 else "ask"
    if not cites:
        ans = NOT_SAY[(shape, zh)]
    else:
        parts = [kind["attrs"][key]["answer"].format(e=n, v=table[(n, key)]) + f" [{where[(n, key)]}]" for n, key in asks]
        ans = ("，".join(parts) + "。") if zh else (". ".join(cap(p) for p in parts) + ".")
    if shape == "chatfile":
        title = rng.choice(kind["headings"])
        wheres = [f"{title}.txt" for _ in passages]
        user = chatfile_prompt(q, {"cmd": title}, passages, wheres, zh)
    else:
        user = ask_prompt(q, passages, zh, labels)
    for n, key in asks:  # the cited passage holds the value, next to the thing's name
        if (n, key) in table:
            assert n in passages[where[(n, key)] - 1] and table[(n, key)] in passages[where[(n, key)] - 1]
    assert sorted(int(x) for x in set(re.findall(r"\[(\d+)\]", ans))) == cites, (ans, cites)
    meta = {"format": "citations", "citations": cites, "n_passages": len(passages), "shape": shape,
            "lang": "zh" if zh else "en", "kind": kind_name, "question": q, "labels": labels}
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": ans}], "meta": meta}
