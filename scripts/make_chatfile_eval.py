#!/usr/bin/env python3
"""Writes ChatFile's evaluation documents and their answer keys, from templates (no model output).

Two documents, both generated deterministically (seeded) so the answer key is exact:
  meeting_zh.txt   a multi-hour Chinese meeting transcript (timestamps, five speakers) with known
                   topics (议题), decisions (决定) and action items (owner, due date), the rest filler talk;
  report_en.md     a long English annual report in sections with known facts (figures, names, dates),
                   each placed in one section, the rest filler prose with no figures;
and gold.json: topics with keywords, decisions, action items, facts with questions, answers and the
section holding each.

  python3 scripts/make_chatfile_eval.py OUT_DIR [--size tiny|small|full]

Sizes (estimated model tokens): tiny ~2k + ~2k (the CI test), small ~12k + ~15k, full ~45k + ~100k
(the report is 85,540 tokens of the default model, Gemma 3), xl: full with a report of 104k Gemma tokens.
"""
import argparse
import json
import os
import random

SPEAKERS = ["张伟", "李娜", "王强", "刘洋", "陈静"]

# (title, keywords, decision, decision keyword, [(owner, task, task keyword, due)])
TOPICS_ZH = [
    ("第三季度预算调整", ["预算"], "市场部第三季度预算削减百分之十五", "削减百分之十五",
     [("王强", "重新编制第三季度市场预算表", "预算表", "十月十五日")]),
    ("新产品发布时间", ["发布"], "新产品发布推迟到十一月二十日", "十一月二十日",
     [("李娜", "通知所有渠道合作伙伴新的发布日期", "渠道合作伙伴", "十月十日")]),
    ("客服系统升级", ["客服系统"], "客服系统改用云端方案", "云端方案",
     [("刘洋", "联系三家供应商拿到报价", "报价", "十月二十五日")]),
    ("招聘计划", ["招聘"], "本季度只招聘两名后端工程师", "两名后端工程师",
     [("陈静", "发布后端工程师的招聘启事", "招聘启事", "下周一")]),
    ("办公室搬迁", ["搬迁"], "办公室在明年一月搬到滨江大厦", "滨江大厦",
     [("张伟", "确认滨江大厦的租赁合同", "租赁合同", "十一月三十日")]),
    ("数据安全审计", ["安全审计", "审计"], "每季度做一次外部安全审计", "外部安全审计",
     [("王强", "起草安全审计的招标文件", "招标文件", "十月三十一日")]),
]

FILLER_ZH = [
    "我觉得这个问题我们上次也讨论过，大家的意见不太一样。",
    "对，我同意你的看法，不过还要看看具体的情况。",
    "这个我们需要再和相关的同事沟通一下。",
    "我补充一点，客户那边最近的反馈也提到了类似的情况。",
    "好的，那我们先把这个记下来，后面再细化。",
    "我这边没有太多意见，主要看大家怎么安排。",
    "这个事情的影响面比较大，我们还是要谨慎一点。",
    "上个月的数据我看了一下，整体趋势还是比较平稳的。",
    "如果时间来得及的话，我建议我们分两步来做。",
    "其实这个方案的风险我们之前评估过，问题不大。",
    "我们团队这几周的工作量比较饱和，需要考虑一下人手。",
    "那我们先这样，有问题会后再单独沟通。",
    "我想确认一下，这件事情最后由谁来牵头？",
    "从成本的角度看，我们还有一些优化的空间。",
    "这一点我没有意见，按照之前说的来就行。",
]

# Each fact: (section, sentence, question, answer)
FACTS_EN = [
    ("Water Supply", "The Lake Orrin reservoir held 41,250 megalitres at the end of March.",
     "How much water did the Lake Orrin reservoir hold at the end of March?", "41,250"),
    ("Water Supply", "Average daily demand across the district was 318 megalitres.",
     "What was the average daily water demand across the district?", "318"),
    ("Finance", "Total operating revenue for the year was 96.4 million dollars.",
     "What was the total operating revenue for the year?", "96.4"),
    ("Finance", "The board approved a tariff increase of 3.8 percent from the first of July.",
     "What tariff increase did the board approve?", "3.8"),
    ("Finance", "Capital spending on the Kestrel pipeline reached 22.7 million dollars.",
     "How much capital was spent on the Kestrel pipeline?", "22.7"),
    ("Infrastructure", "Crews replaced 148 kilometres of ageing cast-iron mains.",
     "How many kilometres of cast-iron mains were replaced?", "148"),
    ("Infrastructure", "The new Brackenridge treatment plant was commissioned on 14 September.",
     "When was the Brackenridge treatment plant commissioned?", "14 September"),
    ("Infrastructure", "Leakage fell to 11.2 percent of water supplied.",
     "What share of water supplied was lost to leakage?", "11.2"),
    ("Customers", "The authority served 412,600 customer accounts.",
     "How many customer accounts did the authority serve?", "412,600"),
    ("Customers", "Customer complaints fell by 27 percent compared with the previous year.",
     "By how much did customer complaints fall?", "27"),
    ("Customers", "The call centre answered 87 percent of calls within thirty seconds.",
     "What share of calls did the call centre answer within thirty seconds?", "87"),
    ("People", "Chief executive Margaret Okafor announced her retirement after nine years.",
     "Which chief executive announced her retirement?", "Okafor"),
    ("People", "The workforce numbered 1,306 full-time staff at year end.",
     "How many full-time staff did the authority employ at year end?", "1,306"),
    ("People", "Lost-time injuries fell to 4 for the whole year.",
     "How many lost-time injuries occurred in the year?", "4"),
    ("Environment", "The authority planted 65,000 native trees along the Tamsin river.",
     "How many native trees were planted along the Tamsin river?", "65,000"),
    ("Environment", "Solar panels at the Fenwick depot generated 2.9 gigawatt-hours.",
     "How much electricity did the solar panels at the Fenwick depot generate?", "2.9"),
    ("Environment", "Greenhouse emissions fell to 38,900 tonnes of carbon dioxide equivalent.",
     "What were the authority's greenhouse emissions?", "38,900"),
    ("Outlook", "The authority plans to open the Harlow desalination plant in 2028.",
     "When does the authority plan to open the Harlow desalination plant?", "2028"),
]

FILLER_EN_A = ["The authority", "Our teams", "The operations group", "Management", "The district office",
               "Field staff", "The planning unit", "Regional managers"]
FILLER_EN_B = ["continued to review", "worked closely on", "kept a steady focus on", "reported regularly on",
               "made further progress with", "consulted the community about", "refined its approach to"]
FILLER_EN_C = ["maintenance schedules", "service standards", "long-term planning", "asset records",
               "community engagement", "training programmes", "procurement practices", "risk controls",
               "reporting systems", "catchment management"]
FILLER_EN_D = ["throughout the period", "in line with the strategic plan", "with support from partner agencies",
               "as set out in earlier reports", "across all regions", "while keeping costs under control"]

SIZES = {  # (filler lines per topic in the meeting, filler sentences per section-part in the report, parts)
    "tiny": (4, 6, 1),
    "small": (40, 30, 3),
    "full": (150, 110, 8),
    "xl": (150, 132, 8),
}


def meeting(rng, per_topic):
    lines, t = [], 9 * 3600
    def say(who, text):
        nonlocal t
        t += rng.randint(10, 50)
        lines.append(f"[{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}] {who}：{text}")
    say("张伟", "好，人都到齐了，我们开始今天的会议。今天一共有六个议题。")
    for i, (title, _kw, decision, _dk, actions) in enumerate(TOPICS_ZH):
        say("张伟", f"下面讨论第{'一二三四五六'[i]}个议题：{title}。")
        for k in range(per_topic):
            say(rng.choice(SPEAKERS), rng.choice(FILLER_ZH))
            if k == per_topic // 2:
                say(rng.choice(SPEAKERS), f"关于{title}，我的看法是需要尽快定下来。")
        say("张伟", f"那我们就这么定了：{decision}。")
        for owner, task, _tk, due in actions:
            say("张伟", f"{owner}，请你负责{task}，{due}之前完成。")
            say(owner, "好的，没问题。")
    say("张伟", "今天的会就到这里，谢谢大家。")
    return "\n".join(lines) + "\n"


def report(rng, sentences, parts):
    sections = []
    for s in FACTS_EN:
        if s[0] not in sections:
            sections.append(s[0])
    out = ["# Northwind Water Authority Annual Report 2025", ""]
    def filler(n):
        return " ".join(f"{rng.choice(FILLER_EN_A)} {rng.choice(FILLER_EN_B)} {rng.choice(FILLER_EN_C)} "
                        f"{rng.choice(FILLER_EN_D)}." for _ in range(n))
    for sec in sections:
        facts = [f for f in FACTS_EN if f[0] == sec]
        out += [f"## {sec}", ""]
        for p in range(parts):
            if parts > 1:
                out += [f"### {sec}: part {p + 1}", ""]
            for k in range(max(1, sentences // 6)):
                out += [filler(6), ""]
            if p == parts // 2:
                out += [" ".join(f[1] for f in facts), ""]
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--size", choices=sorted(SIZES), default="small")
    ap.add_argument("--seed", type=int, default=17)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    per_topic, sentences, parts = SIZES[a.size]
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "meeting_zh.txt"), "w", encoding="utf-8") as f:
        f.write(meeting(rng, per_topic))
    with open(os.path.join(a.out, "report_en.md"), "w", encoding="utf-8") as f:
        f.write(report(rng, sentences, parts))
    gold = {
        "size": a.size,
        "meeting": {
            "file": "meeting_zh.txt",
            "topics": [{"title": t[0], "keywords": t[1]} for t in TOPICS_ZH],
            "decisions": [{"text": t[2], "keyword": t[3]} for t in TOPICS_ZH],
            "action_items": [{"owner": o, "task": task, "keyword": kw, "due": due}
                             for t in TOPICS_ZH for (o, task, kw, due) in t[4]],
        },
        "report": {
            "file": "report_en.md",
            "facts": [{"section": s, "sentence": x, "question": q, "answer": ans} for s, x, q, ans in FACTS_EN],
        },
    }
    with open(os.path.join(a.out, "gold.json"), "w", encoding="utf-8") as f:
        json.dump(gold, f, ensure_ascii=False, indent=1)
    print(a.out)


if __name__ == "__main__":
    main()
