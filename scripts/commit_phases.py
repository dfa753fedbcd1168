#!/usr/bin/env python3
"""The phases of a short write-behind run's commit and of a floor commit,
from `benches/examples/commit_phases.rs`'s timestamps and the file calls
of SQLite's writer threads that `scripts/io_stamps.c` noted (see the
example for the commands):

    python3 scripts/commit_phases.py PHASES IO_STAMPS

A run in memory (no store): start to end. A write-behind run: the run itself (start to its handle's answer), the flush handed to
the journal writer task until that task calls the store's append, until
the SQLite writer thread takes its transaction's lock (its wake-up and the
records' encoding), the statements (until the log's first write), the
log's writes, its fsync, the answer back to the journal writer task, and
the flush's answer to the caller. A floor commit: the same from the
caller's append. Medians and means in microseconds; the commits that found
the writer thread still checkpointing (writing the database file) when
they were handed over, or another transaction of it (a move of the runs
waiting in `runs_new`), are counted apart.
"""
import statistics
import sys
from bisect import bisect_left


def load_io(path):
    ev = []
    with open(path) as f:
        for line in f:
            p = line.split(' ', 6)
            ev.append((int(p[3]), int(p[4]), int(p[0]), p[1], int(p[2]), int(p[5]), p[6].strip()))
    ev.sort()
    return ev


def writer_events(ev, suffix):
    """The events of the writer thread of `<suffix>`."""
    # The file is made on the thread that opens the store: the writer
    # thread is the one that writes most of its log.
    writes = {}
    for e in ev:
        if e[3] == 'pwrite' and e[6].endswith(suffix + '-wal'):
            writes[e[2]] = writes.get(e[2], 0) + 1
    if not writes:
        sys.exit(f'no thread writes {suffix}-wal')
    tid = max(writes, key=writes.get)
    return [e for e in ev if e[2] == tid]


def phases(ev, starts, handed, stored, db):
    """Splits [handed, stored] by the writer thread's calls in it."""
    i = bisect_left(starts, handed)
    # A call under way when the commit was handed over (a checkpoint).
    busy = i > 0 and ev[i - 1][1] > handed
    window = []
    while i < len(ev) and ev[i][0] < stored:
        window.append(ev[i])
        i += 1
    wal = db + '-wal'
    syncs = [e for e in window if e[3] in ('fsync', 'fdatasync') and e[6] == wal]
    if not syncs:
        return None
    sync = syncs[-1]
    # Another transaction of the writer in front (the move of the runs
    # waiting in `runs_new`, schema version 6): the commit's own calls
    # come after its sync.
    start = syncs[-2][1] if len(syncs) > 1 else handed
    before = [e for e in window if start <= e[0] < sync[0]]
    # A checkpoint in front: writes or syncs of the database file.
    ckpt = [e for e in before if e[6] == db and e[3] in ('pwrite', 'fsync', 'fdatasync')]
    after_ckpt = ckpt[-1][1] if ckpt else start
    writes = [e for e in before if e[3] == 'pwrite' and e[6] == wal and e[0] >= after_ckpt]
    locks = [e for e in before if e[3] == 'fcntl' and e[0] >= after_ckpt]
    if not writes or not locks:
        # The calls of the commit cannot be told from those in front.
        return {'checkpoint in front': True}
    lock, first_write = locks[0][0], writes[0][0]
    reads = [e for e in before if e[3] == 'pread' and e[0] >= after_ckpt]
    return {
        'to lock': lock - handed,
        'statements': first_write - lock,
        'log writes': sync[0] - first_write,
        'fsync': sync[1] - sync[0],
        'to answer': stored - sync[1],
        'checkpoint in front': busy or bool(ckpt) or len(syncs) > 1,
        'log bytes': sum(e[5] for e in writes),
        'reads': len(reads),
        'read bytes': sum(e[5] for e in reads),
    }


def main():
    lines = [l.split() for l in open(sys.argv[1])]
    ev = load_io(sys.argv[2])
    db_of = {}
    for e in ev:
        for name in ('chain_100-wb.db', 'floor.db'):
            if e[6].endswith(name):
                db_of[name] = e[6]
    rows = {'run': [], 'floor': []}
    for kind, suffix in (('run', 'chain_100-wb.db'), ('floor', 'floor.db')):
        w = writer_events(ev, suffix)
        starts = [e[0] for e in w]
        for p in lines:
            if p[0] != kind:
                continue
            t = list(map(int, p[1:]))
            if kind == 'run':
                t0, ended, sent, handed, stored, answered = t
                head = {'run': ended - t0, 'flush to append': handed - sent}
            else:
                t0, handed, stored, answered = t
                head = {'call to append': handed - t0}
            mid = phases(w, starts, handed, stored, db_of[suffix])
            if mid is None:
                continue
            row = dict(head)
            if len(mid) == 1:
                row = {}
            row.update(mid)
            row['answer to caller'] = answered - stored
            row['commit (flush sent or call to answer)'] = answered - (sent if kind == 'run' else t0)
            rows[kind].append(row)
    memory = sorted((int(p[2]) - int(p[1])) / 1e3 for p in lines if p[0] == 'memory')
    if memory:
        print(f'memory: {len(memory)} runs, start to end: median {statistics.median(memory):.1f} µs, '
              f'mean {statistics.mean(memory):.1f}')
    for kind, rs in rows.items():
        clean = [r for r in rs if not r['checkpoint in front']]
        print(f'\n{kind}: {len(rs)} commits, {len(rs) - len(clean)} with a checkpoint or a move '
              f'in front (left out below)')
        print(f'  {"median":>8} {"mean":>8} {"p90":>8}  phase (µs)')
        for key in clean[0]:
            if key == 'checkpoint in front':
                continue
            v = sorted(r[key] for r in clean)
            scale = 1e3 if key not in ('log bytes', 'reads', 'read bytes') else 1
            med = statistics.median(v) / scale
            mean = statistics.mean(v) / scale
            p90 = v[int(len(v) * 0.9)] / scale
            print(f'  {med:8.1f} {mean:8.1f} {p90:8.1f}  {key}')
        if len(rs) > len(clean):
            d = [r['commit (flush sent or call to answer)'] / 1e3 for r in rs if r['checkpoint in front']]
            print(f'  with a checkpoint or a move in front: median {statistics.median(d):.1f} µs, '
                  f'mean {statistics.mean(d):.1f}; over all: mean '
                  f'{statistics.mean(r["commit (flush sent or call to answer)"] for r in rs) / 1e3:.1f}')
    # Checkpoints: their time on each writer thread, per commit.
    for suffix in ('chain_100-wb.db', 'floor.db'):
        w = writer_events(ev, suffix)
        db = db_of[suffix]
        n = sum(1 for e in w if e[6] == db and e[3] in ('fsync', 'fdatasync'))
        busy = sum(e[1] - e[0] for e in w if e[6] == db)
        print(f'\n{suffix}: {n} syncs of the database file (checkpoints), '
              f'{busy / 1e6:.1f} ms in its file calls')


main()
