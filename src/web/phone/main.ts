/**
 * The browser phone: one JsSIP user agent registered over SIP-over-WebSocket,
 * at most one call at a time. Everything a test or a screen reader needs is on
 * the page: labelled controls and the role="status" line.
 */
import * as JsSIP from 'jssip';
import type { RTCSession } from 'jssip/lib/RTCSession';
import type { RTCSessionEvent } from 'jssip/lib/UA';
import { formatDuration, pageElements } from './dom.js';
import { readQuality } from './quality.js';
import { keyFeedback, meterFor, startRingtone, unlock, type LevelMeter } from './sound.js';
import { addCallLog, clearCallLog, loadCallLog, loadSettings, saveSettings, type CallLogEntry } from './storage.js';
import { callerName, toTarget } from './target.js';

interface PageConfig {
  domain: string;
  iceServers: RTCIceServer[];
  iceTransportPolicy?: RTCIceTransportPolicy;
}

interface Call {
  session: RTCSession;
  direction: 'incoming' | 'outgoing';
  number: string;
  start: Date;
  answeredAt?: number;
  pc?: RTCPeerConnection;
  ringtone?: { stop(): void };
  meter?: LevelMeter;
  timers: number[];
}

const ui = pageElements();
const defaultServer = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
const config: PageConfig = { domain: location.hostname, iceServers: [] };
let ua: JsSIP.UA | undefined;
let call: Call | undefined;

function setStatus(text: string): void {
  ui.status.textContent = text;
}

function pcConfig(): RTCConfiguration {
  const c: RTCConfiguration = { iceServers: config.iceServers };
  if (config.iceTransportPolicy) c.iceTransportPolicy = config.iceTransportPolicy;
  return c;
}

const MEDIA: MediaStreamConstraints = { audio: true, video: false };

// ---- account ---------------------------------------------------------------

async function loadConfig(): Promise<void> {
  const res = await fetch('/phone/config.json', { cache: 'no-store' });
  if (!res.ok) return;
  const body = (await res.json()) as Partial<PageConfig>;
  if (typeof body.domain === 'string' && body.domain) config.domain = body.domain;
  if (Array.isArray(body.iceServers)) config.iceServers = body.iceServers;
  if (body.iceTransportPolicy === 'relay' || body.iceTransportPolicy === 'all') config.iceTransportPolicy = body.iceTransportPolicy;
  // The server's domain, unless the user already typed another.
  if (!ui.domain.value || ui.domain.value === location.hostname) ui.domain.value = config.domain;
}

function stopUa(): void {
  const old = ua;
  ua = undefined;
  ui.unregister.disabled = true;
  old?.stop();
}

function register(): void {
  unlock();
  const user = ui.user.value.trim();
  const server = ui.server.value.trim();
  const domain = ui.domain.value.trim() || config.domain;
  const password = ui.password.value;
  saveSettings({ user, server, password: ui.remember.checked ? password : undefined });
  if (!user) return setStatus('Registration failed: User is empty');
  if (!server) return setStatus('Registration failed: no server given (Server is empty)');
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return setStatus(`Registration failed: Server "${server}" is not a URL (try ${defaultServer})`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return setStatus('Registration failed: Server must be a ws:// or wss:// URL');
  if (call) return setStatus('Hang up before registering again');
  stopUa();

  const aor = user.includes('@') ? `sip:${user.replace(/^sips?:/i, '')}` : `sip:${user}@${domain}`;
  let mine: JsSIP.UA;
  try {
    mine = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(server)],
      uri: aor,
      password,
      register: true,
      session_timers: false,
      user_agent: `Switchboard phone (JsSIP ${JsSIP.version})`,
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 30,
    });
  } catch (err) {
    return setStatus(`Registration failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  ua = mine;
  let everRegistered = false;
  const current = (): boolean => ua === mine;
  mine.on('registered', () => {
    if (!current()) return;
    everRegistered = true;
    ui.unregister.disabled = false;
    // Refreshes fire this too: do not talk over a call.
    if (!call) setStatus('Registered');
  });
  mine.on('unregistered', () => {
    if (current() && !call) setStatus('Not registered');
  });
  mine.on('registrationFailed', (e) => {
    if (!current()) return;
    setStatus(`Registration failed: ${e.cause ?? e.response?.reason_phrase ?? 'no answer'}`);
    if (!everRegistered) stopUa();
  });
  mine.on('disconnected', () => {
    if (!current()) return;
    if (!everRegistered) {
      // A server that never answered is a setup mistake the user should see, not something to retry forever.
      setStatus(`Registration failed: cannot connect to ${server}`);
      stopUa();
    } else if (!call) {
      setStatus('Connection lost, reconnecting');
    }
  });
  mine.on('newRTCSession', (e: RTCSessionEvent) => {
    if (current()) onSession(e);
  });
  setStatus('Registering');
  mine.start();
}

// ---- calls -----------------------------------------------------------------

function updateButtons(): void {
  const answered = call?.answeredAt !== undefined;
  ui.call.disabled = call !== undefined;
  ui.answer.disabled = !(call?.direction === 'incoming' && !answered);
  ui.hangup.disabled = call === undefined;
  ui.hold.disabled = !answered;
  ui.mute.disabled = !answered;
  if (!call) {
    ui.hold.setAttribute('aria-pressed', 'false');
    ui.mute.setAttribute('aria-pressed', 'false');
  }
}

function placeCall(): void {
  unlock();
  if (call) return;
  if (!ua?.isConnected()) return setStatus('Not registered: Register first');
  const input = ui.number.value;
  const target = toTarget(input, ui.domain.value.trim() || config.domain);
  if (!target) return setStatus('Enter a number or SIP URI in Number');
  try {
    ua.call(target, { mediaConstraints: MEDIA, pcConfig: pcConfig() });
  } catch (err) {
    setStatus(`Call failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function playRemote(c: Call, stream: MediaStream): void {
  if (ui.audio.srcObject === stream) return;
  ui.audio.srcObject = stream;
  ui.audio.play().catch(() => undefined);
  c.meter?.close();
  c.meter = meterFor(stream);
}

function attachConnection(c: Call, pc: RTCPeerConnection): void {
  if (c.pc === pc) return;
  c.pc = pc;
  pc.addEventListener('track', (ev) => {
    if (call !== c || ev.track.kind !== 'audio') return;
    playRemote(c, ev.streams[0] ?? new MediaStream([ev.track]));
  });
}

function onSession(e: RTCSessionEvent): void {
  const session = e.session;
  const incoming = e.originator === 'remote';
  if (call) {
    // One call at a time: a second caller hears busy and finds it in the log.
    if (incoming) {
      session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
      renderLog(addCallLog({ direction: 'incoming', number: callerName(session.remote_identity.uri, session.remote_identity.display_name), start: new Date().toISOString(), durationS: 0, result: 'missed (busy)' }));
    }
    return;
  }
  const number = incoming ? callerName(session.remote_identity.uri, session.remote_identity.display_name) : ui.number.value.trim();
  const c: Call = { session, direction: incoming ? 'incoming' : 'outgoing', number, start: new Date(), timers: [] };
  call = c;
  ui.callPeer.textContent = number;
  ui.duration.textContent = '0:00';
  for (const q of [ui.lost, ui.jitter, ui.rtt, ui.mos]) q.textContent = '–';
  if (incoming) {
    setStatus(`Incoming call from ${number}`);
    ui.callState.textContent = 'Incoming, ringing';
    c.ringtone = startRingtone();
  } else {
    setStatus('Ringing');
    ui.callState.textContent = 'Calling';
  }
  if (session.connection) attachConnection(c, session.connection);
  session.on('peerconnection', (ev) => attachConnection(c, ev.peerconnection));
  session.on('progress', () => {
    if (call !== c || incoming) return;
    setStatus('Ringing');
    ui.callState.textContent = 'Ringing';
  });
  session.on('accepted', () => answered(c));
  session.on('confirmed', () => answered(c));
  session.on('ended', (ev) => finish(c, 'answered', ev.originator === 'remote' ? 'Ended by the other side' : 'Ended'));
  session.on('failed', (ev) => {
    const cause = ev.cause;
    const canceled = cause === JsSIP.C.causes.CANCELED;
    const rejected = cause === JsSIP.C.causes.REJECTED || cause === JsSIP.C.causes.BUSY;
    let result: string;
    if (incoming) result = canceled && ev.originator === 'remote' ? 'missed' : ev.originator === 'local' && rejected ? 'declined' : `failed: ${cause}`;
    else result = canceled && ev.originator === 'local' ? 'cancelled' : `failed: ${cause}`;
    finish(c, result, `Failed: ${cause}`);
  });
  session.on('hold', (ev) => {
    if (call !== c) return;
    if (ev.originator === 'local') ui.hold.setAttribute('aria-pressed', 'true');
    else ui.callState.textContent = 'Held by the other side';
  });
  session.on('unhold', (ev) => {
    if (call !== c) return;
    if (ev.originator === 'local') ui.hold.setAttribute('aria-pressed', 'false');
    else ui.callState.textContent = 'Connected';
  });
  session.on('muted', () => ui.mute.setAttribute('aria-pressed', 'true'));
  session.on('unmuted', () => ui.mute.setAttribute('aria-pressed', 'false'));
  updateButtons();
}

function answered(c: Call): void {
  if (call !== c || c.answeredAt !== undefined) return;
  c.answeredAt = Date.now();
  c.ringtone?.stop();
  setStatus('In call');
  ui.callState.textContent = 'Connected';
  // The track event may have fired before we listened (outgoing calls build the connection inside ua.call()).
  const pc = c.session.connection as RTCPeerConnection | undefined;
  if (pc) {
    attachConnection(c, pc);
    if (!ui.audio.srcObject) {
      const tracks = pc.getReceivers().map((r) => r.track).filter((t) => t.kind === 'audio');
      if (tracks.length) playRemote(c, new MediaStream(tracks));
    }
  }
  const started = c.answeredAt;
  c.timers.push(
    window.setInterval(() => {
      ui.duration.textContent = formatDuration((Date.now() - started) / 1000);
    }, 1000),
    window.setInterval(() => {
      // Falls back slowly so short peaks stay visible between reads.
      if (c.meter) ui.level.value = Math.max(c.meter.read(), ui.level.value * 0.8);
    }, 100),
    window.setInterval(() => showQuality(c), 1000),
  );
  updateButtons();
}

function showQuality(c: Call): void {
  if (!c.pc) return;
  readQuality(c.pc).then(
    (q) => {
      if (call !== c || !q) return;
      ui.lost.textContent = `${q.packetsLost} (${q.lossPercent.toFixed(1)} %)`;
      ui.jitter.textContent = q.jitterMs === undefined ? '–' : `${q.jitterMs.toFixed(1)} ms`;
      ui.rtt.textContent = q.rttMs === undefined ? '–' : `${q.rttMs.toFixed(0)} ms`;
      ui.mos.textContent = q.mos === undefined ? '–' : `${q.mos.toFixed(2)}${q.codec ? ` (${q.codec})` : ''}`;
    },
    // A connection closing under getStats is the end of the call, not an error to show.
    () => undefined,
  );
}

function finish(c: Call, result: string, state: string): void {
  if (call !== c) return;
  call = undefined;
  for (const t of c.timers) clearInterval(t);
  c.ringtone?.stop();
  c.meter?.close();
  ui.level.value = 0;
  ui.audio.srcObject = null;
  const durationS = c.answeredAt === undefined ? 0 : Math.round((Date.now() - c.answeredAt) / 1000);
  const entry: CallLogEntry = { direction: c.direction, number: c.number, start: c.start.toISOString(), durationS, result };
  renderLog(addCallLog(entry));
  ui.callState.textContent = state;
  setStatus('Call ended');
  updateButtons();
}

function hangUp(): void {
  const c = call;
  if (!c) return;
  if (c.direction === 'incoming' && c.answeredAt === undefined) c.session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
  else c.session.terminate();
}

function answer(): void {
  unlock();
  const c = call;
  if (!c || c.direction !== 'incoming' || c.answeredAt !== undefined) return;
  c.ringtone?.stop();
  ui.callState.textContent = 'Answering';
  c.session.answer({ mediaConstraints: MEDIA, pcConfig: pcConfig() });
}

function toggleHold(): void {
  const s = call?.session;
  if (!s) return;
  if (s.isOnHold().local) s.unhold();
  else s.hold();
}

function toggleMute(): void {
  const s = call?.session;
  if (!s) return;
  if (s.isMuted().audio) s.unmute({ audio: true });
  else s.mute({ audio: true });
}

function key(k: string): void {
  const c = call;
  if (c && c.answeredAt !== undefined) {
    keyFeedback(k);
    try {
      c.session.sendDTMF(k, { transportType: JsSIP.C.DTMF_TRANSPORT.RFC2833 });
    } catch (err) {
      ui.callState.textContent = `DTMF not sent: ${err instanceof Error ? err.message : String(err)}`;
    }
    return;
  }
  ui.number.value += k;
}

// ---- call log --------------------------------------------------------------

function renderLog(entries: CallLogEntry[]): void {
  ui.log.replaceChildren(
    ...entries.map((e) => {
      const li = document.createElement('li');
      const when = new Date(e.start);
      const time = Number.isNaN(when.getTime()) ? e.start : when.toLocaleString();
      li.textContent = `${e.direction === 'incoming' ? 'From' : 'To'} ${e.number} · ${time} · ${formatDuration(e.durationS)} · ${e.result}`;
      return li;
    }),
  );
  ui.logEmpty.hidden = entries.length > 0;
  ui.clearLog.disabled = entries.length === 0;
}

// ---- wiring ----------------------------------------------------------------

const saved = loadSettings();
ui.user.value = saved.user ?? '';
ui.server.value = saved.server ?? defaultServer;
if (saved.password !== undefined) {
  ui.password.value = saved.password;
  ui.remember.checked = true;
}
ui.domain.value = config.domain;
renderLog(loadCallLog());
updateButtons();

ui.account.addEventListener('submit', (ev) => {
  ev.preventDefault();
  register();
});
ui.unregister.addEventListener('click', () => {
  stopUa();
  if (!call) setStatus('Not registered');
});
ui.remember.addEventListener('change', () => {
  // Unticking forgets a stored password at once, not at the next Register.
  if (!ui.remember.checked) saveSettings({ user: ui.user.value.trim(), server: ui.server.value.trim() });
});
ui.dial.addEventListener('submit', (ev) => {
  ev.preventDefault();
  placeCall();
});
ui.answer.addEventListener('click', answer);
ui.hangup.addEventListener('click', hangUp);
ui.hold.addEventListener('click', toggleHold);
ui.mute.addEventListener('click', toggleMute);
for (const b of ui.keypad.querySelectorAll('button')) {
  b.addEventListener('click', () => key(b.textContent ?? ''));
}
document.addEventListener('keydown', (ev) => {
  // During a call, typing digits anywhere but in a text field sends them as DTMF.
  if (!call?.answeredAt || ev.target instanceof HTMLInputElement || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (/^[0-9*#]$/.test(ev.key)) key(ev.key);
});
ui.clearLog.addEventListener('click', () => {
  clearCallLog();
  renderLog([]);
});
window.addEventListener('pagehide', () => stopUa());

loadConfig().then(
  () => undefined,
  // Without config.json the page still works against its own host as the domain.
  () => undefined,
);
