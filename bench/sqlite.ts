/**
 * better-sqlite3 on the same workloads: WAL journal, one table position(id INTEGER PRIMARY KEY,
 * x, y, z REAL) with a row per entity (id = index + 1), prepared statements, one
 * `db.transaction()` per W1 commit and per W2 tick. The `synchronous` setting comes from the
 * mode it is paired with (OFF ~ memory, NORMAL ~ buffered, FULL ~ strict). W6's counterpart is
 * a round of `groupCommitInFlight` W1 transactions: SQLite has no group commit, so with FULL each
 * of them fsyncs on its own.
 *
 * W3 uses one table per component, as an ECS stored in SQLite would: position (the same table,
 * its churned rows after the main world's), velocity(id, dx, dy, dz REAL) and health(id, hp
 * INTEGER), each keyed by `id INTEGER PRIMARY KEY`. An entity's id is the next integer after the
 * last one used (what a rowid would be). One `db.transaction()` per operation runs a prepared
 * INSERT into each of the three tables per created entity, then a prepared `DELETE ... WHERE id
 * = ?` on each of the three tables per destroyed entity (one by one, as a game destroys any set
 * of entities; a range delete would use the ids' being consecutive, which ecsdb cannot).
 *
 * The database file lives in a fresh temporary directory, removed on close.
 */
import Sqlite from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from './engine.js';
import type { Plan, SqliteSynchronous } from './plan.js';
import type { Runner } from './stats.js';
import {
  PointSequence,
  checkCount,
  checkReadBack,
  churnValuesAt,
  positionAt,
  tickIndex,
  tickStart,
  valueBase,
  type ChurnValues,
  type Position,
  type WorkloadId,
} from './workloads.js';

type SqliteDatabase = Sqlite.Database;
/** The prepared `UPDATE position SET x = ?, y = ?, z = ? WHERE id = ?`. */
type Update = Sqlite.Statement<[number, number, number, number]>;

export function openSqlite(plan: Plan, synchronous: SqliteSynchronous): Engine {
  const dir = mkdtempSync(join(tmpdir(), 'ecsdb-bench-sqlite-'));
  let db: SqliteDatabase | undefined;
  const closeNow = (): void => {
    try {
      db?.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    const open = new Sqlite(join(dir, 'bench.sqlite'));
    db = open;
    configure(open, synchronous);
    populate(open, plan);
    createChurnTables(open);
    const update: Update = open.prepare('UPDATE position SET x = ?, y = ?, z = ? WHERE id = ?');
    const read = readerOf(open);
    return {
      runner: (workload: WorkloadId) => runnerFor(workload, open, update, read, plan),
      close: async () => closeNow(),
    };
  } catch (error) {
    closeNow();
    throw error;
  }
}

function runnerFor(workload: WorkloadId, db: SqliteDatabase, update: Update, read: (index: number) => Position | undefined, plan: Plan): Runner {
  switch (workload) {
    case 'W1':
      return pointRunner(db, update, read, plan);
    case 'W2':
    case 'W2C':
    case 'W2L':
    case 'W2CL':
      return tickRunner(db, update, read, plan);
    case 'W3':
      return churnRunner(db, plan);
    case 'W6': {
      // A round of W6 is `groupCommitInFlight` W1 transactions, one after the other.
      const point = pointRunner(db, update, read, plan);
      return { run: (rounds) => point.run(rounds * plan.groupCommitInFlight), verify: () => point.verify() };
    }
  }
}

export interface SqliteWalBytes {
  status: 'ok';
  synchronous: SqliteSynchronous;
  commits: number;
  /** Growth of the -wal file over the commits (checkpoints off, so it only grows). */
  walBytesGrowth: number;
  bytesPerCommit: number;
  pageSizeBytes: number;
}

/**
 * What SQLite appends to its -wal file per W1 commit: automatic checkpoints off, the -wal file
 * truncated after the world is created, then `commits` W1 transactions. Each appends whole page
 * frames (a 24-byte frame header + a page), so this is about one page per commit.
 */
export function measureSqliteWalBytes(plan: Plan, synchronous: SqliteSynchronous, commits: number): SqliteWalBytes {
  const dir = mkdtempSync(join(tmpdir(), 'ecsdb-bench-sqlite-'));
  const path = join(dir, 'bench.sqlite');
  const walSizeBytes = (): number => statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0;
  const db = new Sqlite(path);
  try {
    configure(db, synchronous);
    db.pragma('wal_autocheckpoint = 0');
    populate(db, plan);
    const [checkpoint] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    if (checkpoint?.busy !== 0) throw new Error(`better-sqlite3 could not truncate its WAL before the measurement (${JSON.stringify(checkpoint)})`);
    const before = walSizeBytes();
    const update: Update = db.prepare('UPDATE position SET x = ?, y = ?, z = ? WHERE id = ?');
    const point = pointRunner(db, update, readerOf(db), plan);
    point.run(commits);
    point.verify();
    const walBytesGrowth = walSizeBytes() - before;
    const pageSizeBytes = db.pragma('page_size', { simple: true }) as number;
    return { status: 'ok', synchronous, commits, walBytesGrowth, bytesPerCommit: walBytesGrowth / commits, pageSizeBytes };
  } finally {
    try {
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** better-sqlite3's version and the SQLite library it runs. */
export function sqliteVersions(): { betterSqlite3: string; sqlite: string } {
  const require = createRequire(import.meta.url);
  const { version } = require('better-sqlite3/package.json') as { version: string };
  const db = new Sqlite(':memory:');
  try {
    const row = db.prepare('SELECT sqlite_version() AS version').get() as { version: string };
    return { betterSqlite3: version, sqlite: row.version };
  } finally {
    db.close();
  }
}

function configure(db: SqliteDatabase, synchronous: SqliteSynchronous): void {
  const journalMode = db.pragma('journal_mode = WAL', { simple: true });
  if (journalMode !== 'wal') throw new Error(`better-sqlite3 refused WAL mode (journal_mode is ${String(journalMode)})`);
  db.pragma(`synchronous = ${synchronous}`);
  const levels: Record<SqliteSynchronous, number> = { OFF: 0, NORMAL: 1, FULL: 2 };
  const level = db.pragma('synchronous', { simple: true });
  if (level !== levels[synchronous]) throw new Error(`better-sqlite3 ignored synchronous = ${synchronous} (it reads ${String(level)})`);
}

function populate(db: SqliteDatabase, plan: Plan): void {
  db.exec('CREATE TABLE position (id INTEGER PRIMARY KEY, x REAL, y REAL, z REAL)');
  const insert = db.prepare('INSERT INTO position (id, x, y, z) VALUES (?, ?, ?, ?)');
  db.transaction(() => {
    for (let index = 0; index < plan.entityCount; index++) insert.run(index + 1, index, -1, -1);
  })();
}

function readerOf(db: SqliteDatabase): (index: number) => Position | undefined {
  const select = db.prepare('SELECT x, y, z FROM position WHERE id = ?');
  return (index) => select.get(index + 1) as Position | undefined;
}

function pointRunner(db: SqliteDatabase, update: Update, read: (index: number) => Position | undefined, plan: Plan): Runner & { run(ops: number): void } {
  const sequence = new PointSequence(plan.entityCount);
  const commitOne = db.transaction((index: number, x: number) => update.run(x, x + 0.5, x + 0.25, index + 1));
  let seq = 0;
  return {
    run(ops) {
      for (let i = 0; i < ops; i++) {
        seq++;
        commitOne(sequence.pointIndex(seq), valueBase(seq));
      }
    },
    verify() {
      const index = sequence.pointIndex(seq);
      checkReadBack('sqlite', index, read(index), positionAt(seq));
    },
  };
}

function tickRunner(db: SqliteDatabase, update: Update, read: (index: number) => Position | undefined, plan: Plan): Runner {
  const count = plan.tickEntityCount;
  const tickOne = db.transaction((start: number, x: number) => {
    const y = x + 0.5;
    const z = x + 0.25;
    for (let k = 0; k < count; k++) update.run(x, y, z, tickIndex(start, k, plan) + 1);
  });
  let seq = 0;
  return {
    run(ops) {
      for (let i = 0; i < ops; i++) {
        seq++;
        tickOne(tickStart(seq, plan), valueBase(seq));
      }
    },
    verify() {
      const index = tickIndex(tickStart(seq, plan), count - 1, plan);
      checkReadBack('sqlite', index, read(index), positionAt(seq));
    },
  };
}

/** W3's two other component tables (position holds W3's entities too, after the main world's). */
function createChurnTables(db: SqliteDatabase): void {
  db.exec('CREATE TABLE velocity (id INTEGER PRIMARY KEY, dx REAL, dy REAL, dz REAL); CREATE TABLE health (id INTEGER PRIMARY KEY, hp INTEGER)');
}

const CHURN_TABLES = ['position', 'velocity', 'health'] as const;

function churnRunner(db: SqliteDatabase, plan: Plan): Runner {
  const count = plan.churnEntityCount;
  const insertPosition = db.prepare<[number, number, number, number]>('INSERT INTO position (id, x, y, z) VALUES (?, ?, ?, ?)');
  const insertVelocity = db.prepare<[number, number, number, number]>('INSERT INTO velocity (id, dx, dy, dz) VALUES (?, ?, ?, ?)');
  const insertHealth = db.prepare<[number, number]>('INSERT INTO health (id, hp) VALUES (?, ?)');
  const deletes = CHURN_TABLES.map((table) => db.prepare<[number]>(`DELETE FROM ${table} WHERE id = ?`));
  const readChurned = db.prepare<[number]>('SELECT x, y, z, dx, dy, dz, hp FROM position JOIN velocity USING (id) JOIN health USING (id) WHERE id = ?');
  let nextId = plan.entityCount + 1;
  const createGeneration = (values: ChurnValues): number => {
    const first = nextId;
    for (let k = 0; k < count; k++) {
      const id = nextId++;
      insertPosition.run(id, values.x, values.y, values.z);
      insertVelocity.run(id, values.dx, values.dy, values.dz);
      insertHealth.run(id, values.hp);
    }
    return first;
  };
  let seq = 0;
  // The ids of a generation are consecutive: the first one names it.
  let previousFirst = db.transaction(() => createGeneration(churnValuesAt(seq)))();
  const churnOne = db.transaction((values: ChurnValues): number => {
    const first = createGeneration(values);
    for (let k = 0; k < count; k++) for (const remove of deletes) remove.run(previousFirst + k);
    return first;
  });
  return {
    run(ops) {
      for (let i = 0; i < ops; i++) {
        seq++;
        previousFirst = churnOne(churnValuesAt(seq));
      }
    },
    verify() {
      for (const table of CHURN_TABLES) {
        const rows = (db.prepare(`SELECT count(*) AS rows FROM ${table}`).get() as { rows: number }).rows;
        checkCount('sqlite', `${table} rows after W3`, rows, table === 'position' ? plan.entityCount + count : count);
      }
      for (const k of [0, count >> 1, count - 1]) {
        checkReadBack('sqlite', `W3 entity ${k} of the last generation`, readChurned.get(previousFirst + k) as ChurnValues | undefined, churnValuesAt(seq));
      }
    },
  };
}
