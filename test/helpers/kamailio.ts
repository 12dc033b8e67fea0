/**
 * Kamailio 5.6 (Debian) as a real registrar for interop tests: digest
 * authentication from a db_text `subscriber` table (plain passwords, HA1
 * computed per request), an in-memory location table, and INVITEs to a
 * registered user relayed to its binding, so two phones registered here can
 * call each other. Runs in the foreground (-DD -E) on 127.0.0.1 over UDP with
 * a bounded lifetime; who is registered is read with `kamcmd ul.dump` over a
 * unix control socket in the temp dir.
 *
 * bench/lib/targets.ts starts a differently tuned Kamailio (htable passwords,
 * tlsf allocator, many workers) for throughput; this one favours a readable
 * log and the stock auth_db path a real deployment uses.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { realClock, type Clock } from '../../src/util/clock.js';
import { freePort, isPortFree } from './ports.js';
import { sleep, spawnBounded, type Exited } from './process.js';

export interface KamailioRegistrarOptions {
  /** user -> plain password; these users may REGISTER. */
  users: Record<string, string>;
  /** UDP port on 127.0.0.1; a free one when omitted (pass one below 10000 for sipsak, which cuts 5-digit ports). */
  port?: number;
  /** Realm of the challenges and the domain column of the subscriber rows (default 127.0.0.1). */
  domain?: string;
  /** Also demand credentials (407) on INVITEs from outside (default false: only REGISTER is challenged). */
  authInvite?: boolean;
  /** Kamailio's `debug` level (default 2 = info; 3 logs every request). */
  debug?: number;
  /** Killed after this long no matter what (default 10 min). */
  lifetimeMs?: number;
  /** Another kamailio.cfg than the registrar's (a carrier, say), built from the same facts. */
  config?: (p: KamailioConfigParams) => string;
  /** How long start waits for the UDP listener (default 15 s). */
  startTimeoutMs?: number;
  clock?: Clock;
}

export interface KamailioBinding {
  /** The address-of-record key (the user: use_domain is off). */
  aor: string;
  /** Contact URI as registered. */
  contact: string;
  /** Seconds until it expires, as Kamailio reports it. */
  expires: number;
  /** Source the REGISTER came from, e.g. udp:127.0.0.1:5070 (the `received` address when rport moved it). */
  received?: string;
  userAgent?: string;
}

export interface KamailioRegistrar {
  /** host:port of the UDP listener, e.g. '127.0.0.1:5080'. */
  sip: string;
  port: number;
  domain: string;
  /** The temp dir holding kamailio.cfg, the db_text tables and the ctl socket. */
  dir: string;
  /** Current bindings (kamcmd ul.dump). */
  bindings(): Promise<KamailioBinding[]>;
  /** Bindings of one user; empty when it is not registered. */
  lookup(user: string): Promise<KamailioBinding[]>;
  /** kamcmd with these arguments against this instance; its stdout. */
  kamcmd(...args: string[]): Promise<string>;
  /** stderr + stdout so far (Kamailio logs to stderr with -E). */
  log(): string;
  /** Resolves with the first log line matching `re` (searching the whole log). */
  waitForLog(re: RegExp, timeoutMs: number): Promise<string>;
  /** SIGTERM, SIGKILL after 5 s; removes the temp dir. */
  stop(): Promise<Exited>;
}

export function kamailioBinary(): string | undefined {
  for (const p of ['/usr/sbin/kamailio', '/usr/local/sbin/kamailio', '/sbin/kamailio']) if (existsSync(p)) return p;
  return undefined;
}

/** Where Debian (or a source install) keeps Kamailio's modules. */
export function kamailioModulePath(): string {
  const candidates = [
    '/usr/lib/x86_64-linux-gnu/kamailio/modules',
    '/usr/lib/aarch64-linux-gnu/kamailio/modules',
    '/usr/lib/kamailio/modules',
    '/usr/local/lib64/kamailio/modules',
    '/usr/local/lib/kamailio/modules',
  ];
  const found = candidates.find((d) => existsSync(path.join(d, 'tm.so')));
  if (!found) throw new Error(`Kamailio modules (tm.so) not found in ${candidates.join(', ')}`);
  return found;
}

function kamcmdBinary(): string {
  for (const p of ['/usr/sbin/kamcmd', '/usr/local/sbin/kamcmd', '/sbin/kamcmd']) if (existsSync(p)) return p;
  return 'kamcmd';
}

/** db_text rejects ':' and newlines inside a value; a test's user names never need them. */
function dbTextValue(s: string, what: string): string {
  if (/[:\n\r\\]/.test(s) || s.length === 0) throw new Error(`${what} ${JSON.stringify(s)} cannot go into a db_text row`);
  return s;
}

/**
 * db_text tables: the first line names and types each column, every other
 * line is one row, columns separated by ':'. auth_db checks the subscriber
 * table's version (7 in 5.6) in the `version` table before it starts.
 */
export function subscriberTables(users: Record<string, string>, domain: string): { version: string; subscriber: string } {
  const rows = Object.entries(users).map(
    ([user, pass], i) => `${i + 1}:${dbTextValue(user, 'user')}:${dbTextValue(domain, 'domain')}:${dbTextValue(pass, 'password')}::`,
  );
  return {
    version: ['id(int,auto) table_name(string) table_version(int)', '1:version:1', '2:subscriber:7', ''].join('\n'),
    subscriber: ['id(int,auto) username(string) domain(string) password(string) ha1(string,null) ha1b(string,null)', ...rows, ''].join('\n'),
  };
}

/** What a kamailio.cfg for this helper is made from. */
export interface KamailioConfigParams {
  port: number;
  domain: string;
  /** db_text folder with the version and subscriber tables. */
  dbDir: string;
  ctlSocket: string;
  /** Module folder. */
  mpath: string;
  authInvite: boolean;
  debug: number;
}

export function registrarConfig(o: KamailioConfigParams): string {
  return `#!KAMAILIO
debug=${o.debug}
log_stderror=yes
log_prefix="{$mt $hdr(CSeq) $ci} "
children=2
disable_tcp=yes
auto_aliases=no
listen=udp:127.0.0.1:${o.port}
# Only our own port is "myself": the phones live on 127.0.0.1 too.
alias="${o.domain}:${o.port}"
dns=no
rev_dns=no
use_dns_cache=off
# Every reply goes back to the source address and port, NAT or not.
force_rport=yes

mpath="${o.mpath}"

loadmodule "ctl.so"
loadmodule "db_text.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
loadmodule "nathelper.so"
loadmodule "xlog.so"

modparam("ctl", "binrpc", "unix:${o.ctlSocket}")
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 3600)
# Short registrations (refresh tests) are granted as asked, not raised to the 60 s default.
modparam("registrar", "min_expires", 5)
modparam("registrar", "default_expires", 300)
modparam("auth_db", "db_url", "text://${o.dbDir}")
modparam("auth_db", "calculate_ha1", yes)
modparam("auth_db", "password_column", "password")
modparam("auth_db", "load_credentials", "")
modparam("auth_db", "use_domain", 0)
# A 401/407 from auth_challenge carries qop=auth.
modparam("auth", "qop", "auth")
modparam("nathelper", "received_avp", "$avp(RECEIVED)")
modparam("registrar", "received_avp", "$avp(RECEIVED)")

request_route {
	if (!mf_process_maxfwd_header("70")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	force_rport();

	if (has_totag()) {
		if (loose_route()) {
			xlog("L_NOTICE", "in-dialog $rm routed to $ru\\n");
			t_relay();
			exit;
		}
		if (is_method("ACK")) {
			if (t_check_trans()) t_relay();
			exit;
		}
		sl_send_reply("404", "Not Here");
		exit;
	}

	if (is_method("CANCEL")) {
		if (t_check_trans()) t_relay();
		exit;
	}
	t_check_trans();

	if (is_method("REGISTER")) {
		if (!auth_check("${o.domain}", "subscriber", "1")) {
			xlog("L_NOTICE", "REGISTER from $fu not authorized ($rc), challenging\\n");
			auth_challenge("${o.domain}", "1");
			exit;
		}
		consume_credentials();
		# Remember the real source so lookup() sends INVITEs where the phone is.
		fix_nated_register();
		if (!save("location")) {
			sl_reply_error();
			exit;
		}
		xlog("L_NOTICE", "REGISTER saved $tu -> $ct\\n");
		exit;
	}

	if (!uri == myself) {
		sl_send_reply("403", "Relaying Denied");
		exit;
	}
	if (${o.authInvite ? 1 : 0} && is_method("INVITE")) {
		if (!auth_check("${o.domain}", "subscriber", "1")) {
			auth_challenge("${o.domain}", "1");
			exit;
		}
		consume_credentials();
	}
	if (is_method("INVITE|SUBSCRIBE|REFER")) record_route();
	if (!lookup("location")) {
		xlog("L_NOTICE", "$rm to $ru: not registered\\n");
		sl_send_reply("404", "Not Found");
		exit;
	}
	xlog("L_NOTICE", "$rm relayed to $ru via $du\\n");
	if (!t_relay()) sl_reply_error();
	exit;
}
`;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/**
 * Parses `kamcmd ul.dump` text: nested `{ ... }` blocks of `Key: value`
 * lines. Each `AoR:` opens a record; each `Contact:` line inside starts a
 * binding whose following `Expires`, `Received`, `User-Agent` lines belong to it.
 */
export function parseUlDump(text: string): KamailioBinding[] {
  const out: KamailioBinding[] = [];
  let aor = '';
  let cur: KamailioBinding | null = null;
  for (const raw of text.split('\n')) {
    const m = /^\s*([A-Za-z-]+):\s*(.*?)\s*$/.exec(raw);
    if (!m) continue;
    const [, key, value] = m;
    if (key === 'AoR') {
      aor = value;
      cur = null;
    } else if (key === 'Address') {
      cur = { aor, contact: value, expires: 0 };
      out.push(cur);
    } else if (cur && key === 'Expires') {
      cur.expires = Number(value);
    } else if (cur && key === 'Received') {
      if (value && value !== '[not set]') cur.received = value;
    } else if (cur && key === 'User-Agent') {
      if (value && value !== '[not set]') cur.userAgent = value;
    }
  }
  return out;
}

export async function startKamailioRegistrar(o: KamailioRegistrarOptions): Promise<KamailioRegistrar> {
  const bin = kamailioBinary();
  if (!bin) throw new Error('kamailio is not installed (Debian package "kamailio")');
  const clock = o.clock ?? realClock;
  const domain = o.domain ?? '127.0.0.1';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kamailio-reg-'));
  const dbDir = path.join(dir, 'db');
  await mkdir(dbDir);
  const tables = subscriberTables(o.users, domain);
  await writeFile(path.join(dbDir, 'version'), tables.version);
  await writeFile(path.join(dbDir, 'subscriber'), tables.subscriber);
  const port = o.port ?? (await freePort('udp'));
  const ctlSocket = path.join(dir, 'ctl.sock');
  const cfg = path.join(dir, 'kamailio.cfg');
  const params: KamailioConfigParams = { port, domain, dbDir, ctlSocket, mpath: kamailioModulePath(), authInvite: o.authInvite ?? false, debug: o.debug ?? 2 };
  await writeFile(cfg, (o.config ?? registrarConfig)(params));

  let logText = '';
  const logWaiters = new Set<() => void>();
  const onOutput = (chunk: string): void => {
    logText += chunk;
    if (logText.length > 4 * 1024 * 1024) logText = logText.slice(-2 * 1024 * 1024);
    for (const w of [...logWaiters]) w();
  };
  // -DD: stay in the foreground (no fork to background); -E: log to stderr; small memory pools.
  const spawned = spawnBounded(bin, ['-f', cfg, '-DD', '-E', '-m', '64', '-M', '8', '-Y', dir, '-P', path.join(dir, 'kamailio.pid')], {
    cwd: dir,
    deadlineMs: o.lifetimeMs ?? 10 * 60_000,
    clock,
    onStdout: onOutput,
  });
  spawned.child.stderr!.on('data', (c: string) => onOutput(c));
  const exited: { e: Exited | null } = { e: null };
  spawned.onExit((e) => {
    exited.e = e;
    for (const w of [...logWaiters]) w();
  });

  const kamcmd = (...args: string[]): Promise<string> => run(kamcmdBinary(), ['-s', `unix:${ctlSocket}`, ...args], 5000);

  // Up when the UDP port is taken and the control socket answers (both happen after the modules loaded).
  const deadline = clock.now() + (o.startTimeoutMs ?? 15_000);
  for (;;) {
    if (exited.e) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`kamailio exited at start (${exited.e.exitCode}):\n${logText.slice(-3000)}`);
    }
    if (!(await isPortFree(port, 'udp')) && existsSync(ctlSocket)) {
      const ok = await kamcmd('core.version').then(
        () => true,
        () => false,
      );
      if (ok) break;
    }
    if (clock.now() > deadline) {
      await spawned.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`kamailio did not come up on udp 127.0.0.1:${port}:\n${logText.slice(-3000)}`);
    }
    await sleep(100, clock);
  }

  const bindings = async (): Promise<KamailioBinding[]> => parseUlDump(await kamcmd('ul.dump'));

  return {
    sip: `127.0.0.1:${port}`,
    port,
    domain,
    dir,
    bindings,
    async lookup(user) {
      return (await bindings()).filter((b) => b.aor === user || b.aor.startsWith(`${user}@`));
    },
    kamcmd,
    log: () => logText,
    waitForLog(re, timeoutMs) {
      const flat = new RegExp(re.source, re.flags.replace('g', ''));
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const line = logText.split('\n').find((l) => flat.test(l));
          if (line === undefined) return false;
          logWaiters.delete(check);
          timer.cancel();
          resolve(line);
          return true;
        };
        const timer = clock.setTimer(timeoutMs, () => {
          logWaiters.delete(check);
          reject(new Error(`kamailio: no log line ${re} in ${timeoutMs} ms; tail:\n${logText.slice(-2000)}`));
        });
        if (!check()) logWaiters.add(check);
      });
    },
    async stop() {
      const e = await spawned.kill('SIGTERM', 5000);
      await rm(dir, { recursive: true, force: true });
      return e;
    },
  };
}
