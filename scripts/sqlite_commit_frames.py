#!/usr/bin/env python3
"""Commit time against the pages a commit writes, in Python's SQLite: one
new, ended run a commit (as a write-behind chain_100's commit) on files of
schema version 5's tables with fewer and fewer indexes, and a floor commit
(one record appended to a stored run); the variants in turn, each after a
pause of 0-5 ms, medians. PS sets the page size (16384), SYNC the
`synchronous` setting (FULL).

    python3 scripts/sqlite_commit_frames.py DIR ITERATIONS
"""
import os, sqlite3, sys, time, uuid, statistics, struct, random
PS = int(os.environ.get('PS', '16384'))
d = sys.argv[1]; iters = int(sys.argv[2])
BASE = """CREATE TABLE runs (id BLOB PRIMARY KEY NOT NULL, workflow TEXT NOT NULL, status TEXT NOT NULL,
 parent BLOB, started_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, ended_at INTEGER,
 next_seq INTEGER NOT NULL, text BLOB) WITHOUT ROWID;
CREATE TABLE texts (sha256 BLOB PRIMARY KEY NOT NULL, source TEXT NOT NULL, checksum INTEGER NOT NULL) WITHOUT ROWID;
"""
JR = """CREATE TABLE journal (run BLOB NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,
 records TEXT NOT NULL, checksum INTEGER NOT NULL, PRIMARY KEY (run, first_seq));"""
JW = JR[:-1] + " WITHOUT ROWID;"
IDX = {
 'status': "CREATE INDEX runs_by_status ON runs (status, id);",
 'end': "CREATE INDEX runs_by_end ON runs (ended_at) WHERE ended_at IS NOT NULL;",
 'workflow': "CREATE INDEX runs_by_workflow ON runs (workflow, id);",
 'top': "CREATE INDEX runs_top_level ON runs (id) WHERE parent IS NULL;",
 'text': "CREATE INDEX runs_by_text ON runs (text) WHERE text IS NOT NULL;",
}
ALL = list(IDX)
variants = {
 'v5 (5 indexes)': (ALL, JR),
 'no runs_by_text': ([i for i in ALL if i != 'text'], JR),
 'no text, no end': (['status', 'workflow', 'top'], JR),
 'no runs indexes': ([], JR),
 'no runs indexes, journal w/o rowid': ([], JW),
}
REC = os.urandom(900)  # about a chain_100 row in the binary form
def vid(i):
    # time-ordered ids, as RunId::new makes
    return struct.pack('>QQ', int(time.time()*1000) << 16 | (i & 0xffff), i)
conns = {}
n = 0
for name, (idx, jr) in variants.items():
    p = os.path.join(d, name.replace(' ', '_').replace(',', '').replace('(', '').replace(')', '').replace('/', '') + '.db')
    for s in ('', '-wal', '-shm'):
        try: os.remove(p + s)
        except FileNotFoundError: pass
    c = sqlite3.connect(p, isolation_level=None)
    c.execute(f'PRAGMA page_size={PS}'); c.execute('PRAGMA journal_mode=WAL')
    c.execute('PRAGMA synchronous=' + os.environ.get('SYNC', 'FULL')); c.execute('PRAGMA secure_delete=1')
    c.executescript(BASE + jr + ''.join(IDX[i] for i in idx))
    c.execute("INSERT INTO texts VALUES (x'00', 'text', 0)")
    # 2,000 runs stored first
    c.execute('BEGIN')
    for i in range(2000):
        n += 1
        r = vid(n)
        c.execute('INSERT INTO journal VALUES (?,0,101,?,0)', (r, REC))
        c.execute("INSERT INTO runs VALUES (?,?,?,NULL,1,1,2,102,x'00')", (r, 'chain_100', 'succeeded'))
    c.execute('COMMIT')
    c.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    conns[name] = [c, p, []]
floor_c = conns['v5 (5 indexes)'][0]
floor_run = vid(10**9); floor_seq = 0; floor_t = []
floor_c.execute("INSERT INTO runs VALUES (?,'floor','running',NULL,1,1,NULL,0,NULL)", (floor_run,))
UP = """INSERT INTO runs VALUES (?,?,?,NULL,?,?,?,?,x'00') ON CONFLICT (id) DO UPDATE SET
 status=excluded.status, updated_at=excluded.updated_at, ended_at=excluded.ended_at, next_seq=excluded.next_seq"""
def pages(p):
    return os.path.getsize(p + '-wal')
for it in range(iters):
    for name, v in conns.items():
        c = v[0]; n += 1; r = vid(n)
        time.sleep(random.random() * 0.005)
        t0 = time.perf_counter()
        c.execute('BEGIN IMMEDIATE')
        c.execute('SELECT * FROM runs WHERE id = ?', (r,)).fetchall()
        c.execute('INSERT INTO journal VALUES (?,0,101,?,0)', (r, REC))
        c.execute(UP, (r, 'chain_100', 'succeeded', 1, 1, 2, 102))
        c.execute('COMMIT')
        v[2].append(time.perf_counter() - t0)
        if pages(v[1]) > (16 << 20): c.execute('PRAGMA wal_checkpoint(PASSIVE)')
    time.sleep(random.random() * 0.005)
    t0 = time.perf_counter()
    floor_c.execute('BEGIN IMMEDIATE')
    floor_c.execute('INSERT INTO journal VALUES (?,?,?,?,0)', (floor_run, floor_seq, floor_seq, REC[:40]))
    floor_c.execute(UP, (floor_run, 'floor', 'running', 1, 1, None, floor_seq + 1))
    floor_c.execute('COMMIT'); floor_seq += 1
    floor_t.append(time.perf_counter() - t0)
# frames a commit, measured on fresh logs: 20 commits each
print(f"{'variant':40} {'median ms':>9} {'mean':>6} {'p25':>6} {'p75':>6} {'frames/commit':>13}")
for name, v in list(conns.items()) + [('floor (append 1 record, v5)', None)]:
    ts = v[2] if v else floor_t
    c = v[0] if v else floor_c
    c.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    p = v[1] if v else conns['v5 (5 indexes)'][1]
    before = pages(p)
    for k in range(20):
        if v:
            n += 1; r = vid(n)
            c.execute('BEGIN IMMEDIATE'); c.execute('INSERT INTO journal VALUES (?,0,101,?,0)', (r, REC))
            c.execute(UP, (r, 'chain_100', 'succeeded', 1, 1, 2, 102)); c.execute('COMMIT')
        else:
            c.execute('BEGIN IMMEDIATE')
            c.execute('INSERT INTO journal VALUES (?,?,?,?,0)', (floor_run, floor_seq, floor_seq, REC[:40]))
            c.execute(UP, (floor_run, 'floor', 'running', 1, 1, None, floor_seq + 1)); c.execute('COMMIT'); floor_seq += 1
    frames = (pages(p) - max(before, 32)) / (PS + 24) / 20
    q = statistics.quantiles(ts, n=4)
    print(f"{name:40} {statistics.median(ts)*1e3:9.3f} {statistics.mean(ts)*1e3:6.3f} {q[0]*1e3:6.3f} {q[2]*1e3:6.3f} {frames:13.2f}")
