#!/usr/bin/env python3
"""Lists the public names of a crate from its `cargo doc` output.

Usage: scripts/public_names.py target/doc/weft

Reads the crate's `index.html` (its re-exports of whole crates, such as
`pub use weft_core as core`) and `all.html` (every item rustdoc documents
under the crate, re-exported ones included), and prints one line a name:
`kind path`, sorted by path. Items of re-exported crates (`weft::core::…`)
are not listed: they are that crate's surface.
"""

import re
import sys
from pathlib import Path

KINDS = {
    "struct": "struct",
    "enum": "enum",
    "trait": "trait",
    "fn": "fn",
    "type": "type",
    "constant": "const",
    "macro": "macro",
    "static": "static",
    "union": "union",
    "attr": "attr",
    "derive": "derive",
    "traitalias": "trait alias",
}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = Path(sys.argv[1])
    index = (root / "index.html").read_text()
    names = []
    for code in re.findall(r"<code>(pub use .*?)</code>", index):
        m = re.fullmatch(r"pub use ([\w:]+) as (\w+);", re.sub(r"<[^>]+>", "", code))
        if m:
            names.append(("crate", m.group(2), f"(= {m.group(1)})"))
    for m in re.finditer(r'<a class="mod" href="(\w+)/index.html"', index):
        names.append(("mod", m.group(1), ""))
    text = (root / "all.html").read_text()
    for href in sorted(set(re.findall(r'<a href="([^"#]+\.html)"', text))):
        parts = href.split("/")
        m = re.match(r"(\w+)\.(\w+)\.html$", parts[-1])
        if not m or m.group(1) not in KINDS:
            continue
        path = "::".join(parts[:-1] + [m.group(2)])
        names.append((KINDS[m.group(1)], path, ""))
    for kind, path, note in sorted(names, key=lambda n: n[1].lower()):
        print(f"{kind} {path} {note}".rstrip())


if __name__ == "__main__":
    main()
