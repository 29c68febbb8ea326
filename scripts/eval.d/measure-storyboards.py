#!/usr/bin/env python3
"""measure-storyboards.py (`scripts/eval measure storyboards`): storyboard matching on the
shared boards (media/storyboards; layout.json gives every panel's box and the animatic's
timings), a row per kind of delivery, with the negatives that must stay clean.

Positive rows (each expected board, or shot, is one case; found = matched to the right
banked board, and for timed cases within 0.25 s of the truth):
  relaid-png      the 4 Storyboarder-style pages against the 7 banked Storyboard Pro pages
  relaid-pdf      grid6.pdf against banked stack3.pdf
  single-panel    each of the 16 boards alone, JPEG q85, against the banked pages
  cut-panel       each board cut 5-10 % off one or two sides (5 % left and top, 8 % left,
                  10 % right and bottom, 7 % top, in turn), resized back, JPEG q85, alone
  cut-panel-page  each grid6 page with every panel's board so cut and resized to its box
  collage         each board resized to 480 px wide (its aspect kept) and pasted onto a
                  frame of Sintel (848x480), left or right in turn, JPEG q85
  mixed-page      each grid6 page with every other panel replaced by other line art
  scanned-page    each grid6 page turned +1.5 and -2 degrees, tinted, greyscale, JPEG 70
  animatic-pdf    the animatic against banked stack3.pdf (16 shots, seconds checked)
  sequence-video  Big Buck Bunny 10-14 s as numbered PNG frames against the banked film,
                  and the film against the banked frames (seconds checked)
Negative rows (every match is a false one):
  template        each page of both layouts with its pictures blanked, and with other
                  line art in its frames
  same-artist     pencil boards (the same sbpage.pencil as the shared boards) of other
                  frames of Big Buck Bunny and Sintel, alone and laid out on a page; the
                  line art the boards do not use, alone
Needs the shared media, ImageMagick, ffmpeg, qpdf, and a Python with Pillow and numpy
for the pencil boards (CELPRINT_VENV, default /var/tmp/celprint-venv). Prints a markdown
table and a SUMMARY line; writes per-case rows to $EVAL_RESULTS_DIR/cases.tsv when set.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("SHARED", os.path.join(ROOT, "..", "shared"))
SB = os.path.join(SHARED, "media", "storyboards")
BIN = os.environ.get(
    "CELPRINT_BIN",
    os.path.join(os.environ.get("CARGO_TARGET_DIR", "/var/tmp/celprint-target"), "release", "celprint"),
)
VENV = os.environ.get("CELPRINT_VENV", "/var/tmp/celprint-venv")
TIME_TOLERANCE_S = 0.25
# Tux Paint pictures the boards do not use: other drawings by the same hands.
OTHER_LINEART = ["elephant.png", "frog.png", "rocket.png", "gecko.png", "manatee.png",
                 "jetplane.png", "hat.png", "skull.png", "car2.png", "carcassone.png",
                 "fish_icon.png", "old_soviet_car.png"]


def sh(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def celprint(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True)


def index(bank, *files):
    r = celprint("index", "--db", bank, "--label", "own", *files)
    if r.returncode != 0:
        sys.exit(f"index failed: {r.stderr}")


def scan(bank, work, *files):
    report = os.path.join(work, "report.json")
    if os.path.exists(report):
        os.remove(report)
    r = celprint("scan", "--db", bank, "--json", report, *files)
    if r.returncode not in (0, 1):
        sys.exit(f"scan failed ({r.returncode}): {r.stderr[-2000:]}")
    with open(report) as f:
        return json.load(f)["matches"]


def near(a, b, px=4):
    return all(abs(x - y) <= px for x, y in zip(a, b))


def panel(side):
    p = side.get("panel")
    return [p["x"], p["y"], p["w"], p["h"]] if p else None


class Truth:
    def __init__(self):
        with open(os.path.join(SB, "layout.json")) as f:
            self.layout = json.load(f)

    def panels(self, style):
        out = []
        for page in self.layout["layouts"][style]["pages"]:
            for p in page["panels"]:
                out.append((page["page"], p["board"], p["box_px"]))
        return out

    def board_at(self, style, page, box):
        for pg, board, b in self.panels(style):
            if pg == page and box and near(b, box):
                return board
        return None


def bank_board(truth, m):
    """The banked board a match names: by page and panel box (PNG pages are page 1 of
    their own file)."""
    side = m["bank_asset"]
    path = os.path.basename(side["path"])
    box = panel(side)
    if path.endswith(".pdf"):
        style = path[:-4]
        return truth.board_at(style, side.get("page"), box)
    style, _, page = path[:-4].rpartition("_p")
    return truth.board_at(style, int(page), box) if page.isdigit() else None


def row(results, name, kind, found, cases, false=0):
    results.append((name, kind, found, cases, false))


def main():
    if not os.path.isdir(SB):
        sys.exit(f"no shared storyboards at {SB}")
    truth = Truth()
    work = tempfile.mkdtemp(prefix="celprint-sb-eval-")
    results = []
    cases_out = []
    try:
        pages = os.path.join(SB, "pages")
        stack3_png = sorted(os.path.join(pages, f) for f in os.listdir(pages)
                            if f.startswith("stack3_p") and f.endswith(".png"))
        grid6_png = sorted(os.path.join(pages, f) for f in os.listdir(pages)
                           if f.startswith("grid6_p") and f.endswith(".png"))
        bank_png = os.path.join(work, "bank-png")
        index(bank_png, *stack3_png)
        bank_pdf = os.path.join(work, "bank-pdf")
        index(bank_pdf, os.path.join(pages, "stack3.pdf"))

        def panels_found(matches, style, query_file, page_of_query=None):
            """Per expected grid6 panel of `query_file`: found on the right board?"""
            hits = []
            for page, board, box in truth.panels(style):
                if page_of_query is not None and page != page_of_query:
                    continue
                ok = any(
                    os.path.basename(m["query"]["path"]) == os.path.basename(query_file)
                    and panel(m["query"]) is not None
                    and (page_of_query is not None or m["query"].get("page") == page)
                    and bank_board(truth, m) == board
                    for m in matches
                )
                hits.append((board, ok))
            return hits

        # relaid-png
        matches = scan(bank_png, work, *grid6_png)
        hits = []
        for f in grid6_png:
            n = int(f[-6:-4])
            hits += panels_found(matches, "grid6", f, n)
        wrong = sum(1 for m in matches if bank_board(truth, m) is None and panel(m["query"]))
        row(results, "relaid-png", "panel", sum(ok for _, ok in hits), len(hits), wrong)
        cases_out += [("relaid-png", b, ok) for b, ok in hits]

        # relaid-pdf
        matches = scan(bank_pdf, work, os.path.join(pages, "grid6.pdf"))
        hits = panels_found(matches, "grid6", "grid6.pdf")
        row(results, "relaid-pdf", "panel", sum(ok for _, ok in hits), len(hits))
        cases_out += [("relaid-pdf", b, ok) for b, ok in hits]

        # single-panel
        singles = []
        for b in truth.layout["boards"]:
            out = os.path.join(work, "single", b["id"] + ".jpg")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            sh("convert", os.path.join(SB, b["file"]), "-quality", "85", out)
            singles.append((b["id"], out))
        matches = scan(bank_png, work, *[o for _, o in singles])
        found = 0
        for board, out in singles:
            ok = any(os.path.basename(m["query"]["path"]) == os.path.basename(out)
                     and bank_board(truth, m) == board for m in matches)
            found += ok
            cases_out.append(("single-panel", board, ok))
        false = sum(1 for m in matches
                    if bank_board(truth, m) != os.path.basename(m["query"]["path"])[:-4])
        row(results, "single-panel", "board", found, len(singles), false)

        # cut-panel, cut-panel-page, collage
        cuts = [("5lt", 0.05, 0.05, 0, 0), ("8l", 0.08, 0, 0, 0),
                ("10rb", 0, 0, 0.10, 0.10), ("7t", 0, 0.07, 0, 0)]
        os.makedirs(os.path.join(work, "cut"))
        cut_of = {}
        for i, b in enumerate(truth.layout["boards"]):
            name, left, top, right, bottom = cuts[i % len(cuts)]
            w, h = b["size"]
            x0, y0 = round(w * left), round(h * top)
            cw, ch = w - x0 - round(w * right), h - y0 - round(h * bottom)
            out = os.path.join(work, "cut", f"{b['id']}_{name}.jpg")
            sh("convert", os.path.join(SB, b["file"]), "-crop", f"{cw}x{ch}+{x0}+{y0}",
               "+repage", "-resize", f"{w}x{h}!", "-quality", "85", out)
            cut_of[b["id"]] = out
        matches = scan(bank_png, work, *cut_of.values())
        found = 0
        for board, out in cut_of.items():
            ok = any(os.path.basename(m["query"]["path"]) == os.path.basename(out)
                     and bank_board(truth, m) == board for m in matches)
            found += ok
            cases_out.append(("cut-panel", board, ok))
        false = sum(1 for m in matches
                    if bank_board(truth, m) != os.path.basename(m["query"]["path"]).rsplit("_", 1)[0])
        row(results, "cut-panel", "board", found, len(cut_of), false)

        cut_pages = []
        for f in grid6_png:
            n = int(f[-6:-4])
            out = os.path.join(work, "cut-page", os.path.basename(f))
            os.makedirs(os.path.dirname(out), exist_ok=True)
            cmd = ["convert", f]
            for page, board, (x, y, w, h) in (p for p in truth.panels("grid6") if p[0] == n):
                cmd += ["(", cut_of[board], "-resize", f"{w}x{h}!", ")", "-geometry",
                        f"+{x}+{y}", "-composite"]
            sh(*cmd, out)
            cut_pages.append(out)
        matches = scan(bank_png, work, *cut_pages)
        hits = []
        for f in cut_pages:
            n = int(f[-6:-4])
            for page, board, box in truth.panels("grid6"):
                if page == n:
                    hits.append((board, any(
                        os.path.basename(m["query"]["path"]) == os.path.basename(f)
                        and panel(m["query"]) is not None and near(panel(m["query"]), box)
                        and bank_board(truth, m) == board for m in matches)))
        false = sum(1 for m in matches if bank_board(truth, m) is None
                    or truth.board_at("grid6", int(m["query"]["path"][-6:-4]),
                                      panel(m["query"])) != bank_board(truth, m))
        row(results, "cut-panel-page", "panel", sum(ok for _, ok in hits), len(hits), false)
        cases_out += [("cut-panel-page", b, ok) for b, ok in hits]

        sintel = os.path.join(SHARED, "media", "video", "sintel", "mangomm_sintel_848x480_26s.mp4")
        background = os.path.join(work, "collage-bg.png")
        sh("ffmpeg", "-v", "error", "-ss", "15", "-i", sintel, "-frames:v", "1", background)
        collages = []
        os.makedirs(os.path.join(work, "collage"))
        for i, b in enumerate(truth.layout["boards"]):
            out = os.path.join(work, "collage", f"{b['id']}.jpg")
            at = "+40+60" if i % 2 == 0 else "+328+60"
            sh("convert", background, "(", os.path.join(SB, b["file"]), "-resize", "480x360",
               ")", "-geometry", at, "-composite", "-quality", "85", out)
            collages.append((b["id"], out))
        matches = scan(bank_png, work, *[o for _, o in collages])
        found = 0
        for board, out in collages:
            ok = any(os.path.basename(m["query"]["path"]) == os.path.basename(out)
                     and bank_board(truth, m) == board for m in matches)
            found += ok
            cases_out.append(("collage", board, ok))
        false = sum(1 for m in matches
                    if bank_board(truth, m) != os.path.basename(m["query"]["path"])[:-4])
        row(results, "collage", "board", found, len(collages), false)

        # mixed-page: every other panel of each grid6 page replaced by other line art
        lineart = os.path.join(SHARED, "media", "stills", "lineart")
        mixed, expect, replaced = [], [], []
        art = iter(OTHER_LINEART * 4)
        for f in grid6_png:
            n = int(f[-6:-4])
            out = os.path.join(work, "mixed", os.path.basename(f))
            os.makedirs(os.path.dirname(out), exist_ok=True)
            cmd = ["convert", f]
            for i, (page, board, (x, y, w, h)) in enumerate(
                    p for p in truth.panels("grid6") if p[0] == n):
                if i % 2 == 1:
                    cmd += ["(", os.path.join(lineart, next(art)), "-background", "white",
                            "-flatten", "-resize", f"{w}x{h}!", ")", "-geometry",
                            f"+{x}+{y}", "-composite"]
                    replaced.append((out, board))
                else:
                    expect.append((out, board))
            sh(*cmd, out)
            mixed.append(out)
        matches = scan(bank_png, work, *mixed)
        found = sum(any(os.path.basename(m["query"]["path"]) == os.path.basename(o)
                        and bank_board(truth, m) == b for m in matches) for o, b in expect)
        # A match on a replaced panel's place is false: that drawing is new.
        new_places = []
        for out, board in replaced:
            n = int(os.path.basename(out)[-6:-4])
            box = next(b for p, bd, b in truth.panels("grid6") if p == n and bd == board)
            new_places.append((os.path.basename(out), box))
        false = sum(1 for m in matches
                    if panel(m["query"]) is not None
                    and any(os.path.basename(m["query"]["path"]) == f and near(panel(m["query"]), b)
                            for f, b in new_places))
        row(results, "mixed-page", "panel", found, len(expect), false)

        # scanned-page
        scanned, expect = [], []
        for angle in ("1.5", "-2"):
            for f in grid6_png:
                n = int(f[-6:-4])
                out = os.path.join(work, f"scan{angle}", os.path.basename(f)[:-4] + ".jpg")
                os.makedirs(os.path.dirname(out), exist_ok=True)
                sh("convert", f, "-background", "white", "-rotate", angle, "-fill",
                   "#f3ead8", "-colorize", "15", "-colorspace", "Gray", "-quality", "70", out)
                scanned.append(out)
                expect += [(out, b) for p, b, _ in truth.panels("grid6") if p == n]
        found = 0
        for d in sorted({os.path.dirname(o) for o in scanned}):
            batch = [o for o in scanned if os.path.dirname(o) == d]
            matches = scan(bank_png, work, *batch)
            for o, b in expect:
                if os.path.dirname(o) == d:
                    found += any(os.path.basename(m["query"]["path"]) == os.path.basename(o)
                                 and bank_board(truth, m) == b for m in matches)
        row(results, "scanned-page", "panel", found, len(expect))

        # animatic-pdf
        matches = scan(bank_pdf, work, os.path.join(SB, "animatic", "animatic_1280x720_24fps.mp4"))
        shots = [t for t in truth.layout["animatic"]["timeline"] if t.get("board")]
        found = 0
        for t in shots:
            found += any(bank_board(truth, m) == t["board"]
                         and abs(m["query"]["start_s"] - t["start_s"]) <= TIME_TOLERANCE_S
                         and abs(m["query"]["end_s"] - t["end_s"]) <= TIME_TOLERANCE_S
                         for m in matches)
        false = sum(1 for m in matches if bank_board(truth, m) is None)
        row(results, "animatic-pdf", "shot", found, len(shots), false)

        # sequence-video, both ways
        film = os.path.join(SHARED, "media", "video", "bbb", "bower_bbb_480p_30s.mp4")
        frames = os.path.join(work, "seq")
        os.makedirs(frames)
        sh("ffmpeg", "-v", "error", "-ss", "10", "-t", "4", "-i", film, "-vf", "fps=24",
           os.path.join(frames, "shot010.%04d.png"))
        bank_film = os.path.join(work, "bank-film")
        index(bank_film, film)
        m1 = scan(bank_film, work, frames)
        ok1 = any(m["bank_asset"]["start_s"] is not None
                  and abs(m["bank_asset"]["start_s"] - 10.0) <= TIME_TOLERANCE_S
                  and abs(m["query"]["start_s"]) <= TIME_TOLERANCE_S for m in m1)
        bank_seq = os.path.join(work, "bank-seq")
        index(bank_seq, frames)
        m2 = scan(bank_seq, work, film)
        ok2 = any(m["query"]["start_s"] is not None
                  and m["query"]["start_s"] <= 10.0 + TIME_TOLERANCE_S
                  and m["query"]["end_s"] >= 14.0 - TIME_TOLERANCE_S for m in m2)
        row(results, "sequence-video", "direction", int(ok1) + int(ok2), 2)

        # template negatives
        negatives = []
        for style, files in (("stack3", stack3_png), ("grid6", grid6_png)):
            for f in files:
                n = int(f[-6:-4])
                boxes = [b for p, _, b in truth.panels(style) if p == n]
                blank = os.path.join(work, "template", f"blank-{os.path.basename(f)}")
                os.makedirs(os.path.dirname(blank), exist_ok=True)
                cmd = ["convert", f, "-fill", "white"]
                for x, y, w, h in boxes:
                    cmd += ["-draw", f"rectangle {x},{y} {x + w - 1},{y + h - 1}"]
                sh(*cmd, blank)
                other = os.path.join(work, "template", f"other-{os.path.basename(f)}")
                cmd = ["convert", blank]
                for (x, y, w, h), a in zip(boxes, art):
                    cmd += ["(", os.path.join(lineart, a), "-background", "white", "-flatten",
                            "-resize", f"{w}x{h}!", ")", "-geometry", f"+{x}+{y}", "-composite"]
                sh(*cmd, other)
                negatives += [blank, other]
        bank_both = os.path.join(work, "bank-both")
        index(bank_both, *stack3_png, *grid6_png)
        matches = scan(bank_both, work, *negatives)
        row(results, "template", "page", 0, len(negatives), len(matches))

        # same-artist negatives: pencil boards of other frames, alone and on a page
        same = os.path.join(work, "same")
        os.makedirs(same)
        grabs = []
        for src, times in ((film, (3.0, 6.5, 12.0, 21.0, 27.0)),
                           (os.path.join(SHARED, "media", "video", "sintel",
                                         "mangomm_sintel_848x480_26s.mp4"), (6.0, 10.0, 18.0, 21.0))):
            for t in times:
                out = os.path.join(same, f"{os.path.basename(src)[:4]}_{t:05.1f}.png")
                sh("ffmpeg", "-v", "error", "-ss", str(t), "-i", src, "-frames:v", "1", out)
                grabs.append(out)
        py = os.path.join(VENV, "bin", "python")
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); import sbpage as sp; "
            "from PIL import Image\n"
            "for f in sys.argv[2:]:\n"
            "    im = Image.open(f).convert('RGB')\n"
            "    sp.pencil(im, im.width, im.width, pre=1.2, radius=8, gamma=2.0, ink=0,"
            " white=215, paper=246).save(f)\n"
        )
        subprocess.run([py, "-c", code, SB, *grabs], check=True)
        page = os.path.join(same, "page.png")
        cmd = ["convert", grid6_png[2]]
        for (p, _, (x, y, w, h)), g in zip([p for p in truth.panels("grid6") if p[0] == 3], grabs):
            cmd += ["(", g, "-resize", f"{w}x{h}!", ")", "-geometry", f"+{x}+{y}", "-composite"]
        sh(*cmd, page)
        unused = [os.path.join(lineart, a) for a in OTHER_LINEART]
        matches = scan(bank_both, work, *grabs, page, *unused)
        row(results, "same-artist", "file", 0, len(grabs) + 1 + len(unused), len(matches))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("| row | kind | found | cases | recall | false matches |")
    print("|---|---|---|---|---|---|")
    pos_found = pos_cases = false_total = 0
    for name, kind, found, cases, false in results:
        negative = name in ("template", "same-artist")
        recall = "–" if negative else f"{found / cases:.3f}"
        print(f"| {name} | {kind} | {'–' if negative else found} | {cases} | {recall} | {false} |")
        if not negative:
            pos_found += found
            pos_cases += cases
        false_total += false
    recall = pos_found / pos_cases if pos_cases else 0.0
    verdict = "PASS" if recall >= 0.95 and false_total == 0 else "FAIL"
    print(f"SUMMARY recall {recall:.3f} ({pos_found}/{pos_cases}), false matches {false_total}: "
          f"{verdict} (target recall >= 0.95, no false match)")
    out = os.environ.get("EVAL_RESULTS_DIR")
    if out:
        with open(os.path.join(out, "cases.tsv"), "w") as f:
            f.write("row\tboard\tfound\n")
            for r, b, ok in cases_out:
                f.write(f"{r}\t{b}\t{int(ok)}\n")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
