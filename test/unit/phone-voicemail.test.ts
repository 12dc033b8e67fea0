/** The softphone's message-waiting line and when it subscribes again. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retryDelay, voicemailLine } from '../../src/cli/phone/voicemail.js';

test('a summary prints its voice counts; a body without Messages-Waiting prints nothing', () => {
  assert.equal(voicemailLine('Messages-Waiting: yes\r\nMessage-Account: sip:*98@example.com\r\nVoice-Message: 2/8 (0/2)\r\n'), 'voicemail: 2 new, 8 old');
  assert.equal(voicemailLine('Messages-Waiting: no\r\n'), 'voicemail: 0 new, 0 old');
  assert.equal(voicemailLine('messages-waiting:yes\nvoice-message: 1/0\n'), 'voicemail: 1 new, 0 old');
  assert.equal(voicemailLine(''), undefined);
  assert.equal(voicemailLine('<presence/>'), undefined);
});

test('a server that serves no voicemail is not asked again; passing failures back off', () => {
  for (const status of [403, 404, 405, 489, 501]) assert.equal(retryDelay(`${status} x`, { status }, 0), status === 501 ? 60_000 : undefined, String(status));
  for (const reason of ['unsubscribed', 'closed', 'noresource', 'rejected']) assert.equal(retryDelay(reason, {}, 0), undefined, reason);
  assert.equal(retryDelay('deactivated', {}, 0), 5000);
  assert.equal(retryDelay('timeout', {}, 3), 5000);
  assert.equal(retryDelay('probation', { retryAfter: 120 }, 0), 120_000);
  assert.equal(retryDelay('408 Request Timeout', { status: 408 }, 0), 60_000);
  assert.equal(retryDelay('503 Service Unavailable', { status: 503 }, 2), 240_000);
  assert.equal(retryDelay('503 Service Unavailable', { status: 503 }, 9), 30 * 60_000);
});
