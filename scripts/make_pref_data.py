#!/usr/bin/env python3
"""Generates the preference set of recipes/prefs (reward models: `helix rm train`; DPO reuses the
pair files). Everything comes from templates over public facts (Debian's tzdata and the periodic
table, through scripts/make_assistant_data.py's tables), no other model's outputs.

Aspects, one JSONL pair ASPECT.train.jsonl / ASPECT.eval.jsonl each (the eval set never repeats a
train prompt):
  format      response level  the reply follows the requested format (JSON array, JSON object,
                              bulleted list) or gives the same content in another form
  citation    response level  the reply cites the passage that holds the fact [n], or a wrong [m]
                              (the same words otherwise)
  politeness  response level  the same facts opened and closed politely, or said rudely, or bare, or
                              closed politely without the polite opening
  cited_steps step level      an answer about two or three of the passages, one cited sentence per
                              line; each step labelled 1 when the passage it cites holds its fact, 0
                              when it cites another one (0-2 wrong steps an answer)

An earlier step-level aspect, worked sums with each step's arithmetic labelled, is gone: the default
270M model could not tell a right step from one off by 1-3 (held-out 0.60 against 0.58 for "all
right", session 9's table), so it showed nothing about the step-level machinery.

Pair records:  {"prompt": "...", "chosen": "...", "rejected": "...", "aspect": "format", "meta": {...}}
Step records:  {"prompt": "...", "steps": ["...", ...], "labels": [1, 0, ...], "aspect": "cited_steps"}

    python3 scripts/make_pref_data.py [--seed 1] [--out recipes/prefs/data] [--train 400] [--eval 60]

The same seed gives the same files byte for byte (Python's random.Random is specified to be stable).
"""
import argparse
import hashlib
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_assistant_data as mad  # noqa: E402  (the facts and passage wording of the assistant data)


def pair(prompt, chosen, rejected, aspect, meta):
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected, "aspect": aspect, "meta": meta}


# ---- format ---------------------------------------------------------------------------------
def broken_json(rng, text):
    """JSON that no parser takes: a stray closing bracket, the last one missing, or a dropped quote
    (sampled answers slip this way)."""
    how = rng.randrange(3)
    if how == 0:
        return text + text[-1]
    if how == 1:
        return text[:-1]
    q = [i for i, c in enumerate(text) if c == '"']
    i = rng.choice(q)
    return text[:i] + text[i + 1:]


def gen_format(rng, cities):
    kind = rng.choice(["json_array", "list", "json_object"])
    if kind == "json_object":
        c = rng.choice(cities)
        fields = {"city": c["city"], "country": c["country"], "time_zone": c["tz"], "country_code": c["code"],
                  "latitude": c["lat"]}
        keys = rng.sample(sorted(fields), rng.randint(2, 3)) if rng.random() < 0.5 else ["city", "country", "time_zone"]
        named = ", ".join(f'"{k}"' for k in keys[:-1]) + f' and "{keys[-1]}"'
        prompt = f"{mad.city_passage(c)}\n\nReturn a JSON object with the keys {named} for this city, and nothing else."
        obj = {k: fields[k] for k in keys}
        chosen = json.dumps(obj, ensure_ascii=False)
        other = [k for k in sorted(fields) if k not in keys]
        swapped = dict(obj)
        swapped.pop(keys[-1])
        swapped[rng.choice(other)] = fields[rng.choice(other)]
        wrong = rng.choice(["text", "text", "list", "key_names", "other_keys", "extra_key", "broken"])
        rejected = {
            "text": rng.choice([f"City: {c['city']}, country: {c['country']}, time zone: {c['tz']}.",
                                f"{c['city']} is in {c['country']} and keeps the time zone {c['tz']}."]),
            "list": "\n".join(f"- {k}: {v}" for k, v in obj.items()),
            "key_names": json.dumps(keys),  # the names of the keys, not an object (the assistant's usual slip)
            "other_keys": json.dumps(swapped, ensure_ascii=False),
            "extra_key": json.dumps({**obj, other[0]: fields[other[0]]}, ensure_ascii=False),
            "broken": broken_json(rng, chosen),
        }[wrong]
        return pair(prompt, chosen, rejected, "format", {"format": "json_object", "keys": keys, "wrong": wrong})
    k = rng.randint(3, 5)
    items = rng.sample(mad.EN_ITEMS, k)
    listed = ", ".join(items)
    as_json = json.dumps(items)
    as_list = "\n".join("- " + i for i in items)
    prose = f"The items are {', '.join(items[:-1])} and {items[-1]}."
    if kind == "json_array":
        prompt = f"Return these items as a JSON array of strings and nothing else: {listed}"
        rejected = rng.choice([listed, as_list, prose, broken_json(rng, as_json)])
        return pair(prompt, as_json, rejected, "format", {"format": "json"})
    prompt = f"Write these items as a bulleted list, one per line starting with \"- \": {listed}"
    rejected = rng.choice([listed, as_json, prose, "\n".join("* " + i for i in items)])
    return pair(prompt, as_list, rejected, "format", {"format": "list"})


# ---- citation -------------------------------------------------------------------------------
def gen_citation(rng, cities):
    k = rng.randint(3, 5)
    if rng.random() < 0.5:
        pool = rng.sample(mad.ELEMENTS, k)
        texts = [mad.element_passage(e, False) for e in pool]
        target = rng.randrange(k)
        n, sym, name, _ = pool[target]
        if rng.random() < 0.5:
            q, a = f"What is the atomic number of {name}?", f"The atomic number of {name} is {n}"
        else:
            q, a = f"What is the chemical symbol of {name}?", f"The symbol of {name} is {sym}"
    else:
        pool = rng.sample(cities, k)
        texts = [mad.city_passage(c) for c in pool]
        target = rng.randrange(k)
        c = pool[target]
        if rng.random() < 0.5:
            q, a = f"Which time zone does {c['city']} keep?", f"{c['city']} keeps the time zone {c['tz']}"
        else:
            q, a = f"In which country is {c['city']}?", f"{c['city']} is in {c['country']}"
    passages, pos = mad.place(rng, texts, k)
    right = pos[target]
    wrong = rng.choice([i for i in range(1, k + 1) if i != right])
    prompt = mad.passages_prompt(passages, q, False)
    return pair(prompt, f"{a} [{right}].", f"{a} [{wrong}].", "citation",
                {"citations": [right], "wrong": [wrong], "n_passages": k})


# ---- politeness -----------------------------------------------------------------------------
POLITE_OPEN = ["Sure!", "Of course.", "Happy to help.", "Good question!", "Certainly."]
POLITE_CLOSE = ["I hope this helps.", "Let me know if you need anything else.", "Thanks for asking!",
                "Feel free to ask more.", "Have a nice day!"]
RUDE_OPEN = ["Ugh.", "Seriously?", "Obviously.", "Fine.", "Whatever."]
RUDE_CLOSE = ["Look it up yourself next time.", "Stop wasting my time.", "Everyone knows that.",
              "Don't ask me again.", "That was a dumb question."]


def gen_politeness(rng, cities):
    if rng.random() < 0.5:
        n, sym, name, _ = rng.choice(mad.ELEMENTS)
        q = rng.choice([f"What is the atomic number of {name}?", f"Could you tell me the symbol for {name}?"])
        fact = f"{name.capitalize()} has the symbol {sym} and atomic number {n}."
    else:
        c = rng.choice(cities)
        q = rng.choice([f"Which country is {c['city']} in?", f"What time zone does {c['city']} use?"])
        fact = f"{c['city']} is in {c['country']} and uses the time zone {c['tz']}."
    opener, closer = rng.choice(POLITE_OPEN), rng.choice(POLITE_CLOSE)
    polite = f"{opener} {fact} {closer}"
    # The rejected reply: rude (a third), or the bare fact (the assistant adapter's own habit), or the
    # fact with a polite closing but no opening (what 60 DPO steps on rude pairs alone taught it). Rude
    # pairs alone differ most at the closing words, so DPO learnt the closing and never the opening.
    kind = rng.choice(["rude", "bare", "no_opener"])
    if kind == "rude":
        rejected = f"{rng.choice(RUDE_OPEN)} {fact} {rng.choice(RUDE_CLOSE)}"
    else:
        rejected = fact if kind == "bare" else f"{fact} {closer}"
    return pair(q, polite, rejected, "politeness", {"rejected": kind})


# ---- cited steps (step level) -----------------------------------------------------------------
def gen_cited_steps(rng, cities):
    del cities  # (kept for the generators' common signature)
    k = rng.randint(4, 6)
    pool = rng.sample(mad.ELEMENTS, k)
    texts = [mad.element_passage(e, False) for e in pool]
    asked = rng.sample(range(k), rng.randint(2, 3))
    passages, pos = mad.place(rng, texts, k)
    names = [pool[i][2] for i in asked]
    q = f"What are the atomic numbers and symbols of {', '.join(names[:-1])} and {names[-1]}?"
    n_wrong = rng.choice([0, 1, 1, 2])
    wrong = set(rng.sample(range(len(asked)), min(n_wrong, len(asked))))
    steps, labels = [], []
    for j, i in enumerate(asked):
        n, sym, name, _ = pool[i]
        cite = pos[i] if j not in wrong else rng.choice([p for p in range(1, k + 1) if p != pos[i]])
        steps.append(f"{name.capitalize()} has the symbol {sym} and atomic number {n} [{cite}].")
        labels.append(0 if j in wrong else 1)
    return {"prompt": mad.passages_prompt(passages, q, False), "steps": steps, "labels": labels,
            "aspect": "cited_steps", "meta": {"n_passages": k, "wrong": sorted(wrong)}}


GENERATORS = {"format": gen_format, "citation": gen_citation, "politeness": gen_politeness,
              "cited_steps": gen_cited_steps}


def make_split(gen, cities, n_train, n_eval, seed):
    rng_train, rng_eval = random.Random(seed), random.Random(seed + 1000)
    train, seen = [], set()
    while len(train) < n_train:
        r = gen(rng_train, cities)
        train.append(r)
        seen.add(r["prompt"])
    evals, tries = [], 0
    while len(evals) < n_eval and tries < 100 * n_eval:
        tries += 1
        r = gen(rng_eval, cities)
        if r["prompt"] not in seen:
            seen.add(r["prompt"])
            evals.append(r)
    return train, evals


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "recipes", "prefs", "data"))
    ap.add_argument("--train", type=int, default=400)
    ap.add_argument("--eval", type=int, default=60)
    a = ap.parse_args()
    _, cities = mad.read_tzdata()
    os.makedirs(a.out, exist_ok=True)
    manifest = {"generator": "scripts/make_pref_data.py", "seed": a.seed, "files": {}}
    for i, (name, gen) in enumerate(GENERATORS.items()):
        train, evals = make_split(gen, cities, a.train, a.eval, a.seed * 100 + i)
        for split, recs in (("train", train), ("eval", evals)):
            path = os.path.join(a.out, f"{name}.{split}.jsonl")
            mad.write_jsonl(path, recs)
            with open(path, "rb") as f:
                manifest["files"][f"{name}.{split}.jsonl"] = {"records": len(recs),
                                                              "sha256": hashlib.sha256(f.read()).hexdigest()}
    with open(os.path.join(a.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"wrote {len(GENERATORS)} aspects to {os.path.normpath(a.out)}")


if __name__ == "__main__":
    main()
