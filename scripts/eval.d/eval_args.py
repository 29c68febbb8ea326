"""Command-line helpers shared by the evaluation's Python steps (eval_vpdq.py,
eval_signature.py)."""

import sys


def name_path_pairs(specs, prog):
    """NAME=PATH arguments as (name, path) pairs; exits with a message naming `prog` on
    one without '='."""
    out = []
    for s in specs:
        name, sep, path = s.partition("=")
        if not sep:
            sys.exit(f"{prog}: expected NAME=PATH, got {s!r}")
        out.append((name, path))
    return out
