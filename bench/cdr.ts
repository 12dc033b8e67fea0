/**
 * CDR store: time per insert (each its own committed transaction, as at the
 * end of a call) and query times over a table of 100,000 rows spread over 30
 * days, in a scratch data directory.
 *
 *   npx tsx bench/cdr.ts           (or node dist/bench/cdr.js after npm run build)
 *   npx tsx bench/cdr.ts 300000    more rows
 *
 * A benchmark, not a test: nothing here fails on a number.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CdrStore, cdrTimes, DISPOSITIONS, type CdrQuery } from '../src/store/cdr.js';
import { openDatabase } from '../src/store/db.js';

const rows = Number(process.argv[2] ?? 100_000);
const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-bench-cdr-'));
const db = openDatabase(dir);
const store = new CdrStore(db);
const DAY = 86_400_000;
const end = Date.UTC(2026, 11, 4);
const start = end - 30 * DAY;

const insertUs: number[] = [];
for (let i = 0; i < rows; i++) {
  const t = start + Math.floor((i / rows) * 30 * DAY);
  const answered = i % 4 !== 0;
  const row = {
    uniqueid: `${Math.floor(t / 1000)}.${i}`,
    linkedid: `${Math.floor(t / 1000)}.${i - (i % 2)}`,
    ...cdrTimes(t, answered ? t + 4000 : undefined, t + 4000 + (i % 600) * 1000),
    disposition: answered ? DISPOSITIONS[0] : DISPOSITIONS[1 + (i % 3)],
    src: String(1000 + (i % 50)),
    dst: String(1000 + ((i * 7) % 50)),
    context: 'internal',
    channel: `PJSIP/${1000 + (i % 50)}-${i.toString(16).padStart(8, '0')}`,
    dstchannel: `PJSIP/${1000 + ((i * 7) % 50)}-${(i + 1).toString(16).padStart(8, '0')}`,
    lastapp: 'dial',
    trunk: i % 10 === 0 ? 'carrier' : '',
  };
  const t0 = performance.now();
  store.insert(row);
  insertUs.push((performance.now() - t0) * 1000);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

function timeQuery(q: CdrQuery): { ms: number; n: number } {
  store.query(q); // warm the page cache and the statement
  const runs = 5;
  let n = 0;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) n = store.query(q).length;
  return { ms: (performance.now() - t0) / runs, n };
}

const queries: [string, CdrQuery][] = [
  ['newest 100 (the table)', { limit: 100 }],
  ['--since 1d', { since: end - DAY }],
  ['--src 1001 --limit 100', { src: '1001', limit: 100 }],
  ['--disposition BUSY (all)', { disposition: 'BUSY' }],
  ['--since 7d --dst 1002', { since: end - 7 * DAY, dst: '1002' }],
  ['everything (--json/--csv)', {}],
];

console.log(`CDR store, ${rows} rows, ${(statSync(path.join(dir, 'switchboard.db')).size / 1e6).toFixed(1)} MB database (+ WAL)`);
console.log(`insert: mean ${(insertUs.reduce((a, b) => a + b, 0) / insertUs.length).toFixed(1)} µs, p50 ${pct(insertUs, 50).toFixed(1)} µs, p99 ${pct(insertUs, 99).toFixed(1)} µs, max ${Math.max(...insertUs).toFixed(0)} µs`);
console.log('query                          rows       ms');
for (const [name, q] of queries) {
  const r = timeQuery(q);
  console.log(`${name.padEnd(30)} ${String(r.n).padStart(6)} ${r.ms.toFixed(2).padStart(8)}`);
}
db.close();
rmSync(dir, { recursive: true, force: true });
