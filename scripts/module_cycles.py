#!/usr/bin/env python3
"""Lists the import circles among the files of one crate.

Usage: scripts/module_cycles.py crates/weft-core/src [--edges]

Each `.rs` file below SRC is a module (`plan/compile/mod.rs` is
`plan::compile`). A file depends on another when its code names it:
`use crate::a::b`, `use crate::{a, b::c}`, `crate::a::f(...)` in an
expression, or `super::x` (relative to the inline `mod tests` it is in,
if any). Comments and doc comments are not read. A name
is resolved to the deepest module that exists (`crate::load::task_path`
is `load`; `crate::Plan` is the module the crate root re-exports `Plan`
from); a file naming its own module or one of its children does not
count. The strongly connected components with more than one file are
printed, each with the edges inside it; `--edges` prints every edge.
Exits 1 when there is a circle.
"""

import re
import sys
from pathlib import Path


def modules(src: Path):
    out = {}
    for f in sorted(src.rglob("*.rs")):
        rel = f.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] in ("mod", "lib", "main"):
            parts = parts[:-1]
        out["::".join(parts)] = f
    return out


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(re.sub(r"//.*$", "", line) for line in text.splitlines())


def use_paths(body: str):
    """Expands `a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e`."""
    body = re.sub(r"\s+", "", body)

    def expand(prefix: str, s: str):
        i = s.find("{")
        if i < 0:
            return [prefix + s]
        head = s[:i]
        inner = s[i + 1 : s.rfind("}")]
        parts, depth, cur = [], 0, ""
        for ch in inner:
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            depth += ch == "{"
            depth -= ch == "}"
            cur += ch
        parts.append(cur)
        return [p for part in parts if part for p in expand(prefix + head, part)]

    return expand("", body)


def resolve(path: list, mods) -> str | None:
    for n in range(len(path), -1, -1):
        name = "::".join(path[:n])
        if name in mods:
            return name
    return None


def root_names(text: str, mods):
    """What the crate root re-exports: `pub use a::b::{C, D}` maps C and D to
    the module they come from, so that `crate::C` counts as naming it."""
    out = {}
    for m in re.finditer(r"\bpub\s+use\s+([^;]+);", text):
        for p in use_paths(m.group(1)):
            segs = [s for s in p.split("::") if s and s != "crate"]
            if not segs:
                continue
            target = resolve(segs[:-1], mods)
            if target:
                alias = segs[-1].split("as")[-1] if "as" in segs[-1] else segs[-1]
                out[alias] = target
    return out


def inline_modules(text: str):
    """The spans of inline `mod name { ... }` blocks: (start, end, name)."""
    spans = []
    for m in re.finditer(r"\bmod\s+([a-z_][a-z0-9_]*)\s*\{", text):
        depth, i = 0, m.end() - 1
        while i < len(text):
            depth += text[i] == "{"
            depth -= text[i] == "}"
            if depth == 0:
                break
            i += 1
        spans.append((m.start(), i, m.group(1)))
    return spans


def deps(name: str, text: str, mods, roots):
    found = set()
    here = name.split("::") if name else []
    spans = inline_modules(text)

    def module_at(pos):
        inner = [n for (a, b, n) in sorted(spans) if a <= pos <= b]
        return here + inner

    refs = []
    for m in re.finditer(r"\buse\s+(crate|super)::([^;]+);", text):
        for p in use_paths(m.group(2)):
            refs.append((m.group(1), p, m.start()))
    for m in re.finditer(r"\b(crate|super)::((?:[a-z_][a-z0-9_]*::)*[A-Za-z_][A-Za-z0-9_]*)", text):
        refs.append((m.group(1), m.group(2), m.start()))
    for root, p, pos in refs:
        segs = [s for s in p.split("::") if s and s not in ("self", "*")]
        base = [] if root == "crate" else module_at(pos)[:-1]
        target = resolve(base + segs, mods)
        if target == "" and segs and segs[0] in roots:
            target = roots[segs[0]]
        if target is None or target == name:
            continue
        if name and target.startswith(name + "::"):
            continue
        if target == "":
            continue
        found.add(target)
    return found


def sccs(graph):
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

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
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        sys.exit(__doc__)
    src = Path(args[0])
    mods = modules(src)
    roots = root_names(strip_comments(mods[""].read_text()), mods) if "" in mods else {}
    graph = {}
    for name, f in mods.items():
        text = strip_comments(f.read_text())
        graph[name or "lib"] = sorted(d or "lib" for d in deps(name, text, mods, roots))
    if "--edges" in sys.argv:
        for v, ws in sorted(graph.items()):
            print(f"{v} -> {', '.join(ws)}")
    circles = [c for c in sccs(graph) if len(c) > 1]
    print(f"{len(graph)} files, {sum(len(w) for w in graph.values())} edges, "
          f"{len(circles)} import circle(s)")
    for c in circles:
        print(f"circle of {len(c)}: {', '.join(c)}")
        for v in c:
            inside = [w for w in graph[v] if w in c]
            print(f"  {v} -> {', '.join(inside)}")
    sys.exit(1 if circles else 0)


if __name__ == "__main__":
    main()
