#!/usr/bin/env python3
"""Extracts every C++ block of README.md and docs/*.md into a .cpp file of its own, for the build to compile.

tests/readme/CMakeLists.txt runs this at configure time (and again whenever README.md, a page of
docs/ or this script changes), then compiles every file with the project's warnings and -Werror, so
a snippet that stops compiling fails the build the way a broken test does.

The convention, for whoever writes documentation:

* Every fenced block opened with ```cpp (or ```c++) is compiled. Other languages are not.
* A block that contains `int main` is a whole program: compiled as written AND linked into an
  executable. The first program of README.md is "the complete program"; ctest runs it
  (tests/readme/run_first_program.py: port 0, a paid request, an anonymous one, the balance).
* Any other block is compiled as written, as one translation unit: it must include what it uses
  and hold only what may appear at namespace scope (declarations, functions, types).
* An HTML comment on the line right before the fence changes that (words in any order):

    <!-- snippet: fragment includes=tollgate/tollgate.hpp,tollgate/httplib.hpp -->
        statements: the includes go at the top, the block becomes the body of a function.
    <!-- snippet: skip REASON -->
        not compiled; REASON (required) says why, e.g. a block that shows a compile error on purpose.
    <!-- snippet: run -->
        a program that ctest also runs; it must exit with 0.
    <!-- snippet: requires=redis -->
        compiled only when the tollgate::redis target exists (hiredis found).

Each file is named after its page, its ordinal on the page and the nearest heading, e.g.
`readme_04_extractors_who_pays.cpp`, and starts with a #line directive, so the compiler reports an
error at the Markdown line (README.md:123), not in the generated file. Files are rewritten only when
their text changes (so an edit recompiles only its own snippet) and stale ones are deleted.
The list of files, by kind, goes to `snippets.cmake` in the output directory.

    tools/extract_snippets.py --out DIR       # extract (what the build does)
    tools/extract_snippets.py --list          # print what would be extracted, and how
"""
import argparse
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Any fence (``` or ~~~, CommonMark), with any info string: its first word is the language, so a
# block such as ```cpp title="x" is still a C++ block and cannot slip past the compiler.
FENCE_OPEN = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*?)\s*$")
ANNOTATION = re.compile(r"^\s*<!--\s*snippet:(?P<words>.*?)-->\s*$")
HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$")
MAIN = re.compile(r"\bint\s+main\s*\(")
CPP_LANGS = {"cpp", "c++"}
KINDS = {"fragment", "skip"}
FLAGS = {"run"}
OPTIONS = {"includes", "requires"}
KNOWN_REQUIREMENTS = {"redis"}


class SnippetError(Exception):
    pass


class Snippet:
    def __init__(self, page, line, heading, code, annotation, annotation_line):
        self.page = page              # path relative to the root, e.g. "README.md"
        self.line = line              # 1-based line of the first code line
        self.heading = heading
        self.code = code
        self.kind = "unit"            # unit | program | fragment | skip
        self.run = False
        self.includes = []
        self.requires = []
        self.reason = ""
        self.parse_annotation(annotation, annotation_line)
        if self.kind != "skip" and MAIN.search(code):
            if self.kind == "fragment":
                raise SnippetError(f"{page}:{annotation_line}: a fragment must not define main()")
            self.kind = "program"
        if self.run and self.kind != "program":
            raise SnippetError(f"{page}:{line}: 'run' needs a block with int main")
        self.name = ""

    def parse_annotation(self, words, where):
        if words is None:
            return
        tokens = words.split()
        if tokens and tokens[0] == "skip":
            self.kind = "skip"
            self.reason = " ".join(tokens[1:])
            if not self.reason:
                raise SnippetError(f"{self.page}:{where}: 'snippet: skip' needs a reason")
            return
        if not tokens:
            raise SnippetError(f"{self.page}:{where}: empty snippet annotation")
        for token in tokens:
            key, eq, value = token.partition("=")
            if eq:
                if key not in OPTIONS or not value:
                    raise SnippetError(f"{self.page}:{where}: unknown snippet option '{token}' "
                                       f"(known: {', '.join(sorted(OPTIONS))})")
                items = [v for v in value.split(",") if v]
                if key == "includes":
                    self.includes += items
                else:
                    unknown = set(items) - KNOWN_REQUIREMENTS
                    if unknown:
                        raise SnippetError(f"{self.page}:{where}: unknown requirement {sorted(unknown)}")
                    self.requires += items
            elif token in KINDS:
                self.kind = token
            elif token in FLAGS:
                self.run = True
            else:
                raise SnippetError(f"{self.page}:{where}: unknown snippet word '{token}' "
                                   f"(known: {', '.join(sorted(KINDS | FLAGS))}, key=value options)")
        if self.includes and self.kind != "fragment":
            raise SnippetError(f"{self.page}:{where}: includes= applies to fragments only")

    def source(self):
        header = (f"// Extracted from {self.page}, line {self.line} ({self.heading or 'no heading'}), by\n"
                  f"// tools/extract_snippets.py: edit the Markdown, not this file.\n")
        directive = f'#line {self.line} "{self.page}"\n'
        if self.kind == "fragment":
            includes = "".join(f"#include <{i}>\n" for i in self.includes)
            return (header + includes + "\n[[maybe_unused]] static void tollgate_snippet() {\n" + directive
                    + self.code + "}\n")
        return header + directive + self.code


def sanitise(text, limit=40):
    text = re.sub(r"`|\*\*?|\[|\]\([^)]*\)", "", text)
    text = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return text[:limit].rstrip("_") or "top"


def pages(root):
    found = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
    return [p for p in found if p.is_file()]


def page_stem(page):
    return "readme" if page == "README.md" else "docs_" + sanitise(pathlib.PurePath(page).stem, 30)


def parse(root, path):
    page = path.relative_to(root).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    snippets = []
    heading = ""
    pending = None  # (words, line number) of an annotation waiting for its block
    i = 0
    while i < len(lines):
        line = lines[i]
        opened = FENCE_OPEN.match(line)
        if opened:
            indent, fence = opened.group("indent"), opened.group("fence")
            lang = (opened.group("info").split() or [""])[0].lower()
            start = i + 1
            body = []
            i += 1
            while i < len(lines) and not re.match(r"^\s*" + re.escape(fence) + re.escape(fence[0]) + r"*\s*$", lines[i]):
                text = lines[i]
                body.append(text[len(indent):] if text.startswith(indent) else text.lstrip())
                i += 1
            if i == len(lines):
                raise SnippetError(f"{page}:{start}: a ``` block is never closed")
            if lang in CPP_LANGS:
                words, where = pending if pending else (None, 0)
                snippets.append(Snippet(page, start + 1, heading, "".join(body), words, where))
            elif pending:
                raise SnippetError(f"{page}:{pending[1]}: a snippet annotation must precede a ```cpp block")
            pending = None
            i += 1
            continue
        annotation = ANNOTATION.match(line)
        if annotation:
            pending = (annotation.group("words"), i + 1)
        elif line.strip():
            if pending:
                raise SnippetError(f"{page}:{pending[1]}: a snippet annotation must be on the line right before the ```cpp")
            match = HEADING.match(line)
            if match:
                heading = match.group("title")
        i += 1
    if pending:
        raise SnippetError(f"{page}:{pending[1]}: a snippet annotation at the end of the page")
    for n, s in enumerate(snippets, 1):
        s.name = f"{page_stem(page)}_{n:02d}_{sanitise(s.heading)}"
    return snippets


def collect(root):
    snippets = []
    for path in pages(root):
        snippets += parse(root, path)
    programs = [s for s in snippets if s.page == "README.md" and s.kind == "program"]
    if not programs:
        raise SnippetError("README.md: no complete program (a ```cpp block with int main); the README must open with one")
    return snippets, programs[0]


def cmake_list(name, items):
    body = "".join(f"\n  {item}" for item in items)
    return f"set({name}{body})\n"


def write(out, snippets, first):
    out.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for s in snippets:
        if s.kind == "skip":
            continue
        target = out / (s.name + ".cpp")
        wanted.add(target.name)
        text = s.source()
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    for stale in out.glob("*.cpp"):
        if stale.name not in wanted:
            stale.unlink()
    compiled = [s for s in snippets if s.kind != "skip"]
    manifest = ["# Generated by tools/extract_snippets.py: the snippets of README.md and docs/*.md, by kind.\n",
                cmake_list("TOLLGATE_SNIPPET_UNITS", [s.name + ".cpp" for s in compiled if s.kind != "program"]),
                cmake_list("TOLLGATE_SNIPPET_PROGRAMS", [s.name + ".cpp" for s in compiled if s.kind == "program"]),
                cmake_list("TOLLGATE_SNIPPET_RUN", [s.name + ".cpp" for s in compiled if s.run]),
                f"set(TOLLGATE_SNIPPET_FIRST_PROGRAM {first.name}.cpp)\n",
                cmake_list("TOLLGATE_SNIPPET_NEEDS_REDIS", [s.name + ".cpp" for s in compiled if "redis" in s.requires]),
                cmake_list("TOLLGATE_SNIPPET_SKIPPED",
                           ['"{}:{} ({})"'.format(s.page, s.line, s.reason.replace('"', "'")) for s in snippets if s.kind == "skip"])]
    text = "".join(manifest)
    path = out / "snippets.cmake"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=pathlib.Path, default=ROOT, help="the repository (default: this script's)")
    parser.add_argument("--out", type=pathlib.Path, help="directory for the .cpp files and snippets.cmake")
    parser.add_argument("--list", action="store_true", help="print every snippet and how it is compiled")
    args = parser.parse_args()
    if not args.out and not args.list:
        parser.error("give --out DIR or --list")
    try:
        snippets, first = collect(args.root.resolve())
    except SnippetError as e:
        sys.exit(f"extract_snippets: {e}")
    if args.list:
        for s in snippets:
            extra = s.reason if s.kind == "skip" else " ".join(
                ["run"] * s.run + [f"includes={','.join(s.includes)}"] * bool(s.includes)
                + [f"requires={','.join(s.requires)}"] * bool(s.requires) + ["first program"] * (s is first))
            print(f"{s.page}:{s.line}: {s.kind:8} {s.name}.cpp {extra}".rstrip())
    if args.out:
        write(args.out, snippets, first)
    counts = {k: sum(1 for s in snippets if s.kind == k) for k in ("program", "unit", "fragment", "skip")}
    print(f"extract_snippets: {len(snippets)} C++ blocks: {counts['program']} programs, {counts['unit']} "
          f"translation units, {counts['fragment']} fragments, {counts['skip']} skipped")


if __name__ == "__main__":
    main()
