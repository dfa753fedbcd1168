#!/usr/bin/env python3
"""Print markdown tables from criterion's results.

Reads target/criterion/<group>/<function>/new/estimates.json (the median's
point estimate) and benchmark.json (throughput), so the tables in
docs/performance.md can be remade from one `cargo bench` run (from the
repository root; the benchmarks are the weft-benches package in benches/):

    python3 scripts/criterion_table.py [--target DIR] peers
    python3 scripts/criterion_table.py latency
    python3 scripts/criterion_table.py with_items
    python3 scripts/criterion_table.py crowd
    python3 scripts/criterion_table.py --target PASS1 --target PASS2 durable

`peers` prints one row per shape: weft's median per run and per task, then
weft's ratio to floor and to each peer (weft ÷ other: below 1 means weft is
faster), for current_thread and multi_thread, and the compile times.
`crowd` prints one row per shape of `benches/crowd.rs` (64 runs at once):
each function's median per iteration (per task), and the ratios weft ÷
floor, spawn_every_attempt ÷ weft, write-behind ÷ memory, flush each ÷
one flush. `durable` prints `durable_chain_100` of `benches/durable.rs`, one
row per `--target` (several passes side by side): memory, a floor commit
(`sqlite_commit_floor` ÷ 100), memory then one commit of a run's journal
(`memory_then_commit`), write-behind, and write-behind − memory_then_commit
(what a write-behind run costs beyond the run and one commit of its
records), the same on 4 KB pages, and write-behind − (memory + floor).
Other arguments print the named groups as they are. Any group name can be
given too (`-- group chain_100`).
"""

import argparse
import json
import os
import sys

SHAPES = ["chain_100", "diamond", "fanout_100", "independent_10k", "binary_tree_10", "wavefront_32"]
ENGINES = ["weft", "floor", "dagx", "dagrs"]


def load(root, group, function, ci=False):
    """(median ns, elements per iteration or None), or None if missing.

    With ci=True, (median, elements, (low, high)) where low..high is the 95%
    confidence interval of the median.
    """
    base = os.path.join(root, group, function, "new")
    try:
        with open(os.path.join(base, "estimates.json")) as f:
            m = json.load(f)["median"]
            median = m["point_estimate"]
            bounds = (m["confidence_interval"]["lower_bound"], m["confidence_interval"]["upper_bound"])
    except FileNotFoundError:
        return None
    elements = None
    try:
        with open(os.path.join(base, "benchmark.json")) as f:
            tp = json.load(f).get("throughput") or {}
            elements = tp.get("Elements")
    except FileNotFoundError:
        pass
    if ci:
        return median, elements, bounds
    return median, elements


def fmt_time(ns):
    if ns is None:
        return "–"
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}×"


def fmt_ratio_ci(a, b):
    """Ratio of medians, with the range the two 95% intervals allow."""
    if a is None or b is None:
        return "–"
    lo, hi = a[2][0] / b[2][1], a[2][1] / b[2][0]
    return f"{a[0] / b[0]:.2f}× ({lo:.2f}–{hi:.2f})"


def per_element(entry):
    if entry is None or not entry[1]:
        return None
    return entry[0] / entry[1]


def peers(root):
    for flavour, name in [("ct", "current_thread"), ("mt", "multi_thread, 2 workers")]:
        print(
            f"\n**{name}** — median per run (per task); ratios are weft ÷ other, "
            "in brackets the range the two medians' 95% intervals allow\n"
        )
        print("| shape | tasks | weft | floor | dagx | dagrs | weft/floor | weft/dagx | weft/dagrs |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for shape in SHAPES:
            e = {eng: load(root, shape, f"{eng}_{flavour}", ci=True) for eng in ENGINES}
            tasks = next((v[1] for v in e.values() if v and v[1]), None)
            cells = []
            for eng in ENGINES:
                v = e[eng]
                if v is None:
                    cells.append("–")
                else:
                    cells.append(f"{fmt_time(v[0])} ({fmt_time(per_element(v))})")
            print(
                f"| {shape} | {tasks or '–'} | "
                + " | ".join(cells)
                + f" | {fmt_ratio_ci(e['weft'], e['floor'])}"
                + f" | {fmt_ratio_ci(e['weft'], e['dagx'])}"
                + f" | {fmt_ratio_ci(e['weft'], e['dagrs'])} |"
            )
    print("\n**weft compile** (`compile` group) — median (per task)\n")
    print("| shape | compile | build + compile | weft_ct run |")
    print("|---|---:|---:|---:|")
    for shape in SHAPES:
        c = load(root, "compile", shape)
        cb = load(root, "compile", f"{shape}_with_build")
        run = load(root, shape, "weft_ct")
        print(
            f"| {shape} | {fmt_time(c[0]) if c else '–'} ({fmt_time(per_element(c))}) | "
            f"{fmt_time(cb[0]) if cb else '–'} ({fmt_time(per_element(cb))}) | "
            f"{fmt_time(run[0]) if run else '–'} |"
        )


def group(root, name, reference=None):
    path = os.path.join(root, name)
    if not os.path.isdir(path):
        print(f"\n(no results for group `{name}` under {root})")
        return
    functions = sorted(
        f for f in os.listdir(path) if os.path.isfile(os.path.join(path, f, "new", "estimates.json"))
    )
    ref = load(root, name, reference) if reference else None
    print(f"\n**{name}** — median\n")
    head = "| function | per iteration | elements | per element |"
    sep = "|---|---:|---:|---:|"
    if ref:
        head += f" ÷ {reference} |"
        sep += "---:|"
    print(head)
    print(sep)
    for f in functions:
        v = load(root, name, f)
        row = f"| {f} | {fmt_time(v[0])} | {v[1] or '–'} | {fmt_time(per_element(v))} |"
        if ref:
            row += f" {fmt_ratio(v[0], ref[0])} |"
        print(row)


def latency(root):
    print("\n**unblock_latency** — 1000-task chain, median per run (per hop)\n")
    print("| runtime | weft | floor | weft/floor |")
    print("|---|---:|---:|---:|")
    for flavour in ["ct", "mt"]:
        w = load(root, "unblock_latency", f"weft_{flavour}", ci=True)
        f = load(root, "unblock_latency", f"floor_{flavour}", ci=True)
        cells = [f"{fmt_time(v[0])} ({fmt_time(per_element(v))})" if v else "–" for v in (w, f)]
        print(f"| {flavour} | {cells[0]} | {cells[1]} | {fmt_ratio_ci(w, f)} |")
    group(root, "polling_baseline")


def with_items(root):
    group(root, "with_items")
    setup = load(root, "with_items", "setup_only")
    if not setup:
        return
    print("\nper item net of the run's fixed part (`setup_only`: 100 result tasks and the join)\n")
    print("| function | items | (t − t(setup_only)) / items |")
    print("|---|---:|---:|")
    for f in ["10", "1000", "100000", "100000_mt"]:
        v = load(root, "with_items", f)
        if v and v[1]:
            net = v[0] - setup[0]
            # Below the noise of the fixed part, the difference means nothing.
            cell = fmt_time(net / v[1]) if net > 0 else "(within noise)"
            print(f"| {f} | {v[1]} | {cell} |")


CROWD_SHAPES = ["diamond", "chain_10", "fanout_100"]


def crowd(root):
    print(
        "\n**crowd** — 64 runs at once, multi_thread (2 workers): median per "
        "iteration (per task); in brackets the range the two medians' 95% "
        "intervals allow\n"
    )
    names = [
        "weft",
        "weft_spawn_every_attempt",
        "floor",
        "weft_sqlite_write_behind",
        "weft_sqlite_write_behind_flush_each",
    ]
    print(
        "| shape | tasks | weft | spawn_every_attempt | floor | write-behind, one flush "
        "| write-behind, flush each | weft ÷ floor | spawn_every_attempt ÷ weft "
        "| write-behind ÷ memory | flush each ÷ one flush |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for shape in CROWD_SHAPES:
        e = {n: load(root, f"crowd_{shape}", n, ci=True) for n in names}
        tasks = next((v[1] for v in e.values() if v and v[1]), None)
        cells = [f"{fmt_time(v[0])} ({fmt_time(per_element(v))})" if v else "–" for v in e.values()]
        ratios = [
            fmt_ratio_ci(e["weft"], e["floor"]),
            fmt_ratio_ci(e["weft_spawn_every_attempt"], e["weft"]),
            fmt_ratio_ci(e["weft_sqlite_write_behind"], e["weft"]),
            fmt_ratio_ci(e["weft_sqlite_write_behind_flush_each"], e["weft_sqlite_write_behind"]),
        ]
        print(f"| {shape} | {tasks or '–'} | " + " | ".join(cells + ratios) + " |")


def durable(roots):
    print(
        "\n**durable_chain_100** — median per iteration, µs; in brackets the range "
        "the two medians' 95% intervals allow\n"
    )
    print(
        "| pass | memory | floor commit ÷ 100 | memory_then_commit | write-behind "
        "| write-behind − memory_then_commit | memory_then_commit_4k | write-behind 4k "
        "| 4k: write-behind − memory_then_commit | write-behind − (memory + floor) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

    def us(v, div=1):
        return f"{v[0] / div / 1e3:.1f}" if v else "–"

    def over(a, b):
        """a − b, and the range the two intervals allow."""
        if not a or not b:
            return "–"
        lo, hi = a[2][0] - b[2][1], a[2][1] - b[2][0]
        return f"{(a[0] - b[0]) / 1e3:+.1f} ({lo / 1e3:+.0f}…{hi / 1e3:+.0f})"

    for root in roots:
        e = {
            n: load(root, "durable_chain_100", n, ci=True)
            for n in [
                "memory",
                "sqlite_commit_floor",
                "memory_then_commit",
                "sqlite_write_behind",
                "memory_then_commit_4k",
                "sqlite_write_behind_4k",
            ]
        }
        floor, memory, wb = e["sqlite_commit_floor"], e["memory"], e["sqlite_write_behind"]
        old = "–"
        if floor and memory and wb:
            old = f"{(wb[0] - memory[0] - floor[0] / 100) / 1e3:+.1f}"
        print(
            f"| {os.path.dirname(root) or root} | {us(memory)} | {us(floor, 100)} "
            f"| {us(e['memory_then_commit'])} | {us(wb)} | {over(wb, e['memory_then_commit'])} "
            f"| {us(e['memory_then_commit_4k'])} | {us(e['sqlite_write_behind_4k'])} "
            f"| {over(e['sqlite_write_behind_4k'], e['memory_then_commit_4k'])} | {old} |"
        )


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--target",
        action="append",
        help="a directory holding criterion/ (default $CARGO_TARGET_DIR or target); "
        "`durable` takes several, one row each, the others read the first",
    )
    p.add_argument("what", nargs="+", help="peers | latency | with_items | crowd | durable | group NAME...")
    a = p.parse_args()
    targets = a.target or [os.environ.get("CARGO_TARGET_DIR", "target")]
    roots = [os.path.join(t, "criterion") for t in targets]
    for r in roots:
        if not os.path.isdir(r):
            sys.exit(f"no criterion results under {r}: run cargo bench first")
    root = roots[0]
    args = list(a.what)
    while args:
        w = args.pop(0)
        if w == "durable":
            durable(roots)
        elif w == "peers":
            peers(root)
        elif w == "latency":
            latency(root)
        elif w == "with_items":
            with_items(root)
        elif w == "crowd":
            crowd(root)
        elif w == "group":
            group(root, args.pop(0))
        else:
            group(root, w)


if __name__ == "__main__":
    main()
