#!/usr/bin/env python3
"""Compile time of tollgate's headers against a baseline, measured A B A B in the same run.

  bench/compile_time.py              3 pairs per comparison, g++ and clang++
  bench/compile_time.py --pairs 7

Each comparison alternates baseline and candidate and reports the median wall time of each and the
median ratio candidate/baseline with its min–max over the pairs. Headers are measured with
`-std=c++20 -fsyntax-only` on a TU that includes only them (the issue's measure: the metering umbrella
against nlohmann/json.hpp); the servers are compiled (`-c -O2`) as a user would build them.
Run it on an otherwise idle machine: it measures CPU time of a single compiler process.
"""
import argparse
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
HERE = ROOT / "bench" / "compile_time"

# (what, baseline, candidate): a header name, or a .cpp file in bench/compile_time compiled at -O2.
COMPARISONS = [
    ("metering umbrella vs nlohmann/json", "nlohmann/json.hpp", "tollgate/tollgate.hpp"),
    ("forward header vs <string>", "string", "tollgate/fwd.hpp"),
    ("plans umbrella vs nlohmann/json", "nlohmann/json.hpp", "tollgate/plans.hpp"),
    ("httplib adapter vs httplib.h", "httplib.h", "tollgate/adapters/httplib.hpp"),
    ("httplib part (adapter, credit client, JSON) vs httplib.h", "httplib.h", "tollgate/httplib.hpp"),
    ("metered server vs plain server (-O2)", "plain_server.cpp", "metered_server.cpp"),
]


def command(compiler, subject, scratch):
    flags = ["-std=c++20", f"-I{ROOT / 'include'}"]
    if subject.endswith(".cpp"):
        return [compiler, *flags, "-O2", "-c", str(HERE / subject), "-o", str(scratch / "out.o")]
    tu = scratch / (subject.replace("/", "_") + ".cpp")
    tu.write_text(f"#include <{subject}>\n")
    return [compiler, *flags, "-fsyntax-only", str(tu)]


def seconds(cmd):
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"compile failed: {' '.join(cmd)}\n{done.stderr}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--compilers", default="g++,clang++")
    args = parser.parse_args()
    if args.pairs < 1:
        sys.exit("--pairs must be at least 1")
    print("| comparison | compiler | baseline s | tollgate s | ratio median (min–max) |")
    print("|---|---|---:|---:|---|")
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = pathlib.Path(scratch_dir)
        for compiler in args.compilers.split(","):
            for what, baseline, candidate in COMPARISONS:
                base_cmd, cand_cmd = command(compiler, baseline, scratch), command(compiler, candidate, scratch)
                seconds(base_cmd), seconds(cand_cmd)  # warm the page cache
                base, cand = [], []
                for _ in range(args.pairs):
                    base.append(seconds(base_cmd))
                    cand.append(seconds(cand_cmd))
                ratios = [c / b for b, c in zip(base, cand)]
                print(f"| {what} | {compiler} | {statistics.median(base):.2f} | {statistics.median(cand):.2f} | "
                      f"**{statistics.median(ratios):.2f}** ({min(ratios):.2f}–{max(ratios):.2f}) |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
