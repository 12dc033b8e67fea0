/**
 * Digest authentication for every request a phone sends (RFC 3261 §22.2,
 * §22.3): the challenge is kept and reused with nc+1 so later requests go
 * through without another round trip; a stale nonce is answered once more;
 * a second challenge for the same credentials means they are wrong.
 */
import { buildAuthorization, parseAuthHeader, selectChallenge } from '../sip/auth/index.js';
import type { SipMessage } from '../sip/message.js';
import type { ClientHandlers, ClientTransaction } from '../sip/transaction/index.js';
import type { Peer } from '../sip/transport/types.js';

export interface Credentials {
  user: string;
  password: string;
}

type AuthHeader = 'Authorization' | 'Proxy-Authorization';

/** What a 401/407 means for the request that got it. */
export type ChallengeVerdict = 'retry' | 'stale' | 'rejected' | 'unusable';

export class Authenticator {
  private readonly challenges = new Map<AuthHeader, { value: string; nc: number }>();

  constructor(private readonly cred: Credentials | undefined) {}

  /** Adds the credentials for the challenges we hold (nonce reuse with the next nc). */
  sign(req: SipMessage): void {
    if (!this.cred) return;
    for (const [header, ch] of this.challenges) {
      ch.nc++;
      try {
        req.set(header, buildAuthorization(ch.value, this.cred, req.method, req.uri, ch.nc));
      } catch {
        this.challenges.delete(header);
      }
    }
  }

  /** Learns from a 401/407 to `sent`. */
  challenged(res: SipMessage, sent: SipMessage): ChallengeVerdict {
    if (!this.cred) return 'unusable';
    const proxy = res.status === 407;
    const header: AuthHeader = proxy ? 'Proxy-Authorization' : 'Authorization';
    const chosen = selectChallenge(res.getAll(proxy ? 'proxy-authenticate' : 'www-authenticate'));
    if (!chosen) return 'unusable';
    const hadAuth = sent.has(header);
    const stale = isStale(chosen);
    this.challenges.set(header, { value: chosen, nc: 0 });
    if (!hadAuth) return 'retry';
    if (stale) return 'stale';
    this.challenges.delete(header);
    return 'rejected';
  }
}

function isStale(challenge: string): boolean {
  try {
    return parseAuthHeader(challenge).params.get('stale')?.toLowerCase() === 'true';
  } catch {
    return false;
  }
}

export interface AuthSendHandlers {
  /** Every response except the challenges that were answered; `req` is the request it answers. */
  onResponse(res: SipMessage, req: SipMessage): void;
  onTimeout(): void;
  onTransportError(cause?: Error): void;
}

export type SendFn = (req: SipMessage, dest: Peer, handlers: ClientHandlers) => ClientTransaction;

/** One logical request and its authenticated retries; `current` is what was sent last. */
export interface AuthSend {
  readonly current: SipMessage;
  readonly tx: ClientTransaction | undefined;
  /** Stop sending (the caller gave up); the last transaction is terminated. */
  abandon(): void;
}

/**
 * Sends `build()` (a fresh request each time: new CSeq, same Call-ID and
 * tags) and answers up to two challenges: a first one, then once more for a
 * stale nonce. Anything else reaches `handlers`.
 */
export function sendWithAuth(
  send: SendFn,
  auth: Authenticator,
  build: () => SipMessage,
  /** A known destination, or how to find one for each request sent (its Route may differ). */
  dest: Peer | ((req: SipMessage) => Promise<Peer>),
  handlers: AuthSendHandlers,
): AuthSend {
  let retries = 0;
  let staleUsed = false;
  let abandoned = false;
  const state: { current: SipMessage; tx: ClientTransaction | undefined } = { current: undefined as unknown as SipMessage, tx: undefined };
  const attempt = (): void => {
    const req = build();
    auth.sign(req);
    state.current = req;
    const go = (dest: Peer): void => {
      if (abandoned) return;
      try {
        state.tx = send(req, dest, {
          onResponse: (res) => {
            if ((res.status === 401 || res.status === 407) && retries < 3 && !abandoned) {
              const verdict = auth.challenged(res, req);
              if (verdict === 'retry' || (verdict === 'stale' && !staleUsed)) {
                if (verdict === 'stale') staleUsed = true;
                retries++;
                attempt();
                return;
              }
            }
            handlers.onResponse(res, req);
          },
          onTimeout: () => handlers.onTimeout(),
          onTransportError: (cause) => handlers.onTransportError(cause),
        });
      } catch (err) {
        handlers.onTransportError(err instanceof Error ? err : undefined);
      }
    };
    if (typeof dest === 'function') dest(req).then(go, (err: unknown) => handlers.onTransportError(err instanceof Error ? err : undefined));
    else go(dest);
  };
  attempt();
  return {
    get current() {
      return state.current;
    },
    get tx() {
      return state.tx;
    },
    abandon() {
      abandoned = true;
      state.tx?.terminate();
    },
  };
}
