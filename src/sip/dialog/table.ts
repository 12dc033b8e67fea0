/**
 * The dialogs a user agent holds, found by (Call-ID, local tag, remote tag)
 * in one Map lookup, and grouped by (Call-ID, local tag): one INVITE that a
 * proxy forks yields several early dialogs that differ only in the remote
 * tag (RFC 3261 §12.1.2, §13.2.2.4).
 */
import type { SipMessage } from '../message.js';
import { Dialog, dialogKey, type DialogRole } from './dialog.js';

export class DialogTable {
  private readonly byKey = new Map<string, Dialog>();
  /** callId + local tag → the dialogs one of our requests created (forks). */
  private readonly sets = new Map<string, Set<Dialog>>();

  get size(): number {
    return this.byKey.size;
  }

  add(dialog: Dialog): void {
    if (this.byKey.has(dialog.key)) throw new Error(`Dialog ${dialog.id.callId} with these tags exists`);
    this.byKey.set(dialog.key, dialog);
    const sk = setKey(dialog.id.callId, dialog.id.localTag);
    let set = this.sets.get(sk);
    if (!set) this.sets.set(sk, (set = new Set()));
    set.add(dialog);
  }

  remove(dialog: Dialog): boolean {
    if (this.byKey.get(dialog.key) !== dialog) return false;
    this.byKey.delete(dialog.key);
    const sk = setKey(dialog.id.callId, dialog.id.localTag);
    const set = this.sets.get(sk);
    if (set) {
      set.delete(dialog);
      if (set.size === 0) this.sets.delete(sk);
    }
    return true;
  }

  get(callId: string, localTag: string, remoteTag: string): Dialog | undefined {
    return this.byKey.get(dialogKey(callId, localTag, remoteTag));
  }

  /**
   * The dialog a received message belongs to. `role` is our role in its
   * transaction and defaults from the message: for a request from the peer
   * we are the UAS and our tag is the To tag; for a response we are the UAC
   * and our tag is the From tag.
   */
  match(msg: SipMessage, role: DialogRole = msg.isRequest ? 'uas' : 'uac'): Dialog | undefined {
    const to = msg.toTag ?? '';
    const from = msg.fromTag ?? '';
    return role === 'uas' ? this.get(msg.callId, to, from) : this.get(msg.callId, from, to);
  }

  /** Every dialog created by our request with this Call-ID and From tag: one per fork that answered. */
  dialogSet(callId: string, localTag: string): Dialog[] {
    const set = this.sets.get(setKey(callId, localTag));
    return set ? [...set] : [];
  }

  /**
   * A response to an INVITE/SUBSCRIBE we sent: updates the dialog it belongs
   * to, or creates one when a new fork answers with a tag (1xx other than
   * 100, or 2xx). A 3xx-6xx final ends and removes every early dialog of the
   * set (§12.3); confirmed dialogs from other forks stay. Returns the dialog
   * the response belongs to, if any.
   */
  receiveUacResponse(request: SipMessage, response: SipMessage): Dialog | undefined {
    const localTag = request.fromTag ?? '';
    if (response.status >= 300) {
      for (const d of this.dialogSet(request.callId, localTag)) {
        if (d.state === 'early') {
          d.terminate();
          this.remove(d);
        }
      }
      return undefined;
    }
    const remoteTag = response.toTag;
    if (!remoteTag || response.status === 100) return undefined;
    const existing = this.get(request.callId, localTag, remoteTag);
    if (existing) {
      existing.receiveResponse(response);
      return existing;
    }
    const created = Dialog.fromUac(request, response);
    this.add(created);
    return created;
  }
}

function setKey(callId: string, localTag: string): string {
  return callId + '\n' + localTag;
}
