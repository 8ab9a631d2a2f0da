import json, sys, os
sys.path.insert(0, "bench")
from pref_table import answer_all, score
A = os.path.expanduser("~/.local/share/helix/adapters/assistant.gguf")
recs = [json.loads(l) for l in open("PROMPTS")]
out = {}
for name, ad, n in [("start+best-of-4 (citation-only RM)", A, 4), ("dpo+best-of-4 (citation-only RM)", "/tmp/dpo2/prefs-dpo-rm-set.gguf", 4)]:
    got = answer_all("build/helix", "", ad, "PROMPTS", 40, n, "/tmp/rm3/prefs-rm-cit.gguf", "citation", 0.8, 1)
    ok = [score("citation", g["answer"], r.get("meta", {})) for g, r in zip(got, recs)]
    out[name] = {"right": sum(ok), "n": len(ok), "answers": [g["answer"] for g in got]}
    print(name, sum(ok), "/", len(ok), flush=True)
json.dump(out, open("/tmp/pt3/citation_bestof.json", "w"), indent=1)
