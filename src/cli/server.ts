/**
 * The composition root: builds the SIP stack, registrar, proxy, trace
 * recorder and admin endpoint from a Config, and wires them together. Tests
 * start servers through this too, so they run exactly what users run.
 */
import { AdminServer } from '../api/admin.js';
import { Metrics, type MetricsSnapshot } from '../api/metrics.js';
import { DROP_REASONS } from '../media/endpoint/types.js';
import { DropCounter } from '../media/drops.js';
import { Security } from '../proxy/security/index.js';
import { BanStore } from '../store/bans.js';
import { addAdminRoutes } from './admin-routes.js';
import type { Config } from '../config/schema.js';
import type { Credential } from '../sip/auth/digest.js';
import { DigestServer } from '../sip/auth/server.js';
import { NonceManager } from '../sip/auth/nonce.js';
import type { SipStack } from '../sip/stack.js';
import { parseUri } from '../sip/uri.js';
import { TraceRecorder } from '../sip/trace/recorder.js';
import type { LocalEndpoint } from '../sip/transport/types.js';
import { Proxy } from '../proxy/proxy.js';
import { Registrar } from '../proxy/registrar.js';
import { BindingStore } from '../store/bindings.js';
import { openDatabase, type Db } from '../store/db.js';
import { realClock, type Clock, type TimerHandle } from '../util/clock.js';
import { loadOrCreateSecret } from '../store/secret.js';
import { IdleCollector, v8Collector } from '../util/idle-gc.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { CrashCounter } from './crash.js';
import { hostPort } from '../util/listen.js';
import { hostAddress } from '../util/net.js';
import { PbxRuntime, type PbxCounts } from '../voice/pbx-runtime.js';
import { configuredMailboxes, pbxMetrics } from './pbx-admin.js';
import type { ApplicationRoute } from '../proxy/proxy.js';
import { TtsCache } from '../voice/tts.js';
import { EspeakTts } from '../voice/tts-espeak.js';
import path from 'node:path';
import { TollFraud } from '../pbx/fraud.js';
import { BrowserGateway, type WebRtcStatus } from './webrtc-gateway.js';

export const VERSION = '0.1.0';
export const USER_AGENT = `Switchboard/${VERSION}`;

export interface RunningServer {
  config: Config;
  endpoints: LocalEndpoint[];
  admin: { address: string; port: number };
  stack: SipStack;
  proxy: Proxy;
  registrar: Registrar;
  security: Security;
  /** The PBX, when the config has a dialplan. */
  pbx: PbxRuntime | undefined;
  /** Toll-fraud refusals (users' source allow-lists at the proxy, caps and limits in the PBX). */
  fraud: TollFraud;
  traces: TraceRecorder;
  /** Errors that escaped every handler (counted by serve's last-resort handlers, shown in metrics). */
  crashes: CrashCounter;
  status(): StatusReport;
  close(): Promise<void>;
}

export interface StatusReport {
  version: string;
  domain: string;
  uptimeSeconds: number;
  listen: string[];
  registrations: { aor: string; contact: string; transport: string; source: string; expiresIn: number; userAgent?: string }[];
  dialogs: { callId: string; from: string; to: string; seconds: number }[];
  transactions: { client: number; server: number };
  calls: { started: number; answered: number };
  counters: Record<string, number>;
  /** The PBX's live counts; null when the config has no dialplan. */
  pbx: PbxCounts | null;
  /** The WebRTC gateway's browser legs while calls run; null without a ws:/wss: listener. */
  webrtc: WebRtcStatus | null;
}

export interface StartOptions {
  clock?: Clock;
  /** The process's logger; the server logs nowhere without one. */
  log?: Logger;
  /** Print every SIP message sent and received (serve --trace-sip). */
  traceSip?: (line: string) => void;
  /** The full collection run when the server falls quiet after load (default: V8's; see util/idle-gc.ts). */
  collectGarbage?: () => void;
}

export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  // The young generation stays V8's default (16 MB semi-spaces). Setting --max-semi-space-size
  // here, as was done, has no effect: V8 sizes it when the isolate starts (measured: new space
  // stays at 32 MB; only `node --max-semi-space-size=32` makes it 64). `npm run bench:proxy --
  // --semi-space N` measures what another size costs and saves.
  const clock = opts.clock ?? realClock;
  const log = opts.log ?? silentLogger;
  const startedWall = clock.wallNow();
  if (!config.sip.tls.verify) {
    log.warn({ setting: 'sip.tls.verify' }, 'sip.tls.verify is false: the certificates of TLS next hops (and of clients, with client_certs: require) are not verified; anyone on the path can pose as them');
  }
  const db: Db = openDatabase(config.data);
  const registrar = new Registrar(clock, config.sip, new BindingStore(db), log.child({ layer: 'registrar' }));
  const security = new Security({ clock, policy: config.security, store: new BanStore(db), log: log.child({ layer: 'security' }) });
  const auth = new DigestServer({
    realm: config.domain,
    clock,
    algorithms: config.sip.authAlgorithms,
    // A secret kept in the data directory lets nonces survive a restart.
    nonces: new NonceManager({ clock, secret: loadOrCreateSecret(config.data) }),
    isLocalUri: (uri: string): boolean => {
      try {
        const u = parseUri(uri);
        return stack.isLocalAddress(u.host, u.port);
      } catch {
        return false;
      }
    },
  });
  const credentials = (user: string): Credential | undefined => {
    const u = config.users.get(user);
    if (!u) return undefined;
    return { password: u.password, ha1: u.ha1 };
  };
  // One guard for the proxy (users' allow-lists, with or without a dialplan) and the PBX (caps, limits).
  const fraud = new TollFraud({ fraud: config.pbx.fraud, users: config.pbx.users, trunks: config.pbx.trunks, clock, log: log.child({ layer: 'fraud' }) });
  // The PBX starts after the proxy's sockets (its agent talks to them); the proxy asks it through this.
  let pbx: PbxRuntime | undefined;
  const hasDialplan = config.pbx.dialplan.size > 0;
  // Browsers register over WebSocket; their calls to and from SIP phones cross the PBX's B2BUA (the gateway).
  const gateway = new BrowserGateway(config, registrar, clock, log.child({ layer: 'web' }));
  const application: ApplicationRoute | undefined = hasDialplan || gateway.enabled
    ? {
        isApplication: (src) => pbx?.route().isApplication(src) ?? false,
        peer: () => (pbx as PbxRuntime).route().peer(),
        wants: (req, user, source) => (pbx?.route().wants(req, user, source) ?? false) || gateway.wants(req, user, source),
        trunkFor: (src) => pbx?.route().trunkFor(src),
      }
    : undefined;
  const proxy = new Proxy(
    {
      clock,
      listen: config.sip.listen,
      timers: config.sip.timers,
      dataDir: config.data,
      // The generated certificate names the domain and the names phones may dial, beside the listen addresses.
      tls: { ...config.sip.tls, hosts: [config.domain, ...config.aliases, ...(config.sip.advertise ? [config.sip.advertise] : [])] },
      advertise: config.sip.advertise,
      userAgent: USER_AGENT,
      // A phone registered over TCP/TLS from behind NAT can only be reached on its own
      // connection, so no connection is closed for idleness before a registration could expire.
      idleTimeoutMs: (config.sip.maxExpires + 60) * 1000,
      log: log.child({ layer: 'sip' }),
      // Banned and flooding sources are dropped here, before a byte of theirs is parsed.
      admit: (source) => security.admit(source),
      limits: { maxTransactions: config.limits.maxTransactions, heapWatermarkMb: config.limits.heapWatermarkMb },
      http: gateway.httpHandler(),
    },
    registrar,
    auth,
    {
      domain: config.domain,
      aliases: config.aliases,
      timerCSeconds: config.sip.timerC,
      credentials,
      isUser: (u) => config.users.has(u),
      log: log.child({ layer: 'proxy' }),
      onAuthFailure: (source, user, method) => security.failedLogin(source, user, method),
      maxDialogs: config.limits.maxDialogs,
      application,
      allowedSource: (user, source, method) => fraud.allowedSource(user, source, method),
      onConnectionClosed: (id) => gateway.connectionClosed(id, pbx?.pbx, proxy),
    },
  );
  const stack: SipStack = proxy.stack;
  const traces = new TraceRecorder({ clock, maxCalls: config.limits.maxTraceCalls });
  stack.on('trace', (dir, proto, local, remote, data) => traces.record({ dir, proto, local, remote, data }));
  if (opts.traceSip) {
    const print = opts.traceSip;
    stack.on('trace', (dir, proto, local, remote, data) => {
      const arrow = dir === 'in' ? `<<< received from ${proto}:${hostPort(remote)}` : `>>> sent to ${proto}:${hostPort(remote)}`;
      print(`${new Date(clock.wallNow()).toISOString()} ${arrow} (via ${hostPort(local)}, ${data.length} bytes)\n${data.toString('utf8').trimEnd()}\n`);
    });
  }

  let endpoints: LocalEndpoint[];
  try {
    endpoints = await stack.start();
  } catch (err) {
    db.close();
    throw err;
  }
  if (hasDialplan || gateway.enabled) {
    const udp = endpoints.find((e) => e.proto === 'udp') ?? endpoints[0];
    const wildcard = udp.address === '0.0.0.0' || udp.address === '::';
    const host = wildcard ? (udp.address === '::' ? '::1' : '127.0.0.1') : udp.address;
    try {
      pbx = new PbxRuntime({
        config,
        clock,
        log: log.child({ layer: 'pbx' }),
        db,
        proxy: { host, port: udp.port },
        // Phones elsewhere must reach the PBX's RTP: it binds where SIP does and, on a wildcard, says which address.
        media: wildcard ? { bind: udp.address, advertise: config.sip.advertise ?? hostAddress(udp.address === '::' ? 6 : 4) } : { bind: udp.address },
        userAgent: USER_AGENT,
        registered: (user) => registrar.lookup(user).length > 0,
        tts: new TtsCache({ provider: new EspeakTts({ clock, log: log.child({ layer: 'tts' }) }), dir: path.join(config.data, 'tts-cache') }),
        fraud,
        webrtc: gateway.pbxOptions(host, wildcard),
      });
      await pbx.start();
    } catch (err) {
      await pbx?.close();
      await stack.close();
      db.close();
      throw err;
    }
  }
  const status = (): StatusReport => {
    const now = clock.wallNow();
    const tx = stack.stats().transactions;
    return {
      version: VERSION,
      domain: config.domain,
      uptimeSeconds: Math.round((now - startedWall) / 1000),
      listen: endpoints.map((e) => `${e.proto}:${hostPort(e)}`),
      registrations: registrar.all().map((b) => ({
        aor: `sip:${b.aor}@${config.domain}`,
        contact: b.contact,
        transport: b.source.proto,
        source: hostPort(b.source),
        expiresIn: Math.max(0, Math.round((b.expiresAt - now) / 1000)),
        userAgent: b.userAgent,
      })),
      dialogs: proxy.calls.active().map((d) => ({ callId: d.callId, from: d.from, to: d.to, seconds: Math.round((now - d.startedWall) / 1000) })),
      transactions: { client: tx.client, server: tx.server },
      calls: { started: proxy.calls.callsStarted, answered: proxy.calls.callsAnswered },
      counters: {
        received: stack.counters.received,
        sent: stack.counters.sent,
        malformed: stack.counters.malformed,
        rejectedMalformed: stack.counters.rejected,
        dropped: stack.counters.dropped,
        requests: proxy.counters.requests,
        forwarded: proxy.counters.forwarded,
        authFailures: proxy.counters.authFailures,
        registrations: registrar.registrations,
        overloadRefused: Object.values(stack.counters.overload).reduce((a, b) => a + b, 0),
      },
      pbx: pbx?.counts() ?? null,
      webrtc: gateway.status(pbx?.pbx),
    };
  };

  const crashes: CrashCounter = { uncaught: 0 };
  // No media endpoint runs in the server yet (the PBX brings them); every reason is listed from the start.
  const mediaDrops = new DropCounter(DROP_REASONS);
  const metrics = new Metrics((): MetricsSnapshot => {
    const { transactions: tx, transport } = stack.stats();
    const c = stack.counters;
    const d = proxy.calls;
    return {
      sip: {
        requestsIn: c.inbound.requests,
        requestsOut: c.outbound.requests,
        responsesIn: c.inbound.responses,
        responsesOut: c.outbound.responses,
        malformed: c.malformedByStatus,
        refused: transport.refused,
        connections: transport.connections,
      },
      transactions: tx,
      dialogs: d.size,
      calls: { attempted: d.callsStarted, answered: d.callsAnswered, failed: d.callsFailed, cancelled: d.callsCancelled },
      registrations: { bindings: registrar.bindingCount, accepted: registrar.registrations, storeFailures: registrar.writeFailures },
      authFailures: proxy.counters.authFailuresByMethod,
      bans: { active: security.activeBans, imposed: security.counters.bans },
      overload: c.overload,
      mediaDrops: mediaDrops.snapshot().reasons,
      uncaughtErrors: crashes.uncaught,
      pbx: pbx ? pbxMetrics(pbx, config) : undefined,
      fraud: fraud.snapshot(),
      webrtcFailures: gateway.metrics(),
    };
  });
  const admin = new AdminServer();
  addAdminRoutes(admin, {
    status,
    traces,
    security,
    metrics,
    pbx: {
      runtime: () => pbx,
      rooms: () => [...config.pbx.conferences.keys()],
      mailboxes: () => configuredMailboxes(config),
      reachable: (user) => registrar.lookup(user).length > 0 && !(config.pbx.users.get(user)?.dnd ?? false),
    },
  });
  let adminAddr: { address: string; port: number };
  try {
    adminAddr = await admin.listen(config.admin.listen.address, config.admin.listen.port);
  } catch (err) {
    await stack.close();
    db.close();
    throw err;
  }

  const idleGc = new IdleCollector({
    clock,
    // While PBX legs are up, RTP flows even when SIP is silent: a full collection then stalls every
    // call's audio (bench:pbx measured 72-227 ms at 200 held calls), so the server never counts as quiet.
    activity: () => stack.counters.received + (pbx && pbx.pbx.channels.length > 0 ? clock.now() : 0),
    held: () => {
      const tx = stack.stats().transactions;
      return tx.client + tx.server;
    },
    collect: opts.collectGarbage ?? v8Collector(),
    log: log.child({ layer: 'memory' }),
  });
  idleGc.start();

  let purgeTimer: TimerHandle | undefined;
  const schedulePurge = (): void => {
    purgeTimer = clock.setTimer(10_000, () => {
      registrar.purge();
      security.purge();
      schedulePurge();
    });
  };
  schedulePurge();

  let closed = false;
  return {
    config,
    endpoints,
    admin: adminAddr,
    stack,
    proxy,
    registrar,
    security,
    pbx,
    fraud,
    traces,
    crashes,
    status,
    async close() {
      if (closed) return;
      closed = true;
      purgeTimer?.cancel();
      idleGc.stop();
      await admin.close();
      await pbx?.close();
      await proxy.close();
      registrar.flush();
      db.close();
    },
  };
}
