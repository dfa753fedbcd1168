#!/usr/bin/env python3
"""The code a repeated step runs, in 64-byte lines of instruction cache.

Reads a callgrind file made with `--dump-instr=yes` and counts the
instructions run at least 0.9 times a step (a step: a chain's hop, a
task), the distinct 64-byte lines they lie in, and the same per function
(its hot lines, and the span from its first hot line to its last).

    valgrind --tool=callgrind --dump-instr=yes \\
        --toggle-collect='tokio::runtime::runtime::Runtime::block_on*' \\
        --callgrind-out-file=chain.cg \\
        target/release/examples/profile_shape weft chain 10000 2
    python3 scripts/code_footprint.py chain.cg 20000 [functions to list]
"""
import collections
import re
import sys

NAMED = re.compile(r"\((\d+)\)(?: (.*))?")


def parse(path):
    """Instructions run, by (object, address), and each address's function."""
    count = collections.Counter()
    func = {}
    names = {"ob": {}, "fn": {}}
    ob = fn = None
    last = 0
    after_call = False
    for line in open(path):
        line = line.rstrip("\n")
        if not line or line[0] == "#":
            continue
        key = line.split("=", 1)[0]
        if key in ("ob", "cob", "fn", "cfn") and "=" in line:
            m = NAMED.match(line.split("=", 1)[1])
            table = names["ob" if key.endswith("ob") else "fn"]
            if m and m.group(2):
                table[m.group(1)] = m.group(2)
            if key == "ob":
                ob = table[m.group(1)]
            elif key == "fn":
                fn = table[m.group(1)]
            continue
        if key == "calls":
            after_call = True
            continue
        parts = line.split()
        if not parts or parts[0][0] not in "0123456789+-*":
            continue
        a = parts[0]
        if a == "*":
            addr = last
        elif a[0] in "+-":
            addr = last + int(a)
        else:
            addr = int(a, 16)
        last = addr
        if after_call:  # the call's inclusive cost, not this address's own
            after_call = False
            continue
        count[(ob, addr)] += int(parts[-1])
        func[(ob, addr)] = fn
    return count, func


def main():
    count, func = parse(sys.argv[1])
    steps = int(sys.argv[2])
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
    hot = [k for k, v in count.items() if v >= 0.9 * steps]
    lines = {(ob, addr >> 6) for ob, addr in hot}
    print(f"instructions run >= 0.9 a step: {len(hot)}; "
          f"64-byte lines: {len(lines)} ({len(lines) * 64 / 1024:.1f} KB)")
    by_fn = collections.defaultdict(list)
    for k in hot:
        by_fn[func[k]].append(k[1])
    rows = []
    for f, addrs in by_fn.items():
        addrs.sort()
        n = len({a >> 6 for a in addrs})
        rows.append((n, len(addrs), (addrs[-1] >> 6) - (addrs[0] >> 6) + 1, f))
    rows.sort(reverse=True)
    print(" lines instrs  span  function")
    for n, instrs, span, f in rows[:top]:
        print(f"{n:6d} {instrs:6d} {span:5d}  {f[:110]}")


if __name__ == "__main__":
    main()
