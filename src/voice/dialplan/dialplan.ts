/**
 * The compiled dialplan: contexts of extensions, each a verb list, found the
 * way Asterisk finds them. Within a context the most specific extension
 * wins (pattern.ts); when the context itself has no match its includes are
 * searched depth-first in the order written. `s`, `i`, `t` and `h` are
 * plain names: only an extension written exactly so runs for them, never a
 * pattern such as `_.`.
 */
import { ConfigError } from '../../config/reader.js';
import { PARK_CONTEXT, type OutboundRoute, type RawContext, type RawExtension, type RawStep } from '../../config/pbx-schema.js';
import type { Config } from '../../config/schema.js';
import type { Step } from '../verbs.js';
import { compileSteps, didYouMean, type CompileScope, type DialplanShape } from './compile.js';
import { canMatchLonger, comparePatterns, matches, parsePattern, PatternError, type Pattern } from './pattern.js';

/** Extensions only ever matched by an extension of exactly that name. */
const SPECIAL = new Set(['s', 'i', 't', 'h']);

/** What `find` returns: the extension that runs and where it was found. */
export interface DialplanMatch {
  /** The context the extension is in (an included one, when found there). */
  context: string;
  /** The extension as written: `_1XXX`, `500`, `s`. */
  pattern: string;
  steps: Step[];
  /** Where the extension is written (0 for generated ones such as the park slots). */
  line: number;
}

/** An outbound route chosen for a number, with the number as the trunk is to be given it. */
export interface RouteMatch {
  route: OutboundRoute;
  /** After `strip` and `prepend`. */
  number: string;
}

interface Extension {
  pattern: Pattern;
  steps: Step[];
  line: number;
}

interface Context {
  name: string;
  includes: string[];
  exact: Map<string, Extension>;
  /** Most specific first. */
  patterns: Extension[];
}

export class Dialplan implements DialplanShape {
  private readonly contextsByName = new Map<string, Context>();
  private readonly after = new Map<string, Step[]>();
  private readonly routes: { route: OutboundRoute; patterns: Pattern[] }[] = [];

  hasContext(name: string): boolean {
    return this.contextsByName.has(name);
  }

  /** Context names in the order written (the generated `parkedcalls` last). */
  contexts(): string[] {
    return [...this.contextsByName.keys()];
  }

  /** The extension that runs when `exten` is dialled in `context`, or undefined when nothing matches. */
  find(context: string, exten: string): DialplanMatch | undefined {
    return this.search(context, exten, new Set());
  }

  hasExtension(context: string, exten: string): boolean {
    return this.find(context, exten) !== undefined;
  }

  /**
   * Whether a longer number starting with `prefix` could still match in
   * `context` (or its includes): a gather collecting an IVR choice keeps
   * waiting for more keys while this is true.
   */
  canMatchMore(context: string, prefix: string): boolean {
    return this.anyContext(context, new Set(), (c) => {
      for (const [name, ext] of c.exact) if (!SPECIAL.has(name) && canMatchLonger(ext.pattern, prefix)) return true;
      return c.patterns.some((ext) => canMatchLonger(ext.pattern, prefix));
    });
  }

  /** Whether some context runs `exten`: calls to such numbers go to the PBX rather than straight to a phone. */
  knows(exten: string): boolean {
    if (SPECIAL.has(exten)) return false;
    for (const c of this.contextsByName.values()) {
      // The gateway's context matches every number; it runs only the calls the gateway takes.
      if (c.name === GATEWAY_CONTEXT) continue;
      if (c.exact.has(exten) || c.patterns.some((e) => matches(e.pattern, exten))) return true;
    }
    return false;
  }

  /**
   * Whether a caller whose calls start in `context` may dial `number`: some
   * extension of the context or of what it includes matches it. This is the
   * class of service: international (`_00.`, `_011.`) or premium numbers are
   * reachable only from contexts that include a context matching them.
   */
  reaches(context: string, number: string): boolean {
    return !SPECIAL.has(number) && this.find(context, number) !== undefined;
  }

  /** The compiled steps a queue runs after max_wait, or when no member is logged in (empty when none). */
  queueAfter(name: string): Step[] {
    return this.after.get(name) ?? [];
  }

  /** The first outbound route (in the order written) with a pattern matching `number`. */
  route(number: string): RouteMatch | undefined {
    for (const r of this.routes) {
      if (r.patterns.some((p) => matches(p, number))) {
        return { route: r.route, number: r.route.prepend + number.slice(r.route.strip) };
      }
    }
    return undefined;
  }

  private search(name: string, exten: string, seen: Set<string>): DialplanMatch | undefined {
    if (seen.has(name)) return undefined;
    seen.add(name);
    const c = this.contextsByName.get(name);
    if (!c) return undefined;
    const exact = c.exact.get(exten);
    const hit = exact ?? (SPECIAL.has(exten) ? undefined : c.patterns.find((e) => matches(e.pattern, exten)));
    if (hit) return { context: name, pattern: hit.pattern.text, steps: hit.steps, line: hit.line };
    for (const inc of c.includes) {
      const found = this.search(inc, exten, seen);
      if (found) return found;
    }
    return undefined;
  }

  private anyContext(name: string, seen: Set<string>, test: (c: Context) => boolean): boolean {
    if (seen.has(name)) return false;
    seen.add(name);
    const c = this.contextsByName.get(name);
    if (!c) return false;
    return test(c) || c.includes.some((inc) => this.anyContext(inc, seen, test));
  }

  /** @internal */
  addContext(c: Context): void {
    this.contextsByName.set(c.name, c);
  }

  /** @internal */
  setQueueAfter(name: string, steps: Step[]): void {
    this.after.set(name, steps);
  }

  /** @internal */
  addRoute(route: OutboundRoute, patterns: Pattern[]): void {
    this.routes.push({ route, patterns });
  }
}

/**
 * The WebRTC gateway's calls (a browser to a phone, a phone to a browser):
 * the number is rung as dialled, the two legs bridged.
 */
export const GATEWAY_CONTEXT = 'webrtc-gateway';

function gatewayContext(): RawContext {
  const dial: RawStep = { name: 'dial', args: { to: '${EXTEN}', timeout: 60 }, line: 0 };
  return { name: GATEWAY_CONTEXT, include: [], extensions: [{ pattern: '_.', steps: [dial], line: 0 }], line: 0 };
}

/** `parkedcalls` as Asterisk has it: the park code and one extension per slot. */
function parkContext(config: Config): RawContext {
  const { exten, first, last } = config.pbx.park;
  const extensions: RawExtension[] = [{ pattern: exten, steps: [{ name: 'park', args: undefined, line: 0 }], line: 0 }];
  const width = String(last).length;
  for (let n = first; n <= last; n++) {
    const slot = String(n).padStart(width, '0');
    extensions.push({ pattern: slot, steps: [{ name: 'parked_call', args: slot, line: 0 }], line: 0 });
  }
  return { name: PARK_CONTEXT, include: [], extensions, line: 0 };
}

/**
 * Compiles and checks the whole dialplan of a config (contexts, includes,
 * patterns, every step, each queue's `after` steps, the outbound routes'
 * patterns). Throws ConfigError naming the file and line of the first problem.
 */
/** Browsers register over ws:/wss: listeners; their calls cross the gateway unless `webrtc.gateway: false`. */
export function gatewayEnabled(config: Config): boolean {
  return config.webrtc.gateway && config.sip.listen.some((l) => l.proto === 'ws' || l.proto === 'wss');
}

export function compileDialplan(config: Config): Dialplan {
  const file = config.file ?? 'switchboard.yaml';
  const raw = [...config.pbx.dialplan.values()];
  // Only a config with a dialplan gets the park extensions: without one every call stays phone to phone.
  if (raw.length > 0 && !config.pbx.dialplan.has(PARK_CONTEXT)) raw.push(parkContext(config));
  if (gatewayEnabled(config)) raw.push(gatewayContext());
  const dialplan = new Dialplan();
  const pending: { ext: Extension; raw: RawStep[]; where: string }[] = [];

  for (const rc of raw) {
    const ctx: Context = { name: rc.name, includes: rc.include.map((i) => i.name), exact: new Map(), patterns: [] };
    for (const re of rc.extensions) {
      let pattern: Pattern;
      try {
        pattern = parsePattern(re.pattern);
      } catch (err) {
        if (!(err instanceof PatternError)) throw err;
        throw new ConfigError(file, re.line, `dialplan.${rc.name}.${re.pattern}`, `bad extension pattern: ${err.message}`);
      }
      const ext: Extension = { pattern, steps: [], line: re.line };
      if (pattern.exact) ctx.exact.set(pattern.text, ext);
      else ctx.patterns.push(ext);
      pending.push({ ext, raw: re.steps, where: `dialplan.${rc.name}.${re.pattern}` });
    }
    // Stable: patterns that tie keep the order they were written in.
    ctx.patterns.sort((a, b) => comparePatterns(a.pattern, b.pattern));
    dialplan.addContext(ctx);
  }

  for (const rc of raw) {
    for (const inc of rc.include) {
      if (!dialplan.hasContext(inc.name)) {
        const guess = didYouMean(inc.name, dialplan.contexts());
        throw new ConfigError(
          file,
          inc.line,
          `dialplan.${rc.name}.include`,
          `no context "${inc.name}" to include${guess ? ` (did you mean ${guess}?)` : ''}; contexts: ${dialplan.contexts().join(', ')}`,
        );
      }
      if (inc.name === rc.name) throw new ConfigError(file, inc.line, `dialplan.${rc.name}.include`, 'a context cannot include itself');
    }
  }

  const scope: CompileScope = { config, dialplan, file };
  for (const p of pending) p.ext.steps.push(...compileSteps(p.raw, scope, p.where));
  for (const q of config.pbx.queues.values()) dialplan.setQueueAfter(q.name, compileSteps(q.after, scope, `queues.${q.name}.after`));

  config.pbx.routes.forEach((route, i) => {
    const patterns = route.patterns.map((text) => {
      try {
        return parsePattern(text);
      } catch (err) {
        if (!(err instanceof PatternError)) throw err;
        throw new ConfigError(file, route.line, `routes.${i}.patterns`, `bad pattern: ${err.message}`);
      }
    });
    dialplan.addRoute(route, patterns);
  });
  return dialplan;
}
