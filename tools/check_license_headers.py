#!/usr/bin/env python3
"""Fails (exit 1) when a header under include/ or single_include/ does not start with the SPDX line
of the project's license (LICENSE: MIT), naming each such file."""
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPDX = "// SPDX-License-Identifier: MIT\n"

missing = [p for d in ("include", "single_include") for p in sorted((ROOT / d).rglob("*.hpp"))
           if not p.read_text().startswith(SPDX)]
for p in missing:
    print(f"{p.relative_to(ROOT)}: does not start with '{SPDX.strip()}'", file=sys.stderr)
sys.exit(1 if missing else 0)
