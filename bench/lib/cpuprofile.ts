/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and ranks functions by self time:
 * where the process itself spent its CPU, which is where to optimise.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  /** "name (file:line)", file relative to `root`. */
  fn: string;
  selfMs: number;
  /** Share of the non-idle samples. */
  pct: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  top: SelfTime[];
}

function label(cf: CallFrame, root: string): string {
  const name = cf.functionName || '(anonymous)';
  if (!cf.url) return name;
  let file = cf.url.replace(/^file:\/\//, '');
  if (file.startsWith(root)) file = file.slice(root.length).replace(/^\//, '');
  // V8 lines are 0-based.
  return `${name} (${file}:${cf.lineNumber + 1})`;
}

/** A native function (no script URL: dgram's send, SQLite's run) is named with its JS caller, which says what it is. */
function nodeLabel(node: ProfileNode, parents: Map<number, ProfileNode>, root: string): string {
  const own = label(node.callFrame, root);
  if (node.callFrame.url || node.callFrame.functionName.startsWith('(')) return own;
  let up = parents.get(node.id);
  // Walk past other native frames; a call stack is finite, the cap guards a malformed file.
  for (let i = 0; up && !up.callFrame.url && i < 50; i++) up = parents.get(up.id);
  return up ? `${own} ← ${label(up.callFrame, root)}` : own;
}

export function summarizeProfile(file: string, root: string, topN = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>(p.nodes.map((n) => [n.id, n]));
  const parents = new Map<number, ProfileNode>();
  for (const n of p.nodes) for (const c of n.children ?? []) parents.set(c, n);
  const self = new Map<string, number>();
  let total = 0;
  let idle = 0;
  // timeDeltas[i] is the time before sample i, so the time spent in sample i is timeDeltas[i + 1].
  for (let i = 0; i < p.samples.length; i++) {
    const dtUs = p.timeDeltas[i + 1] ?? 0;
    const node = byId.get(p.samples[i]);
    if (!node) continue;
    total += dtUs;
    if (node.callFrame.functionName === '(idle)') {
      idle += dtUs;
      continue;
    }
    const key = nodeLabel(node, parents, root);
    self.set(key, (self.get(key) ?? 0) + dtUs);
  }
  const busy = total - idle;
  const top = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, topN)
    .map(([fn, us]) => ({ fn, selfMs: us / 1000, pct: busy > 0 ? (us / busy) * 100 : 0 }));
  return { totalMs: total / 1000, idleMs: idle / 1000, top };
}
