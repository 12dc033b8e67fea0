/** Opens the SQLite database in the data directory and brings its schema up to date. */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
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
  // Times are wall-clock ms (the store turns them into ISO strings); text
  // fields are '' when they do not apply, as in Asterisk's CDR backends.
  `CREATE TABLE cdr (
     uniqueid TEXT PRIMARY KEY,
     linkedid TEXT NOT NULL,
     start INTEGER NOT NULL,
     answer INTEGER,
     "end" INTEGER NOT NULL,
     duration INTEGER NOT NULL,
     billsec INTEGER NOT NULL,
     disposition TEXT NOT NULL,
     src TEXT NOT NULL,
     dst TEXT NOT NULL,
     context TEXT NOT NULL,
     channel TEXT NOT NULL,
     dstchannel TEXT NOT NULL,
     lastapp TEXT NOT NULL,
     trunk TEXT NOT NULL,
     clid TEXT NOT NULL,
     hangupcause TEXT NOT NULL
   )`,
  `CREATE INDEX cdr_start ON cdr (start)`,
  `CREATE INDEX cdr_linkedid ON cdr (linkedid)`,
  // file is relative to DATA/voicemail, so a moved data directory keeps its messages.
  // ready = 0 while the WAV is being moved into place (see VoicemailStore.add).
  `CREATE TABLE voicemail (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     mailbox TEXT NOT NULL,
     folder TEXT NOT NULL,
     caller_number TEXT NOT NULL,
     caller_name TEXT NOT NULL,
     received INTEGER NOT NULL,
     duration REAL NOT NULL,
     file TEXT NOT NULL,
     emailed INTEGER NOT NULL DEFAULT 0,
     ready INTEGER NOT NULL DEFAULT 0
   )`,
  `CREATE INDEX voicemail_box ON voicemail (mailbox, folder, received)`,
  // configured = the PIN in switchboard.yaml when the user chose this one: editing it there resets the user's.
  `CREATE TABLE voicemail_pin (
     mailbox TEXT PRIMARY KEY,
     pin TEXT NOT NULL,
     configured TEXT NOT NULL,
     changed INTEGER NOT NULL
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

/**
 * Opens the database for reading only, for commands that look at it while a
 * server may be writing (WAL lets both run). Undefined when there is none yet.
 */
export function openDatabaseReadOnly(dataDir: string): Db | undefined {
  const file = path.join(dataDir, 'switchboard.db');
  if (!existsSync(file)) return undefined;
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 1000');
    return db;
  } catch (err) {
    throw new Error(`Cannot read database ${file}: ${(err as Error).message}`);
  }
}

/** Whether a table exists: a read-only reader cannot migrate a database the server has not upgraded yet. */
export function hasTable(db: Db, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
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
