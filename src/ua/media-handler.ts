/**
 * What a SIP session asks of its media: SDP offers and answers, and applying
 * them. The signalling code (calls, re-INVITEs, transfers) speaks only to
 * this interface, so it can be tested without sound and reused by the PBX's
 * B2BUA legs with other media behind it.
 *
 * Every method that takes a remote description throws `SdpError` (src/sdp)
 * when it cannot be used; the caller answers 488 Not Acceptable Here with a
 * Warning built from the error's `warnCode` and message.
 */
export interface MediaHandler {
  /**
   * Our offer, for an initial INVITE or a re-INVITE. `hold` asks the peer to
   * stop sending to us while we keep sending music or silence (sendonly), or
   * inactive when the peer already holds us.
   */
  createOffer(opts: { hold: boolean }): string;
  /** The peer's answer to our last offer: media starts (or changes) here. */
  setAnswer(sdp: string): void;
  /** Answers the peer's offer (initial INVITE, re-INVITE, or a 200 OK to an offer-less INVITE) and applies it. */
  createAnswer(offer: string, opts: { hold: boolean }): string;
  /** True when the peer's last description asked us not to send (sendonly/inactive from them): we are held. */
  readonly remoteHold: boolean;
  /** Stops media for good; resolves once the port is free. Idempotent. */
  close(): Promise<void>;
}

/**
 * Makes the media for a new call (its port is opened before the offer is
 * written). `offer` is the remote offer about to be answered, when there is
 * one: a WebRTC leg prepares its answer from it here (werift's offer/answer
 * is asynchronous), so the synchronous createAnswer can return it. Throws
 * SdpError for an offer it cannot use.
 */
export type MediaFactory = (offer?: string) => Promise<MediaHandler>;
