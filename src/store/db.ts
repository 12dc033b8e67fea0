/** Opens the SQLite database in the data directory and brings its schema up to date. */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export type Db = Database.Database;

const MIGRATIONS: string[] = [
  `CREATE TABLE bindings (
     aor TEXT NOT NULL,
     contact TEXT NOT NULL,
     call_id TEXT NOT NULL,
     cseq INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     q REAL,
     source_proto TEXT NOT NULL,
     source_address TEXT NOT NULL,
     source_port INTEGER NOT NULL,
     local_address TEXT,
     local_port INTEGER,
     user_agent TEXT,
     instance TEXT,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (aor, contact)
   )`,
  `CREATE INDEX bindings_expiry ON bindings (expires_at)`,
  `CREATE TABLE bans (
     address TEXT PRIMARY KEY,
     reason TEXT NOT NULL,
     detail TEXT NOT NULL,
     since INTEGER NOT NULL,
     until INTEGER NOT NULL
   )`,
];

export function openDatabase(dataDir: string): Db {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'switchboard.db');
  let db: Db;
  try {
    db = new Database(file);
  } catch (err) {
    throw new Error(`Cannot open database ${file}: ${(err as Error).message}. Check that the data directory is writable.`);
  }
  // WAL with synchronous=NORMAL is durable against process crashes, which is
  // the failure the "nothing is lost" rule is about, at a fraction of FULL's cost.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // A write waits at most this long for another connection's lock: the event loop waits with it.
  db.pragma('busy_timeout = 250');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
