/**
 * Kamailio 5.6 as the registrar our softphone registers to (the helper in
 * test/helpers/kamailio.ts): digest auth from a db_text subscriber table,
 * bindings readable over kamcmd, and calls between two phones registered to
 * it. sipsak registers with the right and a wrong password; two baresip
 * phones register with digest auth and one calls the other through it.
 *
 * sipsak 0.9.8.1 cuts a 5-digit port to 4 digits in the URIs it builds, so
 * Kamailio listens on a free port below 10000 here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBaresip, type Baresip } from '../helpers/baresip.js';
import { startKamailioRegistrar, type KamailioRegistrar } from '../helpers/kamailio.js';
import { requirePeers } from '../helpers/peers.js';
import { freeSipsakPort, runSipsak, type SipsakResult } from '../helpers/sipsak.js';

const skip = requirePeers('kamailio', 'kamcmd', 'sipsak', 'baresip');
const PASS = {
  alice: 'Al1ce-kam-long-pass-2231',
  bob: 'B0b-kam-long-pass-7719',
  carol: 'C4rol-kam-long-pass-5506',
  dave: 'D4ve-kam-long-pass-9034',
};

function explain(r: SipsakResult, k: KamailioRegistrar): string {
  return `sipsak exit ${r.exitCode}${r.killed ? ' (killed)' : ''}\n${r.stdout.slice(-2500)}\n${r.stderr.slice(-800)}\n--- kamailio:\n${k.log().slice(-2000)}`;
}

describe('Kamailio registrar with digest auth', { skip, timeout: 120_000 }, () => {
  let kam: KamailioRegistrar;
  const phones: Baresip[] = [];

  before(async () => {
    // The port may be taken between the check and Kamailio's bind: retry a few times.
    for (let attempt = 1; ; attempt++) {
      try {
        kam = await startKamailioRegistrar({ users: PASS, port: await freeSipsakPort('udp') });
        break;
      } catch (err) {
        if (attempt >= 4) throw err;
      }
    }
  });
  after(async () => {
    await Promise.all(phones.splice(0).map((p) => p.stop()));
    await kam?.stop();
  });

  function registerArgs(user: string, password: string): string[] {
    return ['-vvv', '-i', '--local-ip', '127.0.0.1', '-U', '-x', '300', '-s', `sip:${user}@${kam.sip}`, '-u', user, '-a', password];
  }

  test('REGISTER with the right password: challenged, then 200, and the binding is listed', async () => {
    assert.deepEqual(await kam.lookup('alice'), [], 'nobody is registered at start');
    const r = await runSipsak({ args: registerArgs('alice', PASS.alice), timeoutMs: 10_000 });
    assert.equal(r.exitCode, 0, explain(r, kam));
    assert.match(r.stdout, /^SIP\/2\.0 401 Unauthorized/m, 'the first REGISTER is challenged');
    assert.match(r.stdout, /WWW-Authenticate: Digest realm="127\.0\.0\.1"/);
    assert.match(r.stdout, /^SIP\/2\.0 200 OK/m, explain(r, kam));

    const bindings = await kam.lookup('alice');
    assert.equal(bindings.length, 1, JSON.stringify(await kam.bindings()));
    assert.match(bindings[0].contact, /^sip:alice@127\.0\.0\.1:\d+$/);
    assert.ok(bindings[0].expires > 290 && bindings[0].expires <= 300, `expires ${bindings[0].expires}`);
    assert.equal(bindings[0].userAgent, 'sipsak 0.9.8.1');
  });

  test('REGISTER with a wrong password is refused and binds nothing', async () => {
    const r = await runSipsak({ args: registerArgs('bob', 'not-bobs-password'), timeoutMs: 10_000 });
    assert.notEqual(r.exitCode, 0, explain(r, kam));
    assert.equal(r.killed, false, explain(r, kam));
    assert.doesNotMatch(r.stdout + r.stderr, /^SIP\/2\.0 200 OK/m);
    // Kamailio answers bad credentials with a fresh challenge, as its stock config does.
    const out = r.stdout + r.stderr;
    assert.match(out, /error: authorization failed/, explain(r, kam));
    assert.equal(out.match(/^SIP\/2\.0 401 Unauthorized/gm)?.length, 2, `a 401 to each REGISTER: ${explain(r, kam)}`);
    assert.deepEqual(await kam.lookup('bob'), []);
    await kam.waitForLog(/REGISTER from sip:bob@\S+ not authorized \(-2\)/, 2000);
  });

  test('an unknown user is refused too', async () => {
    const r = await runSipsak({ args: registerArgs('mallory', 'whatever-pass'), timeoutMs: 10_000 });
    assert.notEqual(r.exitCode, 0, explain(r, kam));
    assert.doesNotMatch(r.stdout + r.stderr, /^SIP\/2\.0 200 OK/m);
    assert.deepEqual(await kam.lookup('mallory'), []);
  });

  test('two baresip phones register with digest auth and call each other through it', async () => {
    const phone = async (user: 'carol' | 'dave'): Promise<Baresip> => {
      const p = await startBaresip({
        name: user,
        account: `<sip:${user}@${kam.sip};transport=udp>;auth_pass=${PASS[user]};answermode=auto;regint=300;audio_codecs=PCMU/8000/1`,
        toneSeconds: 30,
      });
      phones.push(p);
      return p;
    };
    const [carol, dave] = await Promise.all([phone('carol'), phone('dave')]);
    // baresip registers before ctrl_tcp is connected, so REGISTER_OK is lost; the log line is not.
    const registered = /: \{\d+\/UDP\/v4\} 200 OK .*\[1 binding\]/;
    await Promise.all([carol.waitFor(registered, 10_000), dave.waitFor(registered, 10_000)]);
    const daveBindings = await kam.lookup('dave');
    assert.equal(daveBindings.length, 1);
    assert.match(daveBindings[0].contact, new RegExp(`^sip:dave(-\\w+)?@127\\.0\\.0\\.1:${dave.sipPort}\\b`));
    assert.equal((await kam.lookup('carol')).length, 1);

    assert.equal((await carol.dial(`sip:dave@${kam.sip}`)).ok, true);
    await carol.waitForEvent('CALL_ESTABLISHED', 10_000);
    const up = await dave.waitForEvent('CALL_ESTABLISHED', 10_000);
    assert.match(String(up.peeruri), /^sip:carol@/);
    await kam.waitForLog(/INVITE relayed to sip:dave(-\w+)?@127\.0\.0\.1:\d+/, 2000);

    // The BYE follows the Record-Route through Kamailio and ends both sides.
    const daveMark = dave.events().length;
    await carol.hangup();
    await dave.waitForEvent('CALL_CLOSED', 10_000, daveMark);
    await kam.waitForLog(/in-dialog BYE routed to sip:dave(-\w+)?@127\.0\.0\.1:\d+/, 2000);

    // A user nobody registered as: Kamailio answers 404 and the call fails on the caller.
    const mark = carol.events().length;
    await carol.dial(`sip:nobody@${kam.sip}`);
    const closed = await carol.waitForEvent('CALL_CLOSED', 10_000, mark);
    assert.match(String(closed.param), /404/);
  });
});
