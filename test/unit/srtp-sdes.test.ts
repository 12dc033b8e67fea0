import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SdesKeyError, formatSdesKey, generateSdesKey, parseSdesKey, tryParseSdesKey } from '../../src/media/srtp/sdes.js';

// RFC 4568 §4's example key-params.
const RFC_EXAMPLE = 'inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4';

test('parses the RFC 4568 example into a 16-octet key, 14-octet salt, lifetime and MKI', () => {
  const key = parseSdesKey(RFC_EXAMPLE);
  const raw = Buffer.from('PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR', 'base64');
  assert.equal(raw.length, 30);
  assert.deepEqual(key.masterKey, raw.subarray(0, 16));
  assert.deepEqual(key.masterSalt, raw.subarray(16));
  assert.equal(key.lifetime, 2 ** 20);
  assert.deepEqual(key.mki, { value: 1, length: 4 });
});

test('lifetime and MKI are optional; a lone MKI or a decimal lifetime is understood', () => {
  const bare = parseSdesKey('inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR');
  assert.equal(bare.lifetime, undefined);
  assert.equal(bare.mki, undefined);
  assert.deepEqual(parseSdesKey('inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2:1').mki, { value: 2, length: 1 });
  assert.equal(parseSdesKey('PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1048576').lifetime, 1048576);
});

test('malformed key-params are refused with SdesKeyError; tryParse returns undefined', () => {
  const bad = [
    'inline:',
    'inline:not base64!',
    'inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0m', // too short
    'inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBRAAAA', // too long
    'inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|junk',
    'inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1:0', // MKI length 0
    'inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1:4|2^20', // MKI before lifetime
    'inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^49',
  ];
  for (const text of bad) {
    assert.throws(() => parseSdesKey(text), SdesKeyError, text);
    assert.equal(tryParseSdesKey(text), undefined, text);
  }
});

test('generated keys are 30 random octets and survive format -> parse', () => {
  const a = generateSdesKey();
  const b = generateSdesKey('AES_CM_128_HMAC_SHA1_32');
  assert.equal(a.masterKey.length, 16);
  assert.equal(a.masterSalt.length, 14);
  assert.match(a.inline, /^inline:[A-Za-z0-9+/]{40}$/);
  assert.notDeepEqual(a.masterKey, b.masterKey);
  const back = parseSdesKey(a.inline);
  assert.deepEqual(back.masterKey, a.masterKey);
  assert.deepEqual(back.masterSalt, a.masterSalt);
  const full = formatSdesKey({ ...a, lifetime: 2 ** 31, mki: { value: 7, length: 2 } });
  assert.match(full, /\|2\^31\|7:2$/);
  assert.deepEqual(parseSdesKey(full).mki, { value: 7, length: 2 });
});
