/**
 * Valid SIP messages the mutators start from: the RFC 4475-style fixtures
 * under test/fixtures/sip/valid, and messages built here the way phones send
 * them (REGISTER with credentials, INVITE with SDP, multipart bodies,
 * in-dialog requests with route sets, and responses). Every host in the
 * built ones is on loopback, so a server fed with them answers only there.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { formatAuthHeader } from '../../../src/sip/auth/parse.js';
import { repoRoot } from '../../helpers/repo.js';
import { sdpSeeds } from './sdp.js';

export interface SipSeedOptions {
  /** host:port the requests are addressed to. */
  target?: string;
  /** host:port of the sender (Via, Contact). */
  local?: string;
  /** Via transport. */
  transport?: 'UDP' | 'TCP';
}

let fixtures: Buffer[] | undefined;

export function sipFixtures(): Buffer[] {
  if (!fixtures) {
    const dir = path.join(repoRoot(), 'test', 'fixtures', 'sip', 'valid');
    fixtures = readdirSync(dir)
      .filter((f) => f.endsWith('.sip'))
      .sort()
      .map((f) => readFileSync(path.join(dir, f)));
  }
  return fixtures;
}

function msg(start: string, headers: [string, string][], body = ''): Buffer {
  const lines = [start, ...headers.map(([n, v]) => `${n}: ${v}`)];
  if (body) lines.push(`Content-Length: ${Buffer.byteLength(body, 'latin1')}`);
  else lines.push('Content-Length: 0');
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body, 'latin1');
}

export function builtSipMessages(opts: SipSeedOptions = {}): Buffer[] {
  const target = opts.target ?? '127.0.0.1:5060';
  const local = opts.local ?? '127.0.0.1:5070';
  const tp = opts.transport ?? 'UDP';
  const via = (b: string): [string, string] => ['Via', `SIP/2.0/${tp} ${local};branch=z9hG4bK${b};rport`];
  const dialog = (method: string, seq: number, b: string): [string, string][] => [
    via(b),
    ['Max-Forwards', '70'],
    ['From', `"Alice Smith" <sip:alice@${target}>;tag=a73kszlfl`],
    ['To', `<sip:bob@${target}>`],
    ['Call-ID', `f81d4fae-7dec-11d0-a765-00a0c91e6bf6@${local}`],
    ['CSeq', `${seq} ${method}`],
  ];
  const [sdp, webrtc] = sdpSeeds();
  const auth = formatAuthHeader('Digest', [
    ['username', 'alice'], ['realm', '127.0.0.1'], ['nonce', 'ea9c8e88df84f1cec4341ae6cbe5a359'], ['uri', `sip:${target}`],
    ['response', 'dfe56131d1958046689d83306477ecc'], ['algorithm', 'MD5'], ['qop', 'auth'], ['nc', '00000001'], ['cnonce', '0a4f113b'], ['opaque', '5ccc069c403ebaf9f0171e9517f40e41'],
  ]);
  const challenge = formatAuthHeader('Digest', [['realm', '127.0.0.1'], ['nonce', 'ea9c8e88df84f1cec4341ae6cbe5a359'], ['algorithm', 'SHA-256'], ['qop', 'auth,auth-int'], ['opaque', '5ccc0']], true);
  const multipart = [
    '--unique-boundary-1', 'Content-Type: application/sdp', '', sdp.trimEnd(), '',
    '--unique-boundary-1', 'Content-Type: application/isup;version=itu-t92+', 'Content-Disposition: signal;handling=optional', '',
    '\x01\x00\x49\x00\x00\x03\x02\x00\x07\x04\x10\x00\x33\x63\x21\x43\x00\x00\x03\x06\x0d\x03\x80\x90\xa2\x07\x03\x10\x03\x63\x53\x00\x10\x0a\x07\x03\x10\x27\x80\x88\x03\x00\x00\x89\x8b\x0e\x95\x1e\x1e\x1e\x06\x26\x05\x0d\xf5\x01\x06\x10\x04\x00',
    '--unique-boundary-1--', '',
  ].join('\r\n');
  const resp = (status: string, method: string, extra: [string, string][] = [], body = ''): Buffer =>
    msg(`SIP/2.0 ${status}`, [
      ['Via', `SIP/2.0/${tp} ${local};branch=z9hG4bKresp;received=127.0.0.1;rport=5070`],
      ['From', `<sip:alice@${target}>;tag=a73kszlfl`],
      ['To', `<sip:bob@${target}>;tag=314159`],
      ['Call-ID', `f81d4fae@${local}`],
      ['CSeq', `1 ${method}`],
      ...extra,
    ], body);
  return [
    msg(`REGISTER sip:${target} SIP/2.0`, [
      via('reg1'), ['Max-Forwards', '70'], ['From', `<sip:alice@${target}>;tag=reg1`], ['To', `<sip:alice@${target}>`],
      ['Call-ID', `reg-${local}`], ['CSeq', '2 REGISTER'], ['Contact', `<sip:alice@${local};transport=${tp.toLowerCase()}>;expires=3600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1`],
      ['Expires', '3600'], ['Authorization', auth], ['Supported', 'path, outbound'], ['User-Agent', 'fuzz/1'],
    ]),
    msg(`INVITE sip:bob@${target} SIP/2.0`, [
      ...dialog('INVITE', 314159, 'inv1'), ['Contact', `<sip:alice@${local}>`], ['Allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS'],
      ['Supported', 'replaces, timer'], ['Session-Expires', '1800;refresher=uac'], ['Content-Type', 'application/sdp'],
    ], sdp),
    msg(`INVITE sip:bob@${target} SIP/2.0`, [
      ...dialog('INVITE', 2, 'inv2'), ['Contact', `<sip:alice@${local};ob>`], ['Proxy-Authorization', auth], ['Content-Type', 'application/sdp'],
    ], webrtc),
    msg(`INVITE sip:bob@${target} SIP/2.0`, [
      ...dialog('INVITE', 3, 'inv3'), ['Contact', `<sip:alice@${local}>`], ['MIME-Version', '1.0'],
      ['Content-Type', 'multipart/mixed;boundary=unique-boundary-1'],
    ], multipart),
    msg(`OPTIONS sip:${target} SIP/2.0`, [...dialog('OPTIONS', 1, 'opt1'), ['Accept', 'application/sdp'], ['Timestamp', '54.3']]),
    msg(`BYE sip:bob@${target} SIP/2.0`, [
      ...dialog('BYE', 314160, 'bye1'), ['Route', `<sip:${target};lr>, <sip:127.0.0.2:5060;lr;transport=tcp>`], ['Reason', 'Q.850;cause=16;text="Normal call clearing"'],
    ]),
    msg(`CANCEL sip:bob@${target} SIP/2.0`, dialog('CANCEL', 314159, 'inv1')),
    msg(`ACK sip:bob@${target} SIP/2.0`, [...dialog('ACK', 314159, 'ack1'), ['Route', `<sip:${target};lr>`]]),
    msg(`MESSAGE sip:bob@${target} SIP/2.0`, [...dialog('MESSAGE', 5, 'msg1'), ['Content-Type', 'text/plain;charset=UTF-8']], 'Hello \xc3\xa9t\xc3\xa9'),
    msg(`SUBSCRIBE sip:bob@${target} SIP/2.0`, [...dialog('SUBSCRIBE', 6, 'sub1'), ['Event', 'presence;id=1'], ['Accept', 'application/pidf+xml'], ['Expires', '600'], ['Contact', `<sip:alice@${local}>`]]),
    msg(`REFER sip:bob@${target} SIP/2.0`, [
      ...dialog('REFER', 7, 'ref1'), ['Refer-To', `<sip:carol@${target}?Replaces=abc%40x%3Bto-tag%3D1%3Bfrom-tag%3D2>`], ['Referred-By', `<sip:alice@${target}>`], ['Contact', `<sip:alice@${local}>`],
    ]),
    msg(`INFO sip:bob@${target} SIP/2.0`, [...dialog('INFO', 8, 'info1'), ['Content-Type', 'application/dtmf-relay']], 'Signal=5\r\nDuration=160\r\n'),
    resp('100 Trying', 'INVITE'),
    resp('180 Ringing', 'INVITE', [['Contact', `<sip:bob@${local}>`], ['Record-Route', `<sip:${target};lr>`]]),
    resp('200 OK', 'INVITE', [['Contact', `<sip:bob@${local}>`], ['Content-Type', 'application/sdp']], sdp),
    resp('401 Unauthorized', 'REGISTER', [['WWW-Authenticate', challenge]]),
    resp('407 Proxy Authentication Required', 'INVITE', [['Proxy-Authenticate', challenge]]),
    resp('302 Moved Temporarily', 'INVITE', [['Contact', `<sip:carol@${local}>;q=0.7;expires=60, <tel:+15551234>;q=0.1`]]),
    resp('486 Busy Here', 'INVITE', [['Retry-After', '120 (in a meeting);duration=3600'], ['Warning', '399 127.0.0.1 "busy"']]),
  ];
}

/** Every SIP seed: fixtures and built messages. */
export function sipSeeds(opts: SipSeedOptions = {}): Buffer[] {
  return [...sipFixtures(), ...builtSipMessages(opts)];
}
