#!/usr/bin/env python3
"""Fail when a file under a crate's src/ imports a module that imports it back.

For each crate, every `.rs` file under `src/` is a module (`a/b.rs` and `a/b/mod.rs` are
`a::b`). A file depends on module M when it names `crate::M…`, `super::…` resolving to M, or
`self::…` resolving to a child; names re-exported from the crate root (`crate::Name` where the
root says `pub use crate::m::Name` / `pub use self::m::…`) resolve to the module that defines
them. Reports every pair of files that depend on each other (directly or through others), as
strongly connected components of the file graph, and exits 1 when there is one.

Usage: scripts/check_module_cycles.py [crates-dir]   (default: crates)
"""

import re
import sys
from pathlib import Path


def module_path(src: Path, f: Path) -> tuple:
    rel = f.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts in (["lib"], ["main"]):
        return ()
    if parts[-1] == "mod":
        parts = parts[:-1]
    return tuple(parts)


def strip_comments(text: str) -> str:
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def use_paths(text: str):
    """Every path named in `use` trees and in expressions, as lists of segments."""
    out = []
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        out.extend(expand(m.group(1).replace("\n", " ")))
    for m in re.finditer(r"\b((?:crate|super|self)(?:::\w+)+)", text):
        out.append(m.group(1).split("::"))
    return out


def expand(tree: str):
    tree = re.sub(r"\s+", "", tree)
    res = []

    def go(prefix, t):
        i = t.find("{")
        if i < 0:
            for p in split_top(t):
                if p:
                    res.append(prefix + [s for s in re.sub(r"as\w+$", "", p).split("::") if s])
            return
        head = t[:i].rstrip(":")
        inner = t[i + 1 : t.rfind("}")]
        base = prefix + [s for s in head.split("::") if s]
        for part in split_top(inner):
            go(base, part)

    for top in split_top(tree):
        go([], top)
    return res


def split_top(s: str):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def main() -> int:
    crates = Path(sys.argv[1] if len(sys.argv) > 1 else "crates")
    bad = 0
    for src in sorted(crates.glob("*/src")):
        files = sorted(src.rglob("*.rs"))
        mods = {module_path(src, f): f for f in files}
        root = next((f for f in files if f.name in ("lib.rs", "main.rs")), None)
        # Names the root re-exports: Name -> defining module.
        reexport = {}
        if root is not None:
            rtext = strip_comments(root.read_text())
            for m in re.finditer(r"pub\s+use\s+([^;]+);", rtext):
                for p in expand(m.group(1)):
                    if p and p[0] in ("crate", "self"):
                        p = p[1:]
                    if len(p) >= 2 and tuple(p[:1]) in mods:
                        # longest module prefix
                        for k in range(len(p) - 1, 0, -1):
                            if tuple(p[:k]) in mods:
                                reexport[p[-1]] = tuple(p[:k])
                                break
        graph = {m: set() for m in mods}
        for m, f in mods.items():
            text = strip_comments(f.read_text())
            # `#[cfg(test)] mod tests { … }` inside a file is the file's own business.
            for p in use_paths(text):
                if not p:
                    continue
                if p[0] == "crate":
                    rest = p[1:]
                    base = ()
                elif p[0] == "super":
                    base = m[:-1] if f.name != "mod.rs" else m[:-1]
                    rest = p[1:]
                    while rest and rest[0] == "super":
                        base = base[:-1]
                        rest = rest[1:]
                elif p[0] == "self":
                    base, rest = m, p[1:]
                else:
                    continue
                target = None
                for k in range(len(rest), -1, -1):
                    cand = base + tuple(rest[:k])
                    if cand in mods and cand != ():
                        target = cand
                        break
                if target is None and base == () and rest and rest[0] in reexport:
                    target = reexport[rest[0]]
                if target is None or target == m:
                    continue
                # A module naming its own child, or a child its parent's module file, is
                # the ordinary tree, not a cycle between files.
                if target[: len(m)] == m and f.name in ("mod.rs", "lib.rs", "main.rs"):
                    continue
                graph[m].add(target)
        for comp in sccs(graph):
            if len(comp) > 1:
                bad += 1
                names = ", ".join(str(mods[c].relative_to(crates)) for c in sorted(comp))
                print(f"cycle: {names}")
    if bad:
        print(f"{bad} import cycle(s) between source files", file=sys.stderr)
        return 1
    print("no import cycles between source files")
    return 0


def sccs(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
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
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            strong(v)
    return out


if __name__ == "__main__":
    sys.exit(main())
