#!/usr/bin/env python3
"""A SQLite store purge's two deletes on a file of 100,000 ended runs (schema
version 5's tables and indexes, made once at PATH), the cutoff deleting the
oldest 1,000: with the condition as it was (SQLite reads runs_by_status) and
with `+status` (runs_by_end). Each in a transaction rolled back, the two in
turn, seven times; prints the plans and the times.

    python3 scripts/sqlite_purge_time.py [PATH]
"""
import os, sqlite3, sys, time, statistics
p = sys.argv[1] if len(sys.argv) > 1 else '/tmp/purge100k.db'
N = 100_000
if not os.path.exists(p):
    c = sqlite3.connect(p, isolation_level=None)
    c.execute('PRAGMA page_size=16384'); c.execute('PRAGMA journal_mode=WAL')
    c.executescript("""
    CREATE TABLE runs (id BLOB PRIMARY KEY NOT NULL, workflow TEXT NOT NULL, status TEXT NOT NULL,
     parent BLOB, started_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, ended_at INTEGER,
     next_seq INTEGER NOT NULL, text BLOB) WITHOUT ROWID;
    CREATE INDEX runs_by_status ON runs (status, id);
    CREATE INDEX runs_by_end ON runs (ended_at) WHERE ended_at IS NOT NULL;
    CREATE TABLE journal (run BLOB NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,
     records TEXT NOT NULL, checksum INTEGER NOT NULL, PRIMARY KEY (run, first_seq));
    CREATE INDEX runs_by_workflow ON runs (workflow, id);
    CREATE INDEX runs_top_level ON runs (id) WHERE parent IS NULL;
    CREATE TABLE texts (sha256 BLOB PRIMARY KEY NOT NULL, source TEXT NOT NULL, checksum INTEGER NOT NULL) WITHOUT ROWID;
    CREATE INDEX runs_by_text ON runs (text) WHERE text IS NOT NULL;
    BEGIN;
    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d - 1)
    INSERT INTO runs SELECT CAST(printf('%%016x%%016x', 1700000000000 + i, i) AS BLOB), 'w' || (i %% 20),
      CASE WHEN i %% 20 = 0 THEN 'failed' ELSE 'succeeded' END, NULL, 1700000000000 + i * 1000,
      1700000000000 + i * 1000 + 500, 1700000000000 + i * 1000 + 500, 102, zeroblob(32) FROM n;
    INSERT INTO journal SELECT id, 0, 101, randomblob(300), 0 FROM runs;
    COMMIT;
    """ % N)
    c.execute('PRAGMA wal_checkpoint(TRUNCATE)'); c.close()
c = sqlite3.connect(p, isolation_level=None)
c.execute('PRAGMA secure_delete=1')
cut = 1700000000000 + 1000 * 1000
def sqls(plus):
    w = "ended_at IS NOT NULL AND ended_at < ?1 AND %sstatus IN ('succeeded', 'failed', 'canceled')" % ('+' if plus else '')
    return ["DELETE FROM journal WHERE run IN (SELECT id FROM runs WHERE %s)" % w,
            "DELETE FROM runs WHERE %s RETURNING text" % w]
for plus in (False, True):
    for s in sqls(plus):
        print(('after ' if plus else 'before'), [r[3] for r in c.execute('EXPLAIN QUERY PLAN ' + s, (cut,))])
times = {False: [], True: []}
for k in range(7):
    for plus in (False, True):
        t0 = time.perf_counter()
        c.execute('BEGIN IMMEDIATE')
        c.execute(sqls(plus)[0], (cut,))
        n = len(c.execute(sqls(plus)[1], (cut,)).fetchall())
        t1 = time.perf_counter()
        c.execute('ROLLBACK')
        times[plus].append((t1 - t0) * 1e3)
        assert n == 1000, n
print(f"runs deleted: {n} of {N}")
for plus in (False, True):
    print(('after (runs_by_end)  ' if plus else 'before (runs_by_status)'), 'median %.1f ms' % statistics.median(times[plus]), ['%.1f' % t for t in times[plus]])
