#!/usr/bin/env python3
"""Reference PDQ hasher for benchmarking celprint (used by `scripts/eval bench stills`).

Wraps Meta's PDQ C++ code through the `pdqhash` PyPI package, decoding with PIL.

    pdq_ref.py [--timing-json PATH] [--warmup N] [--exif-transpose] [--thumbnail 512] FILES...

stdout: one line per file, `<64 hex pdq>,<quality>,<path>`, the same shape as
Meta's `pdq-photo-hasher` / celprint `hash --algo pdq`.
stderr: timing summary for the decode+hash loop (interpreter start-up and
imports excluded). With --timing-json the same numbers go to a JSON file.

Bit order (pdqhash 0.2.8, bindings.pyx):
    hash_to_vector(w) = [(w[(k & 255) >> 4] >> (k & 15)) & 1 for k in range(256)][::-1]
i.e. vec[i] is PDQ bit (255 - i), bit k living in 16-bit word k >> 4 at
position k & 15. Meta's Hash256::format() prints words 15..0, each as
"%04hx", i.e. bits 255..0 most-significant first. So the hex string is
exactly vec packed MSB-first in order, which is what np.packbits does.

Which "reference"? pdqhash runs Meta's C++ PDQ on the full-resolution image
(like Meta's C++ pdq-photo-hasher), which is what this script does by default.
Meta's pure-Python pdqhashing tool instead does PIL `img.thumbnail((512, 512))`
first; --thumbnail 512 reproduces that (0-2 bits from its published hashes
for the bridge-mods images, vs 0-12 bits at full resolution). Meta's tools
do not apply EXIF orientation (the C++ expected hash of exif-rotn-6.jpg is
for the stored, unrotated pixels), hence --exif-transpose is off by default.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import pdqhash
from PIL import Image, ImageOps


def vector_to_hex(vec):
    """pdqhash bit vector (vec[i] == bit 255-i) -> Meta's 64-hex format."""
    v = np.asarray(vec, dtype=np.uint8)
    if v.shape != (256,):
        raise ValueError("expected a 256-bit vector, got shape %r" % (v.shape,))
    return np.packbits(v).tobytes().hex()


def vector_to_hex_words(vec):
    """Slow, explicit version of vector_to_hex (for --self-check)."""
    bits = [int(vec[255 - k]) for k in range(256)]  # bits[k] = PDQ bit k
    words = [0] * 16
    for k in range(256):
        words[k >> 4] |= bits[k] << (k & 15)
    return "".join("%04x" % words[w] for w in range(15, -1, -1))


def decode(path, exif_transpose=False, thumbnail=0):
    with Image.open(path) as im:
        if exif_transpose:
            im = ImageOps.exif_transpose(im)
        if thumbnail:
            im.thumbnail((thumbnail, thumbnail))  # like Meta's pure-Python tool
        rgb = im.convert("RGB")  # forces the (lazy) decode
    return np.asarray(rgb)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--timing-json", help="also write timing numbers here")
    ap.add_argument("--exif-transpose", action="store_true",
                    help="apply EXIF orientation before hashing (off by default, like the PIL reference)")
    ap.add_argument("--thumbnail", type=int, default=0, metavar="N",
                    help="PIL thumbnail((N, N)) before hashing, as Meta's pure-Python tool does with N=512 (default: off)")
    ap.add_argument("--warmup", type=int, default=0, metavar="N",
                    help="first hash the first N files untimed and unprinted")
    ap.add_argument("--self-check", action="store_true",
                    help="cross-check packbits hex against the explicit word formula")
    args = ap.parse_args(argv)

    for path in args.files[:max(args.warmup, 0)]:
        try:
            pdqhash.compute(decode(path, args.exif_transpose, args.thumbnail))
        except Exception:
            pass  # reported in the timed loop

    t_decode = 0.0
    t_hash = 0.0
    n_ok = 0
    n_err = 0
    out = sys.stdout
    t_start = time.perf_counter()
    for path in args.files:
        try:
            t0 = time.perf_counter()
            arr = decode(path, args.exif_transpose, args.thumbnail)
            t1 = time.perf_counter()
            vec, quality = pdqhash.compute(arr)
            t2 = time.perf_counter()
        except Exception as e:  # keep going, like Meta's tools
            print("pdq_ref: %s: %s" % (path, e), file=sys.stderr)
            n_err += 1
            continue
        t_decode += t1 - t0
        t_hash += t2 - t1
        hx = vector_to_hex(vec)
        if args.self_check and hx != vector_to_hex_words(vec):
            print("pdq_ref: self-check failed for %s" % path, file=sys.stderr)
            return 3
        out.write("%s,%d,%s\n" % (hx, int(quality), path))
        n_ok += 1
    t_total = time.perf_counter() - t_start
    out.flush()

    timing = {
        "images": n_ok,
        "errors": n_err,
        "total_s": t_total,
        "decode_s": t_decode,
        "hash_s": t_hash,
        "ms_per_image": 1000.0 * t_total / n_ok if n_ok else None,
        "decode_ms_per_image": 1000.0 * t_decode / n_ok if n_ok else None,
        "hash_ms_per_image": 1000.0 * t_hash / n_ok if n_ok else None,
        "pdqhash_version": getattr(pdqhash, "__version__", "?"),
        "threads_env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
    }
    if n_ok:
        print("pdq_ref: %d images in %.3f s (%.2f ms/image: decode %.2f + hash %.2f; %.1f images/s)"
              % (n_ok, t_total, timing["ms_per_image"], timing["decode_ms_per_image"],
                 timing["hash_ms_per_image"], n_ok / t_total), file=sys.stderr)
    if args.timing_json:
        with open(args.timing_json, "w") as f:
            json.dump(timing, f, indent=1)
            f.write("\n")
    return 1 if n_err else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
