#!/usr/bin/env python3
"""A schema version 6 sketched in Python's SQLite (3.40.1): version 5's
tables and a table `runs_new` of the same columns, keyed by id, without
indexes, which a new run's commit would write and which would be moved into
`runs` in batches. Prints SQLite's plan of each list as a `UNION ALL` of
the two tables in id order, of a `get`, of the runs not ended, and the log
frames of 64 commits of a new run into `runs_new` and of their move.

    python3 scripts/sqlite_staging_plans.py /tmp/staging.db
"""
import os
import sqlite3
import sys

p = sys.argv[1]
for f in (p, p+'-wal', p+'-shm'):
    if os.path.exists(f): os.remove(f)
c=sqlite3.connect(p, isolation_level=None)
c.execute('PRAGMA page_size=16384'); c.execute('PRAGMA journal_mode=WAL'); c.execute('PRAGMA wal_autocheckpoint=0')
cols="""id BLOB PRIMARY KEY NOT NULL, workflow TEXT NOT NULL, status TEXT NOT NULL, parent BLOB,
 started_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, ended_at INTEGER, next_seq INTEGER NOT NULL, text BLOB"""
c.executescript(f"""
CREATE TABLE runs ({cols}) WITHOUT ROWID;
CREATE INDEX runs_by_status ON runs (status, id);
CREATE INDEX runs_by_end ON runs (ended_at) WHERE ended_at IS NOT NULL;
CREATE TABLE journal (run BLOB NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, records TEXT NOT NULL, checksum INTEGER NOT NULL, PRIMARY KEY (run, first_seq));
CREATE INDEX runs_by_workflow ON runs (workflow, id);
CREATE INDEX runs_top_level ON runs (id) WHERE parent IS NULL;
CREATE TABLE texts (sha256 BLOB PRIMARY KEY NOT NULL, source TEXT NOT NULL, checksum INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX runs_by_text ON runs (text) WHERE text IS NOT NULL;
CREATE TABLE runs_new ({cols}) WITHOUT ROWID;
""")
t=b'\x01'*32
n=0
def row(i):
    return (i.to_bytes(16,'big'), 'chain_100', 'succeeded', None, i, i, i, 102, t)
c.execute('BEGIN')
for i in range(2000):
    c.execute('INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?)', row(i))
    c.execute('INSERT INTO journal VALUES (?,?,?,?,?)', (i.to_bytes(16,'big'), 0, 101, os.urandom(1500).hex(), 0))
c.execute('COMMIT')
c.execute('PRAGMA wal_checkpoint(TRUNCATE)')
S="id, workflow, status, parent, started_at, updated_at, ended_at, next_seq, text"
def lst(where, limit=True):
    arm=lambda tb: f"SELECT {S} FROM {tb} WHERE 1{where}"
    return f"{arm('runs')} UNION ALL {arm('runs_new')} ORDER BY id DESC" + (" LIMIT 50" if limit else "")
cases={
 'all, paged': " AND id < x'ff'",
 'one status, paged': " AND status IN ('failed') AND id < x'ff'",
 'two statuses': " AND status IN ('failed','running')",
 'workflow, paged': " AND workflow = 'w' AND id < x'ff'",
 'top level, paged': " AND parent IS NULL AND id < x'ff'",
 'started between': " AND started_at >= 1 AND started_at < 5",
}
for name, w in cases.items():
    print('--', name)
    for r in c.execute('EXPLAIN QUERY PLAN ' + lst(w)): print('   ', r[3])
print('-- get'); [print('   ', r[3]) for r in c.execute(f"EXPLAIN QUERY PLAN SELECT {S} FROM runs WHERE id = ?1 UNION ALL SELECT {S} FROM runs_new WHERE id = ?1", (b'x',))]
print('-- not ended'); [print('   ', r[3]) for r in c.execute(lst(" AND status IN ('running')", False).replace('SELECT','EXPLAIN QUERY PLAN SELECT',1))]
# frames of a move of 64 runs
def walframes():
    return (os.path.getsize(p+'-wal')-32)//(16384+24) if os.path.exists(p+'-wal') and os.path.getsize(p+'-wal')>32 else 0
for k in range(3):
    base=2000+k*64
    f0=walframes()
    for i in range(base, base+64):
        c.execute('BEGIN')
        c.execute('INSERT INTO runs_new VALUES (?,?,?,?,?,?,?,?,?)', row(i))
        c.execute('INSERT INTO journal VALUES (?,?,?,?,?)', (i.to_bytes(16,'big'), 0, 101, os.urandom(1500).hex(), 0))
        c.execute('COMMIT')
    f1=walframes()
    c.execute('BEGIN'); c.execute('INSERT INTO runs SELECT * FROM runs_new'); c.execute('DELETE FROM runs_new'); c.execute('COMMIT')
    f2=walframes()
    print(f'round {k}: 64 commits to runs_new {f1-f0} frames ({(f1-f0)/64:.2f} a commit); the move {f2-f1} frames')
