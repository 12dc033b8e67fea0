/** The `switchboard phone` commands and their help (the README documents the same forms). */
import type { Command } from 'commander';
import { UsageError, type RawPhoneOptions } from './options.js';
import { PhoneExit, runPhone, type PhoneMode } from './run.js';
import { EXIT } from './outcome.js';

const EXIT_HELP = `
Exit codes: 0 answered and ended normally, 1 error, 2 bad usage, 3 no answer/cancelled,
4 busy, 5 declined, 6 not found, 7 other failure, 8 registration failed.`;

function accountOptions(cmd: Command): Command {
  return cmd
    .option('--server <host:port>', 'registrar/proxy to register with and call through (without it: peer to peer)')
    .option('--user <user>', 'account user name (with --server)')
    .option('--password <password>', 'account password (with --server)')
    .option('--listen <addr>', 'local SIP address, e.g. 127.0.0.1:5074', '127.0.0.1:0')
    .option('--transport <udp|tcp|tls>', 'SIP over UDP (default), TCP, or TLS (--server port then defaults to 5061)')
    .option('--ca <file>', 'TLS: also trust this CA certificate (PEM; or the server\'s own self-signed certificate)')
    .option('--insecure', 'TLS: do not verify the server\'s certificate (prints a warning)')
    .option('--stun <host:port>', 'learn our public address from this STUN server for Contact and SDP')
    .option('--codec <names>', 'pcmu, pcma, g722 or opus; a list like opus,pcmu sets the preference')
    .option('--play <source>', 'what we send: FILE.wav, tone:HZ, silence, or mic (the sound card, needs sox)')
    .option('--record <file.wav>', 'write what we hear to a WAV file')
    .option('--speaker', 'play what we hear on the sound card (needs sox)')
    .option('--srtp', 'offer encrypted media: SRTP with SDES keys (RTP/SAVP); SRTP offers are accepted anyway')
    .option('--duration <seconds>', 'hang up this long after the answer')
    .option('--dtmf <keys>', 'send these DTMF keys (RFC 4733) a second after the answer, e.g. 1234#')
    .option('--stats', 'print [STATS] lines (loss, jitter, RTT, MOS) every 5 s')
    .option('--expires <seconds>', 'registration lifetime to ask for', '3600')
    .option('--trace-sip', 'print every SIP message sent and received');
}

async function run(mode: PhoneMode, target: string | undefined, raw: RawPhoneOptions): Promise<never> {
  let code: number;
  try {
    code = await runPhone(mode, target, raw);
  } catch (err) {
    if (err instanceof PhoneExit) code = err.code;
    else if (err instanceof UsageError) {
      console.error(`switchboard phone: ${err.message}`);
      code = EXIT.usage;
    } else {
      console.error(`switchboard phone: ${(err as Error).message}`);
      code = EXIT.error;
    }
  }
  process.exit(code);
}

export function addPhoneCommands(program: Command): void {
  const phone = program
    .command('phone')
    .description('a softphone: register, call, answer, with tones or WAV files for audio')
    .addHelpText('after', '\nExamples:\n  switchboard phone call sip:bob@127.0.0.1:5072 --play tone:440 --duration 10 --stats\n  switchboard phone listen --listen 127.0.0.1:5072 --auto-answer --record heard.wav');

  accountOptions(phone.command('register'))
    .description('register and stay registered (re-registering at 90% of the expiry) until Ctrl-C, then unregister')
    .option('--auto-answer', 'answer incoming calls at once')
    .addHelpText('after', `\nExample:\n  switchboard phone register --server 127.0.0.1:5060 --user 1001 --password secret${EXIT_HELP}`)
    .action((opts: RawPhoneOptions) => run('register', undefined, opts));

  accountOptions(phone.command('call'))
    .description('call a SIP URI; the exit code is the outcome (keys or stdin commands control the call)')
    .argument('<uri>', 'who to call, e.g. sip:bob@127.0.0.1:5072 (or 1002 with --server)')
    .addHelpText(
      'after',
      `\nExamples:\n  switchboard phone call sip:bob@127.0.0.1:5072 --codec opus --play tone:440 --duration 10 --stats\n  switchboard phone call 1002 --server 127.0.0.1:5060 --user 1001 --password secret --dtmf 1234#\n\nWhile the call runs, type keys on a terminal (0-9*# DTMF, h hold, t transfer, q hang up), or send\nlines on standard input: dtmf 12#, hold, resume, transfer URI, attended URI, stats, hangup.${EXIT_HELP}`,
    )
    .action((uri: string, opts: RawPhoneOptions) => run('call', uri, opts));

  accountOptions(phone.command('listen'))
    .description('wait for calls (registering first with --server) and answer them')
    .option('--auto-answer', 'answer incoming calls at once')
    .option('--calls <n>', 'exit after this many answered calls have ended')
    .addHelpText('after', `\nExample:\n  switchboard phone listen --listen 127.0.0.1:5072 --auto-answer --play tone:1000 --record heard.wav --calls 1${EXIT_HELP}`)
    .action((opts: RawPhoneOptions) => run('listen', undefined, opts));
}
