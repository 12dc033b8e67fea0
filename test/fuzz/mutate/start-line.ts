/** Request and status lines with odd methods, versions, URIs, codes and spacing. */
import type { Rng } from '../rng.js';
import { inject } from './inject.js';
import { hugeNumber } from './numbers.js';
import { addParams, deepen, swapScheme } from './uri.js';
import type { SipDraft } from './sip-draft.js';

const METHODS = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'SUBSCRIBE', 'NOTIFY', 'REFER', 'MESSAGE', 'INFO', 'PRACK', 'UPDATE', 'PUBLISH', 'invite', 'NEWMETHOD', '!interesting-Method0123456789_*+`.%indeed\'~', ''];
const VERSIONS = ['SIP/2.0', 'sip/2.0', 'SIP/2.1', 'SIP/7.0', 'SIP/20.0', 'SIP/2.0x', 'SIP/', 'SIP/2', 'HTTP/1.1', 'SIP/2.0 ', '', 'SIP/99999999999999999999.0'];

export function mutateStartLine(rng: Rng, d: SipDraft): void {
  const parts = d.start.split(' ');
  const isResponse = /^SIP\//i.test(d.start);
  switch (rng.int(isResponse ? 7 : 9)) {
    case 0:
      d.start = inject(rng, d.start);
      return;
    case 1:
      // Spacing: doubled, tabs, leading or trailing blanks.
      d.start = rng.pick([d.start.replace(/ /g, '  '), d.start.replace(/ /g, '\t'), ' ' + d.start, d.start + ' ', d.start.replace(' ', ''), parts.slice(0, 2).join(' ')]);
      return;
    case 2:
      if (isResponse) parts[0] = rng.pick(VERSIONS);
      else parts[2] = rng.pick(VERSIONS);
      break;
    case 3:
      if (isResponse) parts[1] = rng.pick(['000', '099', '100', '199', '200', '299', '699', '700', '999', '2000', '4294967301', '20', 'abc', hugeNumber(rng)]);
      else parts[0] = rng.pick(METHODS);
      break;
    case 4:
      if (isResponse) parts.splice(2, parts.length, rng.pick(['', 'OK', '\u00e9t\u00e9'.repeat(rng.range(1, 3000)), 'x'.repeat(rng.range(100, 70000))]));
      else parts[1] = addParams(rng, parts[1] ?? '');
      break;
    case 5:
      d.start = d.start.slice(0, rng.int(d.start.length + 1));
      return;
    case 6:
      d.start = rng.chance(0.5) ? '' : 'x'.repeat(rng.range(1000, 70000));
      return;
    case 7:
      parts[1] = deepen(rng, parts[1] ?? '');
      break;
    default:
      parts[1] = swapScheme(rng, parts[1] ?? '');
  }
  d.start = parts.join(' ');
}
