#!/usr/bin/env python3
"""The layout of each service crate: the same core files, and an import graph without a circle.

Every service has the core files in CORE (docs/ARCHITECTURE.md, "A service's files"); it may
have more of its own (jive's `ids.rs`, partner's `page.rs`, virtool's `cerberus.rs`).

A node is a source file of the crate (`src/db/schema.rs`, `src/routes/users.rs`, ...); an edge
A -> B means A names an item of B through `crate::…` or `super::…` (in a `use` or in a path).
Declaring a module (`mod x;`) and a module re-exporting its children (`pub use x::*`) are not
edges: the parent only lists its files. Unit-test modules are left out. A circle among the remaining edges means a type lives
in the wrong file (../shared/STYLE.md, 17). Exits 1 and prints each circle found.

usage: scripts/check-layout.py CRATE_DIR...
"""
import re
import sys
from pathlib import Path


CORE = [
    "lib.rs", "main.rs", "config.rs", "state.rs", "app.rs", "routes/mod.rs", "openapi.rs",
    "auth.rs", "permissions.rs", "error.rs", "wire.rs", "db/mod.rs", "db/schema.rs",
    "bootstrap.rs", "admin.rs", "audit.rs", "routes/events.rs", "import.rs",
]


def module_file(src, parts):
    """The deepest file among src/<parts…> that exists, and how many parts it used."""
    for n in range(len(parts), -1, -1):
        base = src.joinpath(*parts[:n]) if n else src
        for cand in ([base.with_suffix(".rs"), base / "mod.rs"] if n else [src / "lib.rs"]):
            if cand.is_file():
                return cand
    return src / "lib.rs"


def module_path(src, file):
    rel = file.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


def paths_in(text):
    """Every `crate::…` / `super::…` path, with `use` groups expanded (one level of braces
    at a time, recursively)."""
    text = re.sub(r"//[^\n]*", "", text)
    # visibility (`pub(crate)`, `pub(super)`, `pub(in crate::x)`) names no item
    text = re.sub(r"\bpub\((?:crate|super|self|in [\w:]+)\)", "pub", text)
    out = []
    for m in re.finditer(r"\b(crate|super)((?:::\w+)*)(::\{)?", text):
        head = [m.group(1)] + [p for p in m.group(2).split("::") if p]
        if m.group(3):
            # expand the group: find its matching brace
            start = m.end()
            depth, i = 1, start
            while depth and i < len(text):
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            for item in split_group(text[start : i - 1]):
                out.append(head + [p for p in re.split(r"::", item.strip()) if p and p != "{"])
        else:
            out.append(head)
    return out


def split_group(body):
    items, depth, cur = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        cur += ch
    items.append(cur)
    return [re.sub(r"\{.*", "", i).split(" as ")[0].strip() for i in items if i.strip()]


def graph(crate):
    src = crate / "src"
    files = sorted(p for p in src.rglob("*.rs"))
    edges = {f: set() for f in files}
    for f in files:
        here = module_path(src, f)
        # unit tests (`#[cfg(test)] mod tests { use super::*; … }`, last in a file by this
        # project's habit) see their own file as `super`: they are left out
        text = f.read_text().split("#[cfg(test)]\nmod tests")[0]
        # a parent re-exporting its own children lists them, it does not depend on them
        text = re.sub(r"pub use (\w+)::\*;", "", text)
        found = paths_in(text)
        # a file names its own child modules without `crate::` (`bootstrap::apply` in lib.rs)
        children = re.findall(r"^\s*(?:pub\s+)?mod\s+(\w+)\s*;", text, flags=re.M)
        for child in children:
            if re.search(rf"(?<![\w:]){child}::", text):
                found.append(["self", child])
        for p in found:
            if p[0] == "self":
                p = ["crate"] + here + p[1:]
            if p[0] == "crate":
                parts = p[1:]
            else:
                parts = here[:-1] if f.name != "mod.rs" else here[:-1]
                rest = p[1:]
                while rest and rest[0] == "super":
                    parts, rest = parts[:-1], rest[1:]
                parts = parts + rest
            target = module_file(src, [x for x in parts if x != "self"])
            if target != f and not (f.name in ("lib.rs", "main.rs") and target == f):
                edges[f].add(target)
    return src, edges


def circles(edges):
    found, state, stack = [], {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(edges[n]):
            if state.get(m) == 1:
                found.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n)
    return found


def main(crates):
    bad = 0
    for c in crates:
        for core in CORE:
            if not (Path(c) / "src" / core).is_file():
                bad += 1
                print(f"{c}: no src/{core}")
        src, edges = graph(Path(c))
        for circle in circles(edges):
            bad += 1
            print(f"{c}: import circle: " + " -> ".join(str(n.relative_to(src)) for n in circle))
    print(f"layout of {len(crates)} crates: {bad} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
