#!/usr/bin/env python3
"""Generates the preference data of recipes/prefs/dpo.toml: answers that follow a requested output
format (chosen) against answers with the same content that do not (rejected).

Six request kinds, all from templates and small fact tables written here (no model outputs):
  number   "... Reply with just the number."          chosen "24"            rejected "There are 24 legs."
  label    "... Answer yes or no."                     chosen "yes"           rejected "Yes, 17 is larger than 9."
  json     "... as a JSON object with keys ..."        chosen {"city": ...}   rejected "City: Lima, country: Peru"
  list     "... as bullet points starting with "- ""   chosen "- a\\n- b"      rejected "a, b" / "1. a\\n2. b"
  upper    "... Answer in capital letters only."       chosen "YELLOW"        rejected "Yellow" / "It is yellow."
  prefix   "... Start your reply with "Answer:"."      chosen "Answer: Lima"  rejected "Lima" / "The capital is Lima."

Files (in --out, default recipes/prefs/dpo_data):
  format_prefs.train.jsonl    pairs {"prompt", "chosen", "rejected", "meta"} for training
  format_prefs.heldout.jsonl  held-out pairs (other entities and numbers): reward accuracy
  rm_ASPECT.eval.jsonl        recipes/prefs/dpo_rm_set.toml's evals: the held-out prompts of the reward
                              models' set (format, politeness, citation; scripts/make_pref_data.py)
                              with meta for format_valid / citation_correct; rm_set.heldout.jsonl
                              their held-out pairs
  KIND.eval.jsonl             the held-out prompts of each kind as conversations with meta.format
                              (src/train/eval_metrics.h: number, label, json, list, regex): the rate
                              at which the model's own greedy answers follow the requested format

    python3 scripts/make_dpo_data.py [--seed 1] [--out recipes/prefs/dpo_data] [--train 720] [--heldout 96]

The same seed gives the same files byte for byte.
"""
import argparse
import json
import os
import random

FRUITS = [("banana", "yellow"), ("lemon", "yellow"), ("strawberry", "red"), ("cherry", "red"), ("lime", "green"),
          ("kiwi", "green"), ("blueberry", "blue"), ("plum", "purple"), ("grape", "purple"), ("orange", "orange"),
          ("tomato", "red"), ("cucumber", "green"), ("carrot", "orange"), ("aubergine", "purple"),
          ("raspberry", "red"), ("pear", "green"), ("pumpkin", "orange"), ("corn", "yellow"), ("beetroot", "purple"),
          ("broccoli", "green")]
CAPITALS = [("France", "Paris"), ("Peru", "Lima"), ("Japan", "Tokyo"), ("Kenya", "Nairobi"), ("Chile", "Santiago"),
            ("Italy", "Rome"), ("Egypt", "Cairo"), ("Spain", "Madrid"), ("Canada", "Ottawa"), ("Norway", "Oslo"),
            ("Greece", "Athens"), ("Poland", "Warsaw"), ("Cuba", "Havana"), ("Ireland", "Dublin"),
            ("Portugal", "Lisbon"), ("Austria", "Vienna"), ("Sweden", "Stockholm"), ("Finland", "Helsinki"),
            ("Thailand", "Bangkok"), ("Vietnam", "Hanoi"), ("Argentina", "Buenos Aires"), ("Ghana", "Accra"),
            ("Hungary", "Budapest"), ("Denmark", "Copenhagen")]
ITEMS = ["apples", "pencils", "stamps", "marbles", "books", "coins", "shells", "cards", "bottles", "boxes"]
WORDS = ["red", "blue", "green", "salt", "pepper", "rice", "bread", "milk", "tea", "soap", "rope", "chalk", "glue",
         "wool", "silk", "sand", "clay", "iron", "tin", "wax", "oak", "pine", "fern", "moss"]
ANIMALS = [("spiders", 8), ("ants", 6), ("dogs", 4), ("ducks", 2), ("beetles", 6), ("cats", 4), ("crabs", 10),
           ("horses", 4), ("geese", 2), ("bees", 6)]


def number(rng, held):
    kind = rng.randrange(3)
    if kind == 0:
        a, b = rng.randint(2, 60), rng.randint(2, 60)
        item = rng.choice(ITEMS)
        q = f"Tom has {a} {item} and buys {b} more. How many {item} does he have now?"
        ans, prose = a + b, f"Tom now has {a + b} {item}."
    elif kind == 1:
        animal, legs = rng.choice(ANIMALS)
        n = rng.randint(2, 12)
        q = f"How many legs do {n} {animal} have in total?"
        ans, prose = n * legs, f"{n} {animal} have {n * legs} legs in total."
    else:
        a, b = rng.randint(20, 99), rng.randint(2, 19)
        q = f"What is {a} minus {b}?"
        ans, prose = a - b, f"{a} minus {b} is {a - b}."
    tail = rng.choice(["Reply with just the number.", "Answer with a number only.", "Give only the number."])
    return f"{q} {tail}", str(ans), prose, {"format": "number"}


def label(rng, held):
    a, b = rng.randint(1, 99), rng.randint(1, 99)
    while a == b:
        b = rng.randint(1, 99)
    yes = a > b
    q = f"Is {a} larger than {b}? " + rng.choice(["Answer yes or no.", "Reply with yes or no only.", "One word: yes or no."])
    prose = f"Yes, {a} is larger than {b}." if yes else f"No, {a} is smaller than {b}."
    return q, "yes" if yes else "no", prose, {"format": "label", "labels": ["yes", "no"]}


def as_json(rng, held, pool):
    country, city = rng.choice(pool)
    q = f"{city} is the capital of {country}. Return a JSON object with the keys \"city\" and \"country\"."
    chosen = json.dumps({"city": city, "country": country})
    rejected = rng.choice([f"City: {city}, country: {country}", f"The city is {city} and the country is {country}."])
    return q, chosen, rejected, {"format": "json"}


def as_list(rng, held):
    words = rng.sample(WORDS, rng.randint(3, 5))
    q = f"Write these words as bullet points, one per line starting with \"- \": {', '.join(words)}"
    chosen = "\n".join("- " + w for w in words)
    rejected = rng.choice([", ".join(words), "\n".join(f"{i + 1}. {w}" for i, w in enumerate(words)),
                           "\n".join("* " + w for w in words)])
    return q, chosen, rejected, {"format": "list"}


def upper(rng, held, pool):
    fruit, colour = rng.choice(pool)
    q = f"What colour is a typical {fruit}? " + rng.choice(["Answer in capital letters only.", "Reply in all caps.",
                                                          "Write your answer in capital letters."])
    rejected = rng.choice([colour, colour.capitalize(), f"A typical {fruit} is {colour}."])
    return q, colour.upper(), rejected, {"format": "regex", "pattern": "[^a-z]*[A-Z][^a-z]*"}


def prefix(rng, held, pool):
    country, city = rng.choice(pool)
    q = f"What is the capital of {country}? Start your reply with \"Answer:\"."
    rejected = rng.choice([city, f"The capital of {country} is {city}."])
    return q, f"Answer: {city}", rejected, {"format": "regex", "pattern": "Answer: [\\s\\S]+"}


KINDS = ["number", "label", "json", "list", "upper", "prefix"]


def make(rng, n, held):
    # Held-out pairs draw from the last quarter of each fact table, training pairs from the rest.
    cut_c, cut_f = len(CAPITALS) * 3 // 4, len(FRUITS) * 3 // 4
    caps = CAPITALS[cut_c:] if held else CAPITALS[:cut_c]
    fruits = FRUITS[cut_f:] if held else FRUITS[:cut_f]
    kinds = [lambda: number(rng, held), lambda: label(rng, held), lambda: as_json(rng, held, caps),
             lambda: as_list(rng, held), lambda: upper(rng, held, fruits), lambda: prefix(rng, held, caps)]
    out = []
    for i in range(n):
        q, chosen, rejected, meta = kinds[i % len(kinds)]()
        meta = {"kind": KINDS[i % len(KINDS)], **meta}
        out.append({"prompt": q, "chosen": chosen, "rejected": rejected, "meta": meta})
    return out


# The reward models' preference set (scripts/make_pref_data.py -> recipes/prefs/data) as DPO eval
# data for recipes/prefs/dpo_rm_set.toml: each aspect's held-out prompts as conversations whose meta
# says what the preferred behaviour is, and a mixed file of held-out pairs.
POLITE_OPEN = ["Sure!", "Of course.", "Happy to help.", "Good question!", "Certainly."]  # make_pref_data.py's


def rx_escape(text):  # for ECMAScript (std::regex): only the metacharacters
    return "".join("\\" + c if c in ".^$*+?()[]{}|\\/" else c for c in text)


def rm_set_evals(src, out, n):
    held = []
    for aspect in ("format", "politeness", "citation"):
        rows = [json.loads(line) for line in open(os.path.join(src, f"{aspect}.eval.jsonl")) if line.strip()][:n]
        held += rows
        with open(os.path.join(out, f"rm_{aspect}.eval.jsonl"), "w") as f:
            for r in rows:
                meta = dict(r.get("meta", {}))
                if aspect == "format" and meta.get("format") == "json_object":  # the object asked for, keys and all
                    meta = {"format": "json", "keys": list(json.loads(r["chosen"]))}
                if aspect == "politeness":  # the reply opens as the preferred answers do
                    meta = {"format": "regex", "pattern": "(" + "|".join(rx_escape(o) for o in POLITE_OPEN) + ")[\\s\\S]*"}
                conv = [{"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r["chosen"]}]
                f.write(json.dumps({"messages": conv, "meta": meta}, ensure_ascii=False) + "\n")
    with open(os.path.join(out, "rm_set.heldout.jsonl"), "w") as f:
        for r in held:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "recipes", "prefs", "dpo_data"))
    ap.add_argument("--train", type=int, default=720)
    ap.add_argument("--heldout", type=int, default=96)
    ap.add_argument("--rm-set", default=os.path.join(os.path.dirname(__file__), "..", "recipes", "prefs", "data"),
                    help="the reward models' preference set, whose held-out prompts become rm_*.eval.jsonl")
    ap.add_argument("--rm-set-eval", type=int, default=32, help="held-out prompts per aspect of --rm-set")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rm_set_evals(a.rm_set, a.out, a.rm_set_eval)
    train = make(random.Random(a.seed), a.train, False)
    seen = {r["prompt"] for r in train}
    held = [r for r in make(random.Random(a.seed + 1000), a.heldout * 2, True) if r["prompt"] not in seen][:a.heldout]
    with open(os.path.join(a.out, "format_prefs.train.jsonl"), "w") as f:
        for r in train:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(os.path.join(a.out, "format_prefs.heldout.jsonl"), "w") as f:
        for r in held:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    for kind in KINDS:
        with open(os.path.join(a.out, f"{kind}.eval.jsonl"), "w") as f:
            for r in held:
                if r["meta"]["kind"] != kind:
                    continue
                conv = [{"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r["chosen"]}]
                f.write(json.dumps({"messages": conv, "meta": r["meta"]}, ensure_ascii=False) + "\n")
    print(f"{len(train)} training pairs, {len(held)} held-out pairs and prompts in {os.path.normpath(a.out)}")


if __name__ == "__main__":
    main()
