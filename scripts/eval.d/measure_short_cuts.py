"""Scores `scripts/eval measure short-cuts`'s scan: each cut's name is SOURCE_START_LENGTH,
under pos/ (banked: must match its source within 0.5 s of START) or neg/ (must not
match). Prints misses, wrong and false matches, then one line per set and length."""

import collections
import json
import sys

SOURCES = {
    "bbb": "bower_bbb_480p_30s.mp4",
    "sintel": "mangomm_sintel_848x480_26s.mp4",
    "pgsT00-1": "showorder_pgs_Title_T00-1.mkv",
    "pgsT01-2": "showorder_pgs_Title_T01-2.mkv",
}


def name(path):
    return path.split("/")[-1]


def main():
    report = json.load(open(sys.argv[1]))
    by_query = collections.defaultdict(list)
    for m in report["matches"]:
        by_query[m["query"]["path"]].append(m)
    # (set, length) -> [cuts, found, wrong or false, time errors]
    stats = collections.defaultdict(lambda: [0, 0, 0, []])
    for f in report["scanned"]:
        path = f["path"]
        kind = path.split("/")[-2]
        stem, start, length = name(path).rsplit(".", 1)[0].rsplit("_", 2)
        st = stats[(kind, length)]
        st[0] += 1
        found = by_query.get(path, [])
        if kind == "neg":
            st[2] += len(found)
            for m in found:
                print("FALSE", name(path), name(m["bank_asset"]["path"]), m["bank_asset"]["start_s"])
            continue
        ok = False
        for m in found:
            bank = m["bank_asset"]
            if name(bank["path"]) != SOURCES[stem] or bank["start_s"] is None:
                st[2] += 1
                print("WRONG", name(path), name(bank["path"]))
                continue
            err = abs(bank["start_s"] - float(start))
            st[3].append(err)
            if err <= 0.5:
                ok = True
            else:
                st[2] += 1
                print("OFF", name(path), bank["start_s"], f"{err:.2f}")
        st[1] += ok
        if not found:
            print("MISS", name(path))
    for (kind, length), (n, found, wrong, errs) in sorted(stats.items()):
        errs.sort()
        times = f" max_err_s={errs[-1]:.2f} median_err_s={errs[len(errs) // 2]:.2f}" if errs else ""
        print(f"{kind} {length}: cuts={n} found={found} wrong_or_false={wrong}{times}")


if __name__ == "__main__":
    main()
