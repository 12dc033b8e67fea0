/**
 * The SDP data model (RFC 8866). Plain data only, so a description can be
 * cloned, compared with deepEqual and sent across a worker boundary; the
 * meaning of individual attributes is read through helpers in attributes.ts.
 *
 * Optional fields are absent (not `undefined`) when the line was absent, and
 * everything we do not interpret is kept so that formatSdp writes it back.
 */

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface Origin {
  username: string;
  /** Digits only; kept as text because real ones exceed 2^53 (Chrome sends 19 digits). */
  sessId: string;
  sessVersion: string;
  netType: string;
  addrType: string;
  address: string;
}

export interface Connection {
  netType: string;
  addrType: string;
  /** As written, including any multicast /ttl/count suffix. */
  address: string;
}

export interface Bandwidth {
  type: string;
  value: number;
}

export interface Timing {
  start: number;
  stop: number;
  /** r= lines belonging to this t=, verbatim. */
  repeats: string[];
}

/** `a=name` (no value) or `a=name:value`; an empty value after ':' is kept as ''. */
export interface Attribute {
  name: string;
  value?: string;
}

/** A line whose type letter we do not model (or a repeated single-use line), kept verbatim. */
export interface ExtraLine {
  type: string;
  value: string;
}

export interface MediaDescription {
  type: string;
  port: number;
  numPorts?: number;
  proto: string;
  /** Payload type numbers for RTP profiles, as written. */
  formats: string[];
  information?: string;
  connection?: Connection;
  bandwidths: Bandwidth[];
  key?: string;
  attributes: Attribute[];
  extra: ExtraLine[];
}

export interface SessionDescription {
  version: number;
  origin: Origin;
  sessionName: string;
  information?: string;
  uri?: string;
  emails: string[];
  phones: string[];
  connection?: Connection;
  bandwidths: Bandwidth[];
  timing: Timing[];
  timeZones?: string;
  key?: string;
  attributes: Attribute[];
  extra: ExtraLine[];
  media: MediaDescription[];
}
