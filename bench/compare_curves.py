#!/usr/bin/python3
"""Compares two loss curves in the `--json` line format ({"iter","loss","style","content","tv",...}).

  /usr/bin/python3 bench/compare_curves.py REFERENCE.jsonl CANDIDATE.jsonl

Lines that are not JSON objects with an "iter" (logs, banners) are skipped, so raw CLI output can
be piped in. Prints a table of relative differences |b - a| / max(|a|, tiny) per term per
iteration and a JSON summary line (max per term); the relative difference of a term that is 0
in the reference (the content term at iterations 0 and 1) is taken against the reference's
total loss instead. Exits 1 when the iterations do not match.
"""
from __future__ import annotations

import argparse
import json
import sys

TERMS = ("loss", "style", "content", "tv")


def read_curve(path: str) -> dict[int, dict]:
    out = {}
    with open(path) as f:
        for raw in f:
            raw = raw.strip()
            if not raw.startswith("{"):
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict) and "iter" in obj:
                out[int(obj["iter"])] = obj
    return out


def relative_differences(ref: dict[int, dict], cand: dict[int, dict]) -> list[dict]:
    rows = []
    for it in sorted(set(ref) & set(cand)):
        a, b = ref[it], cand[it]
        row = {"iter": it}
        for t in TERMS:
            denom = abs(a[t]) if a[t] != 0 else abs(a["loss"])
            row[t] = abs(b[t] - a[t]) / max(denom, 1e-30)
        rows.append(row)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("reference")
    p.add_argument("candidate")
    args = p.parse_args(argv)
    ref, cand = read_curve(args.reference), read_curve(args.candidate)
    if not ref or not cand:
        print(f"no JSON loss lines in {'reference' if not ref else 'candidate'}", file=sys.stderr)
        return 1
    rows = relative_differences(ref, cand)
    print("iter  " + "  ".join(f"{t:>9}" for t in TERMS))
    for r in rows:
        print(f"{r['iter']:>4}  " + "  ".join(f"{r[t]:9.2e}" for t in TERMS))
    summary = {t: max(r[t] for r in rows) for t in TERMS}
    missing = sorted(set(ref) ^ set(cand))
    print(json.dumps({"iters": len(rows), "max_rel": summary, "unmatched_iters": missing}))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
