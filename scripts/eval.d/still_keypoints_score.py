"""Scores the report of scripts/eval.d/measure-still-keypoints.sh: per threshold N on
the corners that agree, positives found, negatives matched, positives matched to a
banked asset of another film or scene. Query names are pos__KIND__NAME or
neg__KIND__NAME; NAME says which banked asset is the truth."""
import json
import os
import sys


def source(name):
    """The film or picture a file comes from: a frame of Big Buck Bunny banked as a
    still is also a frame of the banked video."""
    stem = name.rsplit(".", 1)[0]
    for prefix, film in [("vbbb_", "bbb"), ("bbb_", "bbb"), ("bbb", "bbb"),
                         ("vpopeye1_", "popeye1"), ("popeye1", "popeye1"),
                         ("popeye0_", "popeye0"), ("sintel_", "sintel")]:
        if stem.startswith(prefix):
            return film
    return stem


def truth(query):
    """The kind of cut and the banked assets it was made from."""
    _, kind, name = query.split("__")
    if name.startswith("vpopeye1_"):
        return kind, {"popeye1.mkv"}
    if name.startswith("vbbb_"):
        return kind, {"bbb.mp4"}
    if name.startswith("bbb_"):
        return kind, {name, "bbb.mp4"}
    return kind, {name}


r = json.load(open(sys.argv[1]))
queries = [os.path.basename(s["path"]) for s in r["scanned"] if s.get("kind") == "still"]
HASH = 10**6
pos = {q: {"hash": False, "right": 0, "wrong": 0, "related": 0}
       for q in queries if q.startswith("pos__")}
neg = {q: 0 for q in queries if q.startswith("neg__")}
for m in r["matches"]:
    q = os.path.basename(m["query"]["path"])
    b = os.path.basename(m["bank_asset"]["path"])
    k = m["local"]["keypoints"] if m.get("local") else HASH
    if q in neg:
        neg[q] = max(neg[q], k)
        continue
    if q not in pos:
        continue
    p = pos[q]
    if b in truth(q)[1]:
        if k == HASH:
            p["hash"] = True
        else:
            p["right"] = max(p["right"], k)
    elif source(b) == source(q.split("__")[2]):
        p["related"] = max(p["related"], k)
    else:
        p["wrong"] = max(p["wrong"], k)
kinds = sorted({truth(q)[0] for q in pos})
print(f"positives {len(pos)}, negatives {len(neg)}; the hash alone finds "
      f"{sum(p['hash'] for p in pos.values())}")
print("corners, positives on their banked asset (keypoints only):",
      sorted(p["right"] for p in pos.values() if not p["hash"]))
print("corners, best false hit per negative:", sorted(v for v in neg.values() if v))
print("corners, positives on another film or scene:",
      sorted(p["wrong"] for p in pos.values() if p["wrong"]))
print("corners, positives on another frame of the same film:",
      sorted(p["related"] for p in pos.values() if p["related"]))
print("N\t" + "\t".join(kinds) + "\tall\tnegatives matched\tpositives on another film")
for n in [10, 12, 14, 16, 18, 19, 20, 22, 24, 26, 28, 30, 35, 40]:
    row = []
    for k in kinds + [None]:
        sel = [p for q, p in pos.items() if k is None or truth(q)[0] == k]
        row.append(f"{sum(p['hash'] or p['right'] >= n for p in sel)}/{len(sel)}")
    row.append(f"{sum(v >= n for v in neg.values())}/{len(neg)}")
    row.append(f"{sum(p['wrong'] >= n for p in pos.values())}/{len(pos)}")
    print(f"{n}\t" + "\t".join(row))
