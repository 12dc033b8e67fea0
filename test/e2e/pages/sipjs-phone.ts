/// <reference lib="dom" />
/**
 * A minimal SIP.js 0.21 phone for the interop e2e test
 * (test/e2e/webrtc-sipjs.test.ts bundles it with esbuild at test time): the
 * library's own UserAgent / Registerer / Inviter with its stock Web session
 * description handler, so whatever SIP.js puts on the wire (Via
 * SIP/2.0/WSS, its random `.invalid` Contact, its SDP) reaches Switchboard
 * unchanged. The test drives it through `window.sipjs`; it shows the same
 * live-region words as the browser phone (`Registered`, `Ringing`,
 * `Incoming call from N`, `In call`, `Call ended`) and answers incoming calls
 * by itself.
 */
import { Inviter, Registerer, RegistererState, SessionState, UserAgent, type Invitation, type Session } from 'sip.js';

interface Web {
  sessionDescriptionHandler?: { peerConnection?: RTCPeerConnection; remoteMediaStream: MediaStream; sendDtmf(tones: string, o?: { duration: number; interToneGap: number }): boolean };
}

export interface SipJsPhone {
  register(o: { server: string; user: string; password: string; domain: string }): Promise<void>;
  call(target: string): void;
  hangup(): Promise<void>;
  /** A key by RTP (RFC 4733 through RTCDTMFSender) or SIP INFO (application/dtmf-relay). */
  dtmf(digit: string, how: 'rfc4733' | 'info'): Promise<boolean>;
  /** The live connection of the current call (for getStats in the test). */
  pc(): RTCPeerConnection | undefined;
  /** SIP messages SIP.js sent and received, for failure messages. */
  log: string[];
}

const MEDIA: MediaStreamConstraints = { audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false }, video: false };

let ua: UserAgent | undefined;
let session: Session | undefined;
let domain = '';
const log: string[] = [];

function setStatus(text: string): void {
  const el = document.getElementById('status');
  if (el) el.textContent = text;
}

function playRemote(s: Session): void {
  const sdh = (s as unknown as Web).sessionDescriptionHandler;
  if (!sdh) return;
  const el = document.getElementById('remote-audio') as HTMLAudioElement;
  el.srcObject = sdh.remoteMediaStream;
  el.play().catch(() => undefined);
}

function track(s: Session, incoming: boolean): void {
  session = s;
  setStatus(incoming ? `Incoming call from ${s.remoteIdentity.uri.user ?? ''}` : 'Ringing');
  s.stateChange.addListener((state) => {
    if (session !== s) return;
    if (state === SessionState.Established) {
      playRemote(s);
      setStatus('In call');
    } else if (state === SessionState.Terminated) {
      session = undefined;
      const el = document.getElementById('remote-audio') as HTMLAudioElement;
      el.srcObject = null;
      setStatus('Call ended');
    }
  });
}

const phone: SipJsPhone = {
  log,
  async register(o) {
    domain = o.domain;
    const uri = UserAgent.makeURI(`sip:${o.user}@${o.domain}`);
    if (!uri) throw new Error(`bad user ${o.user}`);
    ua = new UserAgent({
      uri,
      transportOptions: { server: o.server, traceSip: true },
      authorizationUsername: o.user,
      authorizationPassword: o.password,
      logLevel: 'log',
      logBuiltinEnabled: false,
      // The transport logs each message it sends and receives at level log.
      logConnector: (level, category, _label, content) => {
        if (category === 'sip.Transport' && /^(Sending|Received) WebSocket/.test(content)) log.push(content);
        else if (level === 'error' || level === 'warn') log.push(`${level} ${category}: ${content}`);
      },
      sessionDescriptionHandlerFactoryOptions: { constraints: MEDIA, peerConnectionConfiguration: { iceServers: [] } },
      delegate: {
        onInvite(inv: Invitation) {
          if (session) {
            inv.reject({ statusCode: 486 }).catch(() => undefined);
            return;
          }
          track(inv, true);
          // Auto-answer after half a second, so the page shows the incoming call first.
          setTimeout(() => {
            inv.accept({ sessionDescriptionHandlerOptions: { constraints: MEDIA } }).catch((e: unknown) => log.push(`accept failed: ${String(e)}`));
          }, 500);
        },
      },
    });
    await ua.start();
    const reg = new Registerer(ua, { expires: 300 });
    await new Promise<void>((resolve, reject) => {
      reg.stateChange.addListener((s) => {
        if (s === RegistererState.Registered) {
          setStatus('Registered');
          resolve();
        }
      });
      reg
        .register({ requestDelegate: { onReject: (r) => reject(new Error(`REGISTER rejected: ${r.message.statusCode} ${r.message.reasonPhrase}`)) } })
        .catch(reject);
    });
  },
  call(target) {
    if (!ua) throw new Error('not registered');
    const to = UserAgent.makeURI(target.includes('@') ? target : `sip:${target}@${domain}`);
    if (!to) throw new Error(`bad target ${target}`);
    const inv = new Inviter(ua, to, { sessionDescriptionHandlerOptions: { constraints: MEDIA } });
    track(inv, false);
    inv.invite().catch((e: unknown) => log.push(`invite failed: ${String(e)}`));
  },
  async hangup() {
    const s = session;
    if (!s) return;
    if (s.state === SessionState.Established) await s.bye();
    else if (s instanceof Inviter) await s.cancel();
    else await (s as Invitation).reject();
  },
  async dtmf(digit, how) {
    const s = session;
    if (!s || s.state !== SessionState.Established) return false;
    if (how === 'rfc4733') return (s as unknown as Web).sessionDescriptionHandler?.sendDtmf(digit, { duration: 160, interToneGap: 70 }) ?? false;
    const body = { contentDisposition: 'render', contentType: 'application/dtmf-relay', content: `Signal=${digit}\r\nDuration=160` };
    await s.info({ requestOptions: { body } });
    return true;
  },
  pc: () => (session as unknown as Web | undefined)?.sessionDescriptionHandler?.peerConnection,
};

(window as unknown as { sipjs: SipJsPhone }).sipjs = phone;
setStatus('Ready');
