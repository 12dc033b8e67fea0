import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AesCm, writeSrtpIv } from '../../src/media/srtp/aes-cm.js';
import { SRTP_LABEL, deriveSessionKeys, deriveSrtpKey } from '../../src/media/srtp/kdf.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('RFC 3711 B.2: the AES-CM keystream for SSRC 0, index 0 matches the published blocks', () => {
  const key = hex('2B7E151628AED2A6ABF7158809CF4F3C');
  const salt = hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD');
  const iv = Buffer.alloc(16);
  writeSrtpIv(iv, salt, 0, 0);
  assert.equal(iv.toString('hex').toUpperCase(), 'F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000', 'the salt arrives shifted by 16 bits');

  // The RFC's segment: 1044512 octets (65282 blocks) of keystream over zeros.
  const out = Buffer.alloc(1044512);
  new AesCm(key).apply(iv, out, 0, out.length);
  const block = (n: number): string => out.subarray(n * 16, n * 16 + 16).toString('hex').toUpperCase();
  assert.equal(block(0x0000), 'E03EAD0935C95E80E166B16DD92B4EB4');
  assert.equal(block(0x0001), 'D23513162B02D0F72A43A2FE4A5F97AB');
  assert.equal(block(0x0002), '41E95B3BB0A2E8DD477901E4FCA894C0');
  assert.equal(block(0xfeff), 'EC8CDF7398607CB0F2D21675EA9EA1E4');
  assert.equal(block(0xff00), '362B7C3C6773516318A077D7FC5073AE');
  assert.equal(block(0xff01), '6A2CC3787889374FBEB4C81B17BA6C44');
});

test('AES-CM: a keystream started mid-buffer and of odd length is the same keystream', () => {
  const key = hex('2B7E151628AED2A6ABF7158809CF4F3C');
  const iv = hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000');
  const buf = Buffer.alloc(5 + 37, 0);
  new AesCm(key).apply(iv, buf, 5, buf.length);
  assert.equal(buf.subarray(0, 5).toString('hex'), '0000000000', 'octets before start untouched');
  assert.equal(buf.subarray(5, 21).toString('hex').toUpperCase(), 'E03EAD0935C95E80E166B16DD92B4EB4');
  assert.equal(buf.subarray(21, 37).toString('hex').toUpperCase(), 'D23513162B02D0F72A43A2FE4A5F97AB');
  assert.equal(buf.subarray(37, 42).toString('hex').toUpperCase(), '41E95B3BB0');
});

test('AES-CM: the counter carries out of the low 32 bits into the upper octets', () => {
  const key = hex('2B7E151628AED2A6ABF7158809CF4F3C');
  const iv = hex('000000000000000000000000FFFFFFFF');
  const viaCarry = Buffer.alloc(32);
  new AesCm(key).apply(iv, viaCarry, 0, 32);
  const second = Buffer.alloc(16);
  new AesCm(key).apply(hex('00000000000000000000000100000000'), second, 0, 16);
  assert.deepEqual(viaCarry.subarray(16), second);
});

test('RFC 3711 B.3: session keys derived from the example master key and salt', () => {
  const masterKey = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
  const masterSalt = hex('0EC675AD498AFEEBB6960B3AABE6');
  const keys = deriveSessionKeys(masterKey, masterSalt, 'rtp');
  assert.equal(keys.encryptionKey.toString('hex').toUpperCase(), 'C61E7A93744F39EE10734AFE3FF7A087');
  assert.equal(keys.salt.toString('hex').toUpperCase(), '30CBBC08863D8C85D49DB34A9AE1');
  assert.equal(keys.authKey.toString('hex').toUpperCase(), 'CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4');

  // The RFC lists a 94-octet auth key: six PRF blocks, checking the counter run.
  const long = deriveSrtpKey(masterKey, masterSalt, SRTP_LABEL.rtpAuthentication, 94);
  assert.equal(
    long.toString('hex').toUpperCase(),
    'CEBE321F6FF7716B6FD4AB49AF256A15' +
      '6D38BAA48F0A0ACF3C34E2359E6CDBCE' +
      'E049646C43D9327AD175578EF7227098' +
      '6371C10C9A369AC2F94A8C5FBCDDDC25' +
      '6D6E919A48B610EF17C2041E47403576' +
      '6B68642C59BBFC2F34DB60DBDFB2',
  );
});

test('SRTCP session keys use their own labels and differ from the SRTP ones', () => {
  const masterKey = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
  const masterSalt = hex('0EC675AD498AFEEBB6960B3AABE6');
  const rtp = deriveSessionKeys(masterKey, masterSalt, 'rtp');
  const rtcp = deriveSessionKeys(masterKey, masterSalt, 'rtcp');
  assert.deepEqual(rtcp.encryptionKey, deriveSrtpKey(masterKey, masterSalt, 3, 16));
  assert.deepEqual(rtcp.authKey, deriveSrtpKey(masterKey, masterSalt, 4, 20));
  assert.deepEqual(rtcp.salt, deriveSrtpKey(masterKey, masterSalt, 5, 14));
  assert.notDeepEqual(rtcp.encryptionKey, rtp.encryptionKey);
  assert.notDeepEqual(rtcp.authKey, rtp.authKey);
  assert.notDeepEqual(rtcp.salt, rtp.salt);
});
