/** `switchboard serve`: start the platform and print a banner a newcomer can act on. */
import path from 'node:path';
import { loadConfigFile } from '../config/load.js';
import { CERT_FILE_NAME } from '../sip/transport/index.js';
import { DEMO_NUMBERS, demoConfig } from '../config/demo.js';
import type { Config, LogLevel } from '../config/schema.js';
import { installCrashHandlers } from './crash.js';
import { createLogger } from './log.js';
import { hostPort } from '../util/listen.js';
import { ListenError } from '../sip/transport/errors.js';
import { startServer, VERSION } from './server.js';

export interface ServeOptions {
  config?: string;
  data: string;
  traceSip?: boolean;
  /** Overrides log.level of the config. */
  logLevel?: LogLevel;
}

export async function runServe(opts: ServeOptions): Promise<void> {
  let config: Config;
  let generated = new Map<string, string>();
  let passwordFile: string | undefined;
  if (opts.config) {
    config = loadConfigFile(opts.config);
  } else {
    const demo = demoConfig(opts.data);
    config = demo.config;
    generated = demo.generated;
    passwordFile = demo.passwordFile;
  }
  const log = createLogger({ level: opts.logLevel ?? config.log.level });
  const toTerminal = process.stdout.isTTY === true;
  let server;
  try {
    server = await startServer(config, {
      log,
      // On a terminal the messages are printed as they are; to a file they are log records like every other line.
      traceSip: opts.traceSip
        ? toTerminal
          ? (line) => process.stdout.write(line + '\n')
          : (line) => {
              // The arrow line (direction, peer, size) is the record's msg; the message itself its `sip` field.
              const nl = line.indexOf('\n');
              log.info({ sip: line.slice(nl + 1) }, line.slice(0, nl));
            }
        : undefined,
    });
  } catch (err) {
    const msg = err instanceof ListenError ? listenAdvice(err, opts.config !== undefined) : (err as Error).message;
    if (!opts.config && /in use/.test(msg)) {
      // The demo has no switchboard.yaml to edit: say how to get one.
      throw new Error(
        `${msg}\n` +
          'The demo office uses UDP/TCP 5060, TLS 5061 and admin 8089. To use other ports, copy the example config ' +
          'from the README into switchboard.yaml, change sip.listen / admin.listen, and run: switchboard serve --config switchboard.yaml',
        { cause: err },
      );
    }
    if (err instanceof ListenError) throw new Error(msg, { cause: err });
    throw err;
  }

  const out: string[] = [];
  out.push(`Switchboard ${VERSION} — ${opts.config ? `config ${opts.config}` : 'demo office (no --config given)'}`);
  out.push(`  SIP domain  ${config.domain}`);
  out.push(`  listening   ${server.endpoints.map((e) => `${e.proto} ${hostPort(e)}`).join(', ')}`);
  out.push(`  admin       http://${hostPort(server.admin)}  (switchboard status)`);
  for (const e of server.endpoints.filter((x) => x.proto === 'ws' || x.proto === 'wss')) {
    // A browser grants the microphone only to https: pages or to this machine's own address.
    const host = e.address === '0.0.0.0' || e.address === '::' ? '127.0.0.1' : e.address;
    out.push(`  phone       ${e.proto === 'wss' ? 'https' : 'http'}://${hostPort({ address: host, port: e.port })}/phone/  (the browser phone)`);
  }
  out.push(`  data        ${config.data}`);
  if (!opts.config) {
    out.push('');
    out.push('  Extensions:');
    for (const [user, u] of config.users) {
      const shown = generated.has(user) ? `password ${u.password}` : `password in ${passwordFile}`;
      out.push(`    ${user}  ${shown}`);
    }
    if (generated.size) out.push(`  (passwords are shown once; they are kept in ${passwordFile})`);
    const udp = server.endpoints.find((e) => e.proto === 'udp');
    const port = udp?.port ?? 5060;
    out.push('');
    out.push('  Register a softphone (Linphone, Zoiper, baresip, a desk phone):');
    out.push(`    username 1001, password as above, domain ${config.domain}${port === 5060 ? '' : `:${port}`}, transport UDP (or TCP, or TLS on 5061)`);
    out.push(`    baresip:  /uanew <sip:1001@${config.domain}${port === 5060 ? '' : `:${port}`}>;auth_pass=PASSWORD`);
    if (!config.sip.tls.cert && server.endpoints.some((e) => e.proto === 'tls')) {
      // Phones verify the server over TLS: the self-signed certificate is what they must trust.
      out.push(`    over TLS, trust ${path.join(config.data, CERT_FILE_NAME)} (switchboard phone: --ca FILE)`);
    }
    const n = DEMO_NUMBERS;
    const srv = `${config.domain}${port === 5060 ? '' : `:${port}`}`;
    out.push('');
    out.push('  Try the office with two softphones (or two `switchboard phone` in two terminals):');
    out.push(`    switchboard phone register --server ${srv} --user 1003 --password ... --auto-answer`);
    out.push(`    switchboard phone call ${n.mainNumber} --server ${srv} --user 1001 --password ... --dtmf ${n.menu.support}`);
    out.push(`    ${n.mainNumber}    the Acme IVR: ${n.menu.sales} sales (rings ${n.salesGroup.join(' + ')}), ${n.menu.support} support queue (${n.supportMembers.join(', ')}; voicemail after a minute), ${n.menu.directory} directory`);
    out.push('    1002   another extension; unanswered or unregistered, it goes to voicemail');
    out.push(`    ${n.voicemailMain}    listen to your voicemail (PIN in ${passwordFile})`);
    out.push(`    ${n.conference}   conference room: call it from several phones`);
    out.push(`    ${n.park}    park a call (transfer it there); dial the slot it says (${n.parkSlots}) to pick it up`);
    out.push(`    ${n.queueLogin} / ${n.queueLogout}  log in / out of the support queue;  ${n.forwardAlways} / ${n.forwardOff} forward on / off;  ${n.dndOn} / ${n.dndOff} do not disturb`);
    out.push(`  The office is ${passwordFile}: edit it (a SIP trunk entry waits there, commented) and restart.`);
    out.push('  Watch it with:  switchboard status,  switchboard pbx channels,  switchboard cdr');
  } else {
    out.push(`  users       ${[...config.users.keys()].join(', ') || '(none)'}`);
  }
  console.log(out.join('\n'));
  installCrashHandlers(log, server.crashes);
  log.info({ listen: server.endpoints.map((e) => `${e.proto}:${hostPort(e)}`), admin: hostPort(server.admin) }, 'serving');

  const running = server;
  const stop = (signal: string): void => {
    log.info({ signal }, `${signal}: stopping; registrations are saved in ${config.data}`);
    running.close().then(
      // pino writes what is still buffered on exit.
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'stopping failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

/** What a server's operator can do about a SIP address that would not bind: it is set in sip.listen. */
function listenAdvice(err: ListenError, hasConfigFile: boolean): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return hasConfigFile
        ? `${err.message}. Stop the other SIP server (e.g. Kamailio, Asterisk or a second Switchboard) or change sip.listen in switchboard.yaml to a free port.`
        : `${err.message}. Stop the other SIP server (e.g. Kamailio, Asterisk or a second Switchboard).`;
    case 'EACCES':
      return `${err.message}. Use a port of 1024 or above in sip.listen, or grant the capability (setcap cap_net_bind_service=+ep $(which node)).`;
    case 'EADDRNOTAVAIL':
      return `${err.message}. Fix sip.listen (use 0.0.0.0 for every interface).`;
    case 'EAFNOSUPPORT':
      return `${err.message}. Remove the IPv6 entry from sip.listen.`;
    default:
      return `${err.message}. Check sip.listen in switchboard.yaml.`;
  }
}
