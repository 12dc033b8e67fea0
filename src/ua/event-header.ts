/**
 * The small grammars of SIP events (RFC 6665 §8.2): Event (package and id),
 * Subscription-State, and the Expires of SUBSCRIBE and its answers. Each
 * parser returns undefined for a value it cannot read, so the caller picks
 * the status (400, 489) that names the field.
 */
import { isToken, parseParams } from '../sip/headers.js';

export interface EventHeader {
  /** The package, lower-cased: `message-summary`, `refer`, `presence` ... */
  type: string;
  /** The id parameter that tells apart subscriptions of one package in one dialog. */
  id?: string;
}

export function parseEvent(value: string | undefined): EventHeader | undefined {
  if (value === undefined) return undefined;
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  if (!type || !isToken(type)) return undefined;
  let id: string | undefined;
  if (semi >= 0) {
    try {
      id = parseParams(value, semi).get('id') ?? undefined;
    } catch {
      return undefined;
    }
  }
  return id === undefined ? { type } : { type, id };
}

export function formatEvent(e: EventHeader): string {
  return e.id === undefined ? e.type : `${e.type};id=${e.id}`;
}

/** §7.2.1: packages compare case-insensitively (parseEvent lower-cases them), ids exactly. */
export function sameEvent(a: EventHeader, b: EventHeader): boolean {
  return a.type === b.type && a.id === b.id;
}

export interface SubscriptionStateHeader {
  /** `active`, `pending`, `terminated`, or a state this code does not know (lower-cased). */
  state: string;
  expires?: number;
  /** Why a subscription ended: timeout, rejected, noresource, deactivated, probation, giveup ... */
  reason?: string;
  /** Seconds to wait before subscribing again (probation, giveup). */
  retryAfter?: number;
}

export function parseSubscriptionState(value: string | undefined): SubscriptionStateHeader | undefined {
  if (value === undefined) return undefined;
  const semi = value.indexOf(';');
  const state = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  if (!state || !isToken(state)) return undefined;
  const out: SubscriptionStateHeader = { state };
  if (semi < 0) return out;
  let params: Map<string, string | null>;
  try {
    params = parseParams(value, semi);
  } catch {
    return undefined;
  }
  const expires = seconds(params.get('expires'));
  if (expires !== undefined) out.expires = expires;
  const retry = seconds(params.get('retry-after'));
  if (retry !== undefined) out.retryAfter = retry;
  const reason = params.get('reason');
  if (reason) out.reason = reason.toLowerCase();
  return out;
}

/** An Expires header (delta-seconds): undefined when absent, NaN when it is not a number of seconds. */
export function parseExpires(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  return seconds(value.trim()) ?? NaN;
}

/** A delta-seconds value, capped at 2^32-1 as RFC 3261 §25.1 allows. */
function seconds(v: string | null | undefined): number | undefined {
  if (v === null || v === undefined || !/^\d{1,12}$/.test(v)) return undefined;
  return Math.min(Number(v), 2 ** 32 - 1);
}
