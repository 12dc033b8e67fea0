/**
 * One request inside a dialog, with digest retries, settled by its final
 * response: a timeout is answered as 408 and a transport failure as 503
 * (RFC 3261 §8.1.3.1), so callers decide on one status whatever happened.
 */
import type { Dialog } from '../sip/dialog/index.js';
import { SipMessage } from '../sip/message.js';
import { sendWithAuth, type Authenticator } from './auth-retry.js';
import type { UaContext } from './context.js';
import { transportFailureReason } from './errors.js';

export function inDialogRequest(ctx: UaContext, auth: Authenticator, dialog: Dialog | undefined, build: () => SipMessage): Promise<SipMessage> {
  return new Promise((resolve) => {
    sendWithAuth(ctx.send, auth, build, (req) => ctx.inDialogDest(req), {
      onResponse: (res) => {
        if (res.status < 200) return;
        dialog?.receiveResponse(res);
        if (res.status === 401 || res.status === 407) ctx.counters.authFailures++;
        resolve(res);
      },
      onTimeout: () => resolve(SipMessage.response(408, 'Request Timeout')),
      onTransportError: (cause) => resolve(SipMessage.response(503, transportFailureReason(cause))),
    });
  });
}
