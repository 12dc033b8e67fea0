/**
 * Call parking, as Asterisk's res_parking: a call sent to the park extension
 * (700) waits in the first free slot (701-720) with music on hold until
 * someone dials the slot, or the park time runs out and it rings back whoever
 * parked it.
 */
import type { AudioSourceSpec } from '../media/players/index.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Channel } from './channel.js';

export interface ParkHost {
  readonly clock: Clock;
  moh(): AudioSourceSpec;
  /** The park time ran out: the call goes back to `parker` (a user), or is hung up without one. */
  timedOut(ch: Channel, parker: string | undefined): void;
}

interface Parked {
  ch: Channel;
  slot: number;
  parker: string | undefined;
  since: number;
  timer: TimerHandle;
  off: () => void;
  /** Resolves the parked call's own wait (its script) when it is retrieved, times out or hangs up. */
  release: (how: 'retrieved' | 'timeout' | 'hangup') => void;
}

export class ParkingLot {
  private readonly slots = new Map<number, Parked>();

  constructor(
    private readonly first: number,
    private readonly last: number,
    private readonly timeoutSeconds: number,
    private readonly host: ParkHost,
  ) {}

  /** Parks `ch` in `wanted` (if free) or the first free slot; undefined when the lot is full. */
  park(ch: Channel, parker: string | undefined, wanted?: number): { slot: number; released: Promise<'retrieved' | 'timeout' | 'hangup'> } | undefined {
    let slot: number | undefined;
    if (wanted !== undefined && wanted >= this.first && wanted <= this.last && !this.slots.has(wanted)) slot = wanted;
    for (let s = this.first; slot === undefined && s <= this.last; s++) if (!this.slots.has(s)) slot = s;
    if (slot === undefined) return undefined;
    const chosen = slot;
    let release!: Parked['release'];
    const released = new Promise<'retrieved' | 'timeout' | 'hangup'>((resolve) => (release = resolve));
    const entry: Parked = {
      ch,
      slot: chosen,
      parker,
      since: this.host.clock.now(),
      timer: this.host.clock.setTimer(this.timeoutSeconds * 1000, () => {
        if (this.take(chosen) !== entry) return;
        entry.release('timeout');
        this.host.timedOut(ch, parker);
      }),
      off: ch.once('ended', () => {
        if (this.take(chosen) === entry) entry.release('hangup');
      }),
      release,
    };
    this.slots.set(chosen, entry);
    ch.playForever(this.host.moh());
    return { slot: chosen, released };
  }

  /** Takes the call out of `slot` for whoever dialled it; undefined when the slot is empty. */
  retrieve(slot: number): Channel | undefined {
    const e = this.take(slot);
    if (!e) return undefined;
    e.ch.stopPlaying();
    e.release('retrieved');
    return e.ch;
  }

  /** What a parked call hears. */
  get moh(): AudioSourceSpec {
    return this.host.moh();
  }

  isSlot(n: number): boolean {
    return Number.isInteger(n) && n >= this.first && n <= this.last;
  }

  list(): { slot: number; channel: string; caller: string; parker?: string; seconds: number }[] {
    const now = this.host.clock.now();
    return [...this.slots.values()].map((e) => ({
      slot: e.slot,
      channel: e.ch.name,
      caller: e.ch.caller.number,
      parker: e.parker,
      seconds: Math.round((now - e.since) / 1000),
    }));
  }

  get size(): number {
    return this.slots.size;
  }

  private take(slot: number): Parked | undefined {
    const e = this.slots.get(slot);
    if (!e) return undefined;
    this.slots.delete(slot);
    e.timer.cancel();
    e.off();
    return e;
  }
}
