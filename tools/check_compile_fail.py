#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs one must-not-compile case and checks that tollgate's message is the first and only error.

    check_compile_fail.py <compiler> <include dir> <case.cpp> [extra compiler flags...]

The case's first line is `// expect: <regex>`. The case passes when the compile fails, the first
error line carries a `tollgate: ` message matching that regex, and no other error follows it (a
follow-on error is part of what the user reads, so it counts as a failure). Notes and clang's
"N errors generated." are not errors. On failure the compiler's whole output is printed."""
import re
import subprocess
import sys

# A diagnostic's own line: "file:line:col: error: ..." or "g++: error: ..." (a driver error),
# never the source line a compiler echoes under a diagnostic, which may contain the same words.
ERROR_LINE = re.compile(r"^(?:[^\s:][^:]*(?::\d+){1,2}|[\w.+-]+): (?:fatal )?error: ")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def fail(why, output):
    print(f"FAIL: {why}")
    print("---- compiler output ----")
    print(output, end="" if output.endswith("\n") else "\n")
    return 1


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    compiler, include_dir, case, *extra = argv[1:]
    with open(case, encoding="utf-8") as f:
        first_line = f.readline().rstrip("\n")
    expect = re.match(r"^// expect: (.+)$", first_line)
    if not expect:
        print(f"FAIL: {case} does not start with `// expect: <regex>`")
        return 1
    expected = re.compile(expect.group(1))

    command = [compiler, "-std=c++20", "-fsyntax-only", f"-I{include_dir}", *extra, case]
    run = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    output = ANSI_ESCAPE.sub("", run.stdout)
    print("$ " + " ".join(command))

    if run.returncode == 0:
        return fail("the case compiled; it must not", output)
    errors = [line for line in output.splitlines() if ERROR_LINE.match(line)]
    if not errors:
        return fail(f"the compiler failed (exit {run.returncode}) without an error line", output)
    first = errors[0]
    if "tollgate: " not in first:
        return fail(f"the first error is not tollgate's:\n  {first}", output)
    # Matched against tollgate's words only: a loose pattern must not pass by matching the header's path.
    if not expected.search(first.split("tollgate: ", 1)[1]):
        return fail(f"the first error does not match /{expected.pattern}/:\n  {first}", output)
    tollgate_errors = [line for line in errors if "tollgate: " in line]
    if len(tollgate_errors) != 1:
        return fail(f"{len(tollgate_errors)} tollgate errors, expected exactly one:\n  " + "\n  ".join(tollgate_errors), output)
    if len(errors) != 1:
        return fail(f"{len(errors) - 1} follow-on error(s) after tollgate's:\n  " + "\n  ".join(errors[1:]), output)
    print(f"ok: {first}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
