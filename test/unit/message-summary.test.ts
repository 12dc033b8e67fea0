import assert from 'node:assert/strict';
import { test } from 'node:test';
import { messageSummaryBody, voicemailAccount } from '../../src/pbx/voicemail/mwi.js';
import { parseMessageSummary } from '../../src/ua/message-summary.js';

test('the PBX writes status, account and voice counts with CRLF, as Asterisk does', () => {
  assert.equal(
    messageSummaryBody({ newMessages: 1, oldMessages: 0, account: voicemailAccount('127.0.0.1') }),
    'Messages-Waiting: yes\r\nMessage-Account: sip:*98@127.0.0.1\r\nVoice-Message: 1/0 (0/0)\r\n',
  );
  assert.equal(
    messageSummaryBody({ newMessages: 0, oldMessages: 3, account: voicemailAccount('pbx.acme.example') }),
    'Messages-Waiting: no\r\nMessage-Account: sip:*98@pbx.acme.example\r\nVoice-Message: 0/3 (0/0)\r\n',
  );
  assert.equal(voicemailAccount('::1'), 'sip:*98@[::1]');
  assert.equal(voicemailAccount('[::1]', '*97'), 'sip:*97@[::1]');
  assert.match(messageSummaryBody({ newMessages: -1, oldMessages: Number.NaN, account: 'sip:*98@x' }), /Messages-Waiting: no\r\n.*\r\nVoice-Message: 0\/0 \(0\/0\)/s);
});

test('what the PBX writes, the phone reads back', () => {
  for (const [n, o] of [[0, 0], [1, 0], [0, 7], [12, 345]]) {
    const body = messageSummaryBody({ newMessages: n, oldMessages: o, account: 'sip:*98@127.0.0.1' });
    assert.deepEqual(parseMessageSummary(body), { waiting: n > 0, newMessages: n, oldMessages: o, account: 'sip:*98@127.0.0.1' });
    assert.deepEqual(parseMessageSummary(Buffer.from(body)), parseMessageSummary(body), 'bytes as they come off the wire');
  }
});

test('bodies as other servers write them', () => {
  // Asterisk (res_pjsip_mwi / chan_sip): CRLF, urgent counts 0.
  assert.deepEqual(parseMessageSummary('Messages-Waiting: yes\r\nMessage-Account: sip:*97@192.0.2.5\r\nVoice-Message: 2/5 (0/0)\r\n'), {
    waiting: true, newMessages: 2, oldMessages: 5, account: 'sip:*97@192.0.2.5',
  });
  // FreeSWITCH: a trailing blank line.
  assert.deepEqual(parseMessageSummary('Messages-Waiting: no\r\nMessage-Account: sip:1000@192.0.2.6\r\nVoice-Message: 0/1 (0/0)\r\n\r\n'), {
    waiting: false, newMessages: 0, oldMessages: 1, account: 'sip:1000@192.0.2.6',
  });
  // RFC 3842's layout: urgent counts, another message class, then per-message headers after a blank line.
  const rfc = [
    'Messages-Waiting: yes',
    'Message-Account: sip:alice@vmail.example.com',
    'Voice-Message: 4/8 (1/2)',
    'Fax-Message: 1/0',
    '',
    'To: <alice@atlanta.example.com>',
    'From: <bob@biloxi.example.com>',
    'Subject: carpool tomorrow?',
    'Voice-Message: 99/99',
    '',
  ].join('\r\n');
  assert.deepEqual(parseMessageSummary(rfc), { waiting: true, newMessages: 4, oldMessages: 8, account: 'sip:alice@vmail.example.com' });
  // A minimal server: bare LF, lower case, no urgent counts, no account.
  assert.deepEqual(parseMessageSummary('messages-waiting: YES\nvoice-message: 3/0\n'), { waiting: true, newMessages: 3, oldMessages: 0 });
  // Spaces everywhere, an account in angle brackets.
  assert.deepEqual(parseMessageSummary('  Messages-Waiting :  no \r\nMessage-Account: <sip:*98@pbx>\r\nVoice-Message:  0 / 2 ( 0 / 0 )'), {
    waiting: false, newMessages: 0, oldMessages: 2, account: 'sip:*98@pbx',
  });
});

test('what is missing is inferred; a body with neither status nor counts is not a summary', () => {
  assert.deepEqual(parseMessageSummary('Voice-Message: 1/4 (0/0)\r\n'), { waiting: true, newMessages: 1, oldMessages: 4 }, 'no status: waiting when there are new');
  assert.deepEqual(parseMessageSummary('Voice-Message: 0/4\r\n'), { waiting: false, newMessages: 0, oldMessages: 4 });
  assert.deepEqual(parseMessageSummary('Messages-Waiting: yes\r\n'), { waiting: true, newMessages: 0, oldMessages: 0 }, 'no counts: 0/0');
  for (const bad of ['', '\r\n', 'hello world', 'Message-Account: sip:x@y\r\n', 'Messages-Waiting: maybe\r\nVoice-Message: lots\r\n', '<xml/>', 'Voice-Message: 99999999999/1']) {
    assert.equal(parseMessageSummary(bad), undefined, JSON.stringify(bad));
  }
  assert.equal(parseMessageSummary('x'.repeat(100_000) + '\nMessages-Waiting: yes'), undefined, 'a huge body is not read to its end');
});
