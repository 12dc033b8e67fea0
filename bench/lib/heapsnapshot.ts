/**
 * A summary of a V8 heap snapshot (the JSON v8.writeHeapSnapshot writes):
 * self size and count per constructor (objects) or per node type (strings,
 * arrays, code, native memory), largest first. That is enough to see what
 * a transaction, a binding or a trace entry costs without opening DevTools.
 */
import { readFileSync } from 'node:fs';

interface SnapshotJson {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapGroup {
  /** Constructor name for objects, "(type)" for everything else. */
  name: string;
  count: number;
  selfBytes: number;
}

export interface HeapSummary {
  totalBytes: number;
  nodes: number;
  groups: HeapGroup[];
}

export function summarizeHeapSnapshot(file: string, top = 25): HeapSummary {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as SnapshotJson;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const groups = new Map<string, HeapGroup>();
  let total = 0;
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]];
    const size = nodes[i + sizeAt];
    total += size;
    // Objects are grouped by constructor; strings, arrays, code and the rest by kind.
    const name = type === 'object' || type === 'closure' || type === 'native' ? `${snap.strings[nodes[i + nameAt]]}${type === 'object' ? '' : ` (${type})`}` : `(${type})`;
    let g = groups.get(name);
    if (!g) {
      g = { name, count: 0, selfBytes: 0 };
      groups.set(name, g);
    }
    g.count++;
    g.selfBytes += size;
  }
  const sorted = [...groups.values()].sort((a, b) => b.selfBytes - a.selfBytes);
  return { totalBytes: total, nodes: nodes.length / width, groups: sorted.slice(0, top) };
}

export function formatHeapSummary(s: HeapSummary): string[] {
  const lines = [`${(s.totalBytes / 2 ** 20).toFixed(1)} MB in ${s.nodes.toLocaleString('en-US')} objects; largest groups by self size:`];
  for (const g of s.groups) {
    const per = g.count ? g.selfBytes / g.count : 0;
    lines.push(`  ${(g.selfBytes / 2 ** 20).toFixed(1).padStart(7)} MB  ${g.count.toLocaleString('en-US').padStart(10)} x ${per.toFixed(0).padStart(6)} B  ${g.name.slice(0, 80)}`);
  }
  return lines;
}
