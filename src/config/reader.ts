/**
 * Typed look-ups in a parsed switchboard.yaml that fail with the file, the
 * line and the full key, because a user fixing a config reads nothing else.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair } from 'yaml';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly key: string,
    detail: string,
  ) {
    super(`${file}:${line}: ${key}: ${detail}`);
    this.name = 'ConfigError';
  }
}

export type KeyPath = (string | number)[];

/** Something values can be looked up in by path: the whole document or one mapping inside it. */
interface Root {
  getIn(path: Iterable<unknown>, keepScalar?: boolean): unknown;
}

/** One `key: value` of a mapping, with the nodes errors point at. */
export interface Entry {
  key: string;
  keyNode: Node;
  /** Undefined for `key:` with nothing after it. */
  value: Node | undefined;
}

/**
 * The text of a key or scalar as the user meant it. YAML reads `007`, `0171`
 * and `+4930` as numbers, which would turn extension 007 into 7 and drop a
 * DID's plus: numbers keep the characters they were written with.
 */
function scalarText(node: Node | undefined): string | undefined {
  if (!isScalar(node)) return undefined;
  if (typeof node.value === 'number') return node.source ?? String(node.value);
  return typeof node.value === 'string' ? node.value : undefined;
}

/** A number written like a phone number (`+49...`, `0171...`) stays text; other numbers stay numbers. */
function looksLikeNumberText(source: string | undefined): boolean {
  return source !== undefined && /^(\+\d|0\d)/.test(source);
}

export function keyName(pair: Pair): string {
  const k = pair.key as Node | null;
  return scalarText(k ?? undefined) ?? String(isScalar(k) ? k.value : k);
}

export class Reader {
  constructor(
    readonly file: string,
    private readonly root: Root,
    private readonly lines: LineCounter,
    /** Path of `root` in the document, so errors name the full key. */
    private readonly prefix: KeyPath = [],
    private readonly rootNode?: Node,
    private readonly doc: Document = root as unknown as Document,
  ) {}

  /** A reader for the mapping at `keyPath`: lookups inside it no longer scan its parents. */
  at(keyPath: KeyPath, node: Node): Reader {
    return new Reader(this.file, node as unknown as Root, this.lines, [...this.prefix, ...keyPath], node, this.doc);
  }

  /** The full key of `keyPath` as errors print it (`users.1001.voicemail.pin`). */
  keyOf(keyPath: KeyPath): string {
    return [...this.prefix, ...keyPath].join('.');
  }

  /** The line a node starts on (1 when it has no position). */
  lineOf(node: Node | undefined | null): number {
    const offset = node?.range?.[0];
    return offset === undefined ? 1 : this.lines.linePos(offset).line;
  }

  /** The line of the value at `keyPath`, or of its nearest parent that exists. */
  lineAt(keyPath: KeyPath): number {
    for (let n = keyPath.length; n >= 0; n--) {
      const node = this.node(keyPath.slice(0, n)) as Node | undefined;
      if (node?.range) return this.lineOf(node);
    }
    return 1;
  }

  fail(keyPath: KeyPath, detail: string, at?: Node): never {
    const line = at?.range ? this.lineOf(at) : this.lineAt(keyPath);
    throw new ConfigError(this.file, line, this.keyOf(keyPath), detail);
  }

  node(keyPath: KeyPath): unknown {
    if (keyPath.length === 0) return this.rootNode ?? this.doc.contents;
    return this.root.getIn(keyPath, true);
  }

  get(keyPath: KeyPath): unknown {
    return this.root.getIn(keyPath);
  }

  /** Whether the key is written at all (with a value other than nothing). */
  has(keyPath: KeyPath): boolean {
    const v = this.get(keyPath);
    return v !== undefined && v !== null;
  }

  string(keyPath: KeyPath, def?: string): string | undefined {
    const v = this.get(keyPath);
    if (v === undefined || v === null) return def;
    if (typeof v === 'number') return scalarText(this.node(keyPath) as Node) ?? String(v);
    if (typeof v !== 'string') this.fail(keyPath, `expected a string, got ${describe(v)}`);
    return v;
  }

  int(keyPath: KeyPath, def: number, min: number, max: number): number {
    const v = this.get(keyPath);
    if (v === undefined || v === null) return def;
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(keyPath, `expected a whole number, got ${describe(v)}`);
    if (v < min || v > max) this.fail(keyPath, `must be between ${min} and ${max}, got ${v}`);
    return v;
  }

  keys(keyPath: KeyPath, allowed: Set<string>): string[] {
    return this.entries(keyPath, allowed).map((e) => e.key);
  }

  /**
   * The items of the mapping at `keyPath` in the order written, after
   * refusing duplicates and (when `allowed` is not empty) unknown keys.
   */
  entries(keyPath: KeyPath, allowed: Set<string> = new Set()): Entry[] {
    const node = this.node(keyPath);
    if (node === undefined || node === null) return [];
    if (!isMap(node)) this.fail(keyPath, 'expected a mapping (key: value)');
    const out: Entry[] = [];
    const seen = new Set<string>();
    for (const item of node.items) {
      const k = keyName(item);
      const keyNode = item.key as Node;
      if (seen.has(k)) this.fail([...keyPath, k], 'duplicate key: it is given twice in this mapping', keyNode);
      seen.add(k);
      if (allowed.size && !allowed.has(k)) {
        this.fail([...keyPath, k], `unknown key; expected one of ${[...allowed].join(', ')}`, keyNode);
      }
      out.push({ key: k, keyNode, value: (item.value ?? undefined) as Node | undefined });
    }
    return out;
  }

  bool(keyPath: KeyPath, def: boolean): boolean {
    const v = this.get(keyPath);
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') this.fail(keyPath, `expected true or false, got ${describe(v)}`);
    return v;
  }

  /** One of a fixed set of words. */
  choice<T extends string>(keyPath: KeyPath, allowed: readonly T[], def: T): T {
    const v = this.get(keyPath);
    if (v === undefined || v === null) return def;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.fail(keyPath, `expected one of ${allowed.join(', ')}, got ${describe(v)}`);
    }
    return v as T;
  }

  /** A mapping that may also be written `false` or `off` to turn the feature off; undefined when off. */
  optionalSection(keyPath: KeyPath): 'off' | 'absent' | 'present' {
    const v = this.get(keyPath);
    if (v === undefined || v === null) return 'absent';
    if (v === false || v === 'off') return 'off';
    return 'present';
  }

  /** A string or a list of strings. */
  strings(keyPath: KeyPath): string[] {
    const v = this.get(keyPath);
    if (v === undefined || v === null) return [];
    if (typeof v === 'string' || typeof v === 'number') return [this.string(keyPath) as string];
    return (this.list(keyPath) ?? []).map((_, i) => {
      const s = this.string([...keyPath, i]);
      if (s === undefined) this.fail([...keyPath, i], 'expected a string, got nothing');
      return s;
    });
  }

  list(keyPath: KeyPath): unknown[] | undefined {
    const node = this.node(keyPath);
    if (node === undefined || node === null) return undefined;
    if (!isSeq(node)) this.fail(keyPath, 'expected a list (- item)');
    return node.toJSON() as unknown[];
  }

  /**
   * The plain value of a node (mappings as objects, lists as arrays), with
   * numbers written like phone numbers kept as the text written.
   */
  data(node: Node | undefined | null): unknown {
    if (node === undefined || node === null) return undefined;
    if (isAlias(node)) return this.data(node.resolve(this.doc) as Node | undefined);
    if (isScalar(node)) {
      if (typeof node.value === 'number' && looksLikeNumberText(node.source)) return node.source;
      return node.value;
    }
    if (isSeq(node)) return node.items.map((n) => this.data(n as Node));
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const item of node.items) out[keyName(item)] = this.data(item.value as Node | null);
      return out;
    }
    return undefined;
  }
}

export function describe(v: unknown): string {
  if (v === null) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}
