/** `switchboard` — the command line. Every command's --help ends with an example. */
import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { runServe, type ServeOptions } from './serve.js';
import { LOG_LEVELS } from '../config/schema.js';
import { runStatus } from './status.js';
import { addBan, listBans, removeBan, type BansOptions } from './bans.js';
import { CdrUsageError, runCdr, TABLE_LIMIT, type CdrOptions } from './cdr.js';
import { runTrace } from './trace.js';
import { checkMessage } from '../sip/check.js';
import { VERSION } from './server.js';
import { addPhoneCommands } from './phone/command.js';
import { addPbxCommands } from './pbx-command.js';

const program = new Command();
program
  .name('switchboard')
  .description('Open-source telephony: SIP registrar and proxy, PBX, programmable voice, WebRTC gateway')
  .version(VERSION)
  .addHelpText(
    'after',
    `
Examples:
  npm start                                   run the demo office (users 1001-1003)
  switchboard serve --config switchboard.yaml run your own config
  switchboard status                          who is registered, calls in progress
  switchboard trace                           recent calls; then: switchboard trace CALL-ID
  switchboard bans                            who is banned; switchboard bans remove ADDRESS
  switchboard cdr --since 1d                  call detail records of the last day (--json, --csv)
  switchboard pbx channels                    the PBX console (also: queues, conferences, voicemail, trunks)
  switchboard sip check capture.txt           is this SIP message valid?
  switchboard phone call sip:bob@127.0.0.1:5072 --duration 10 --stats
                                              a softphone call (also: phone listen, phone register)`,
  );

program
  .command('serve')
  .description('run the SIP registrar and proxy (the demo office when no --config is given)')
  .option('-c, --config <file>', 'switchboard.yaml to run')
  .option('--data <dir>', 'data directory for the demo office', './data')
  .option('--trace-sip', 'print every SIP message sent and received')
  .addOption(new Option('--log-level <level>', 'how much to log (overrides log.level in the config)').choices([...LOG_LEVELS]))
  .addHelpText(
    'after',
    '\nLogs are JSON lines when the output is a file or a pipe, readable lines on a terminal.\n' +
      'Example:\n  switchboard serve --config switchboard.yaml --log-level debug > switchboard.log',
  )
  .action(async (opts: ServeOptions) => {
    await runServe(opts);
  });

program
  .command('status')
  .description('show uptime, registered phones, active calls and transactions of the running server')
  .option('-c, --config <file>', 'the config the server runs with (to find its admin address)')
  .option('--admin <host:port>', 'admin address of the server (default 127.0.0.1:8089)')
  .option('--json', 'print JSON for scripts')
  .addHelpText('after', '\nExample:\n  switchboard status --config switchboard.yaml --json')
  .action(async (opts: { config?: string; admin?: string; json?: boolean }) => {
    await runStatus(opts);
  });

program
  .command('trace')
  .description('list recent calls, or draw the SIP ladder of one call')
  .argument('[call-id]', 'Call-ID of the call to show (a unique prefix is enough)')
  .option('-c, --config <file>', 'the config the server runs with (to find its admin address)')
  .option('--admin <host:port>', 'admin address of the server (default 127.0.0.1:8089)')
  .option('--pcap <file>', 'also write the call as a capture for Wireshark / tshark')
  .option('--json', 'print JSON for scripts')
  .addHelpText('after', '\nExamples:\n  switchboard trace\n  switchboard trace 3848276298220188511 --pcap call.pcap')
  .action(async (callId: string | undefined, opts: { config?: string; admin?: string; pcap?: string; json?: boolean }) => {
    await runTrace(callId, opts);
  });

const bans = program
  .command('bans')
  .description('list banned source addresses (failed logins, floods, by hand); lift or add a ban')
  .option('-c, --config <file>', 'the config the server runs with (to find its admin address and database)')
  .option('--admin <host:port>', 'admin address of the server (default 127.0.0.1:8089)')
  .option('--json', 'print JSON for scripts: [{address, reason, detail, since, until}]')
  .addHelpText(
    'after',
    '\nWith no server running, bans are read from and written to the database of the config.\n' +
      'Examples:\n  switchboard bans\n  switchboard bans --json --config switchboard.yaml\n  switchboard bans remove 192.0.2.7\n  switchboard bans add 192.0.2.7 --for 86400',
  )
  .action(async (opts: BansOptions) => {
    await listBans(opts);
  });
bans
  .command('remove')
  .description('lift the ban on an address')
  .argument('<address>', 'the banned IP address')
  .option('-c, --config <file>', 'the config the server runs with')
  .option('--admin <host:port>', 'admin address of the server (default 127.0.0.1:8089)')
  .option('--json', 'print the lifted ban as JSON')
  .addHelpText('after', '\nExample:\n  switchboard bans remove 127.0.0.2 --config switchboard.yaml')
  .action(async (address: string, opts: BansOptions) => {
    await removeBan(address, { ...bans.opts<BansOptions>(), ...opts });
  });
bans
  .command('add')
  .description('ban an address by hand')
  .argument('<address>', 'the IP address to ban')
  .option('--for <seconds>', 'how long', '3600')
  .option('--reason <text>', 'why, for the list')
  .option('-c, --config <file>', 'the config the server runs with')
  .option('--admin <host:port>', 'admin address of the server (default 127.0.0.1:8089)')
  .option('--json', 'print the ban as JSON')
  .addHelpText('after', '\nExample:\n  switchboard bans add 203.0.113.9 --for 86400 --reason "scanner"')
  .action(async (address: string, opts: BansOptions & { for: string; reason?: string }) => {
    await addBan(address, { ...bans.opts<BansOptions>(), ...opts, seconds: opts.for, detail: opts.reason });
  });

program
  .command('cdr')
  .description('call detail records: a row per call leg, newest first, filtered; as a table, JSON or CSV')
  .option('-c, --config <file>', 'the config the server runs with (to find its data directory)')
  .option('--data <dir>', 'the data directory to read (default: the config\'s, or ./data)')
  .option('--since <when>', 'calls that started at or after WHEN: 30m, 2h, 7d, 2026-12-04, 2026-12-04T09:30 (UTC unless a zone is given)')
  .option('--until <when>', 'calls that started before WHEN (same forms)')
  .option('--src <number>', 'calls from this number')
  .option('--dst <number>', 'calls to this number')
  .option('--disposition <d>', 'ANSWERED, "NO ANSWER" (or no-answer), BUSY or FAILED')
  .option('--limit <n>', `at most N rows (default ${TABLE_LIMIT} in the table, all with --json/--csv; 0 for all)`)
  .option('--json', 'print a JSON array of rows: {uniqueid, linkedid, start, answer, end, duration, billsec, disposition, src, dst, context, channel, dstchannel, lastapp, trunk, clid, hangupcause}')
  .option('--csv', 'print CSV (RFC 4180): a header line, then one line per row, same keys as --json')
  .addHelpText(
    'after',
    '\nReads the database directly: works with the server running or stopped.\n' +
      'Examples:\n  switchboard cdr --config switchboard.yaml --since 1d\n  switchboard cdr --src 1001 --disposition "no answer" --json\n' +
      '  switchboard cdr --since 2026-12-01 --until 2026-12-02 --csv > 2026-12-01.csv',
  )
  .exitOverride((err) => {
    // Bad usage exits 2, as for the other commands that check their flags; --help still exits 0.
    throw err.exitCode === 0 ? err : new CommanderError(2, err.code, err.message);
  })
  .action((opts: CdrOptions) => {
    try {
      runCdr(opts);
    } catch (err) {
      if (!(err instanceof CdrUsageError)) throw err;
      console.error(`switchboard cdr: ${err.message}`);
      process.exitCode = 2;
    }
  });

const sip = program
  .command('sip')
  .description('SIP tools')
  .addHelpText('after', '\nExample:\n  switchboard sip check invite.txt');
sip
  .command('check')
  .description('parse one raw SIP message (as pasted from a capture) and print it as JSON, or why it is invalid')
  .argument('[file]', 'file holding the message, or - for standard input', '-')
  .addHelpText('after', '\nExamples:\n  switchboard sip check invite.txt\n  printf "OPTIONS sip:a@b SIP/2.0\\r\\n..." | switchboard sip check -')
  .action((file: string) => {
    let input: Buffer;
    try {
      input = file === '-' ? readFileSync(0) : readFileSync(file);
    } catch (err) {
      console.error(`cannot read ${file}: ${(err as Error).message}`);
      process.exit(2);
    }
    const result = checkMessage(input);
    console.log(JSON.stringify(result.json, null, 2));
    process.exit(result.exitCode);
  });

addPbxCommands(program);
addPhoneCommands(program);

program.exitOverride();
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  console.error(`switchboard: ${(err as Error).message}`);
  process.exit(1);
}
