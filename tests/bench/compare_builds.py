#!/usr/bin/env python3
"""Paired comparison of two builds of jobgraph_bench.

Runs the baseline and the candidate alternately (the first one rotating each pair), each with
the same arguments, and prints one Markdown row per workload: the median over the pairs of
each build's median time, and the median (min-max) of the per-pair ratios candidate/baseline.
Pairing is what makes the figures usable on a shared machine: both builds of a pair meet the
same load.

    tests/bench/compare_builds.py BASELINE_BENCH CANDIDATE_BENCH --pairs 5 -- \
        --scale full --repeat 3 --system jobgraph --workload dag,chain
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def run_once(binary, bench_args, scratch):
    out = os.path.join(scratch, "run.json")
    subprocess.run([binary, *bench_args, "--json", out], check=True, stdout=subprocess.DEVNULL)
    with open(out, encoding="utf-8") as f:
        rows = json.load(f)["rows"]
    return {(r["workload"], r["system"]): r["median_ms"] for r in rows if r.get("median_ms") is not None}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("baseline")
    parser.add_argument("candidate")
    parser.add_argument("--pairs", type=int, default=5)
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    bench_args = argv[split + 1:]  # jobgraph_bench's own arguments, after --

    times = {"baseline": [], "candidate": []}
    with tempfile.TemporaryDirectory() as scratch:
        for pair in range(args.pairs):
            order = ["baseline", "candidate"] if pair % 2 == 0 else ["candidate", "baseline"]
            for which in order:
                times[which].append(run_once(getattr(args, which), bench_args, scratch))
            print(f"pair {pair + 1} of {args.pairs} done", file=sys.stderr)

    keys = [k for k in times["baseline"][0] if all(k in t for t in times["baseline"] + times["candidate"])]
    print("| workload | system | baseline ms | candidate ms | candidate / baseline, paired median (range) |")
    print("|---|---|---:|---:|---|")
    for key in keys:
        base = [t[key] for t in times["baseline"]]
        cand = [t[key] for t in times["candidate"]]
        ratios = [c / b for b, c in zip(base, cand)]
        print(f"| {key[0]} | {key[1]} | {statistics.median(base):.1f} | {statistics.median(cand):.1f} | "
              f"{statistics.median(ratios):.3f} ({min(ratios):.2f}-{max(ratios):.2f}) |")


if __name__ == "__main__":
    main()
