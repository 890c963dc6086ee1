#!/usr/bin/env python3
"""The size rules of src/: files under 600 lines, functions under 80, HTTP handlers
(functions of an `api.rs`, or `*_api.rs`, that a router names) at most 30.

Prints the largest file, the longest function and the longest handler, then every
breach; exits 1 when there is one. Test modules (`#[cfg(test)]` and below) are not
counted. Lines are counted from a function's `fn` line to its closing brace.

    python3 scripts/sizes.py [--all]   # --all: list the ten longest of each kind
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src"
MAX_FILE, MAX_FN, MAX_HANDLER = 600, 80, 30


def code_of(text: str) -> str:
    """Blanks out comments, strings and chars, keeping line structure."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:]):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            j = n if end < 0 else end + 1 + len(hashes)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(re.sub(r"[^\n]", " ", text[i : j + 1]))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:]):
            m = re.match(r"'(\\.|[^\\'])'", text[i:])
            out.append(" " * len(m.group(0)))
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path: Path):
    text = path.read_text().split("#[cfg(test)]")[0]
    code = code_of(text)
    for m in re.finditer(r"\bfn\s+(\w+)[^;{]*\{", code):
        depth, i = 1, m.end()
        while depth and i < len(code):
            depth += {"{": 1, "}": -1}.get(code[i], 0)
            i += 1
        start = code.count("\n", 0, m.start()) + 1
        end = code.count("\n", 0, i) + 1
        yield m.group(1), start, end - start + 1


def handlers(path: Path) -> set:
    if not (path.name == "api.rs" or path.name.endswith("_api.rs")):
        return set()
    text = path.read_text().split("#[cfg(test)]")[0]
    return set(re.findall(r"\b(?:get|post|put|patch|delete)\((\w+)\)", text))


def main() -> int:
    files, fns, hs = [], [], []
    for p in sorted(ROOT.rglob("*.rs")):
        rel = str(p.relative_to(ROOT.parent))
        files.append((len(p.read_text().splitlines()), rel))
        named = handlers(p)
        for name, line, length in functions(p):
            fns.append((length, f"{rel}:{line} {name}"))
            if name in named:
                hs.append((length, f"{rel}:{line} {name}"))
    files.sort(reverse=True)
    fns.sort(reverse=True)
    hs.sort(reverse=True)
    show = 10 if "--all" in sys.argv else 1
    for title, rows in (("files", files), ("functions", fns), ("handlers", hs)):
        for length, where in rows[:show]:
            print(f"longest {title[:-1]}: {length} lines  {where}")
    breaches = (
        [f"file over {MAX_FILE}: {n} {w}" for n, w in files if n > MAX_FILE]
        + [f"function over {MAX_FN}: {n} {w}" for n, w in fns if n > MAX_FN]
        + [f"handler over {MAX_HANDLER}: {n} {w}" for n, w in hs if n > MAX_HANDLER]
    )
    for b in breaches:
        print(b)
    print(f"{len(breaches)} breaches")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
