/**
 * The phone's interactive mode as a person uses it: keys typed on a real
 * terminal (a pseudo-terminal from util-linux `script`), one at a time —
 * h puts the call on hold and back, digits go out as DTMF, q hangs up.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { cliCommand, startPhone, waitForOutput, type PhoneProcess } from '../helpers/phone.js';
import { freePort } from '../helpers/ports.js';
import { hasBinary } from '../helpers/peers.js';
import { spawnBounded } from '../helpers/process.js';
import { repoRoot } from '../helpers/repo.js';

const skip = hasBinary('script') ? undefined : 'util-linux script is missing';


describe('switchboard phone on a terminal', { skip, timeout: 60_000 }, () => {
  const phones: PhoneProcess[] = [];
  after(async () => {
    await Promise.all(phones.map((p) => p.stop()));
  });

  test('h holds and resumes, digits send DTMF, q hangs up', async () => {
    const port = await freePort('both');
    const callee = startPhone(['listen', '--listen', `127.0.0.1:${port}`, '--auto-answer', '--calls', '1']);
    phones.push(callee);
    await callee.waitFor(/waiting for calls/, 10_000);
    const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
    const cmd = [process.execPath, ...cliCommand(), 'phone', 'call', `sip:b@127.0.0.1:${port}`].map(quote).join(' ');
    const tty = spawnBounded('script', ['-qfec', cmd, '/dev/null'], { cwd: repoRoot(), deadlineMs: 30_000, stdinOpen: true });
    const key = (k: string): void => void tty.child.stdin?.write(k);

    await waitForOutput(tty, /keys: 0-9/, 10_000);
    await waitForOutput(tty, /^answered/m, 10_000);
    key('h');
    await waitForOutput(tty, /^on hold/m, 5000);
    await callee.waitFor(/the other side put us on hold/, 5000);
    key('h');
    await waitForOutput(tty, /^resumed/m, 5000);
    await callee.waitFor(/the other side took us off hold/, 5000);
    key('4');
    key('#');
    await callee.waitFor(/DTMF received: #/, 5000);
    key('q');
    const exit = await tty.exited;
    assert.equal(exit.exitCode, 0, exit.stdout);
    assert.match(exit.stdout, /call ended by us/);
    const heard = [...callee.output().matchAll(/DTMF received: (\S)/g)].map((m) => m[1]).join('');
    assert.equal(heard, '4#');
    assert.equal((await callee.exited).exitCode, 0);
  });
});
