#!/usr/bin/env python3
"""Import cycles between the source files of src/.

A file depends on another when it names a path inside it (`crate::a::b::Item`,
`super::model::X`, `use crate::{a, b::c}`), resolved to the longest module prefix that
is a file. `mod x;` declarations do not count, nor do `#[cfg(test)]` modules.
Prints each strongly connected component of more than one file, largest first, with
the edges inside it, and exits 1 when a component has more than `--max` files
(default 2: a module and its parent may refer to each other).

    python3 scripts/import-cycles.py [--max N] [--quiet]
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src"


def module_of(path: Path) -> tuple:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip(src: str) -> str:
    src = src.split("#[cfg(test)]")[0]
    src = re.sub(r"//[^\n]*", "", src)
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', src)


def expand(prefix: str, body: str):
    """`a, b::{c, d}` inside braces → ["a", "b::c", "b::d"]."""
    out, depth, cur = [], 0, ""
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    paths = []
    for item in out:
        item = re.sub(r"\s+", "", item)
        if not item:
            continue
        m = re.match(r"^([\w:]*?)::\{(.*)\}$", item)
        if m:
            paths += expand(prefix + "::" + m.group(1), m.group(2))
        else:
            paths.append(prefix + "::" + item.split(" as ")[0])
    return paths


def references(src: str, here: tuple):
    found = []
    for m in re.finditer(r"\b(crate|super|self)((?:::\w+)*)::\{", src):
        start = m.end()
        depth, i = 1, start
        while depth and i < len(src):
            depth += {"{": 1, "}": -1}.get(src[i], 0)
            i += 1
        found += expand(m.group(1) + m.group(2), src[start : i - 1])
    found += [m.group(0) for m in re.finditer(r"\b(?:crate|super|self)(?:::\w+)+", src)]
    mods = []
    for p in found:
        parts = [x for x in p.split("::") if x]
        base = list(here)
        while parts and parts[0] in ("super", "self", "crate"):
            head = parts.pop(0)
            if head == "crate":
                base = []
            elif head == "super":
                base = base[:-1]
        mods.append(tuple(base) + tuple(parts))
    return mods


def main() -> int:
    args = sys.argv[1:]
    limit = int(args[args.index("--max") + 1]) if "--max" in args else 2
    files = {module_of(p): p for p in ROOT.rglob("*.rs") if p.name != "main.rs"}
    graph = {m: set() for m in files}
    for mod, path in files.items():
        for ref in references(strip(path.read_text()), mod):
            for n in range(len(ref), 0, -1):
                target = ref[:n]
                if target in files and target != mod:
                    graph[mod].add(target)
                    break
    # Tarjan's strongly connected components.
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            comps.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    cycles = sorted((c for c in comps if len(c) > 1), key=len, reverse=True)
    name = lambda m: "::".join(m) or "crate"
    quiet = "--quiet" in args
    for comp in cycles:
        inside = set(comp)
        print(f"cycle of {len(comp)} files:")
        if not quiet:
            for m in sorted(comp):
                deps = sorted(name(t) for t in graph[m] if t in inside)
                print(f"  {name(m)} -> {', '.join(deps)}")
    largest = max((len(c) for c in cycles), default=1)
    print(f"{len(files)} files; largest import cycle: {largest} files")
    return 1 if largest > limit else 0


if __name__ == "__main__":
    sys.exit(main())
