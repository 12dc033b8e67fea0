/** The `switchboard pbx ...` commands: their options, help and exit codes (the work is in pbx.ts). */
import { Command, CommanderError } from 'commander';
import type { PbxView } from './pbx-admin.js';
import { PbxUsageError, runConferenceAction, runPbxView, type PbxOptions } from './pbx.js';

const VIEWS: { name: PbxView; description: string; json: string; example: string }[] = [
  {
    name: 'channels',
    description: 'legs up or ringing in the PBX: where each runs in the dialplan, its verb, whom it is bridged to (Asterisk: core show channels)',
    json: '[{channel, uniqueid, linkedid, caller, callerName, exten, context, state, app, peer, trunk, seconds}]',
    example: 'switchboard pbx channels --config switchboard.yaml',
  },
  {
    name: 'queues',
    description: 'each queue: callers waiting, members and their state, answered / abandoned / timed out, average wait, service level (Asterisk: queue show)',
    json: '[{name, strategy, waiting, answered, abandoned, timedOut, averageWait, longestWaitNow, serviceLevel, members: [...], callers: [...]}]',
    example: 'switchboard pbx queues',
  },
  {
    name: 'conferences',
    description: 'each conference room and its participants, numbered for kick / mute (Asterisk: confbridge list)',
    json: '[{room, participants: [{number, channel, caller, name, muted, leader, talking, seconds, rate}]}]',
    example: 'switchboard pbx conferences --json',
  },
  {
    name: 'voicemail',
    description: 'each mailbox with its new and old messages and where they are mailed (Asterisk: voicemail show users)',
    json: '[{mailbox, name, email, new, old}]',
    example: 'switchboard pbx voicemail',
  },
  {
    name: 'trunks',
    description: 'each SIP trunk: registering or IP peer, its carrier, its state, calls up on it (Asterisk: sip show registry)',
    json: '[{name, kind, server, state, expires, local, calls, maxCalls}]',
    example: 'switchboard pbx trunks --json',
  },
];

function common(cmd: Command, json: string): Command {
  return cmd
    .exitOverride((err) => {
      // Bad usage exits 2, as for cdr; --help still exits 0.
      throw err.exitCode === 0 ? err : new CommanderError(2, err.code, err.message);
    })
    .option('-c, --config <file>', 'the config the server runs with (to find its admin address)')
    .option('--admin <host:port>', 'admin address of the server (default 127.0.0.1:8089)')
    .option('--json', `print JSON for scripts: ${json}`);
}

export function addPbxCommands(program: Command): void {
  const pbx = program
    .command('pbx')
    .description('the PBX console: live channels, queues, conferences, voicemail and trunks of the running server; kick or mute in a conference')
    .addHelpText(
      'after',
      '\nExamples:\n  switchboard pbx channels\n  switchboard pbx queues --config switchboard.yaml\n  switchboard pbx conferences --json\n' +
        '  switchboard pbx conference 6000 mute 2',
    );
  for (const v of VIEWS) {
    common(pbx.command(v.name).description(v.description), v.json)
      .addHelpText('after', `\nExample:\n  ${v.example}`)
      .action(async (opts: PbxOptions) => {
        await runPbxView(v.name, opts);
      });
  }
  common(
    pbx
      .command('conference')
      .description('kick, mute or unmute participant N of a conference room (N: the # column of switchboard pbx conferences)')
      .argument('<room>', 'the room, e.g. 6000')
      .argument('<action>', 'kick, mute or unmute')
      .argument('<n>', 'the participant number'),
    '{room, number, action, channel, caller, name, changed}',
  )
    .addHelpText(
      'after',
      '\nExit codes: 0 done (or already so), 1 no such room or participant / no server / no PBX, 2 bad usage.\n' +
        'Examples:\n  switchboard pbx conference 6000 mute 2\n  switchboard pbx conference 6000 kick 3 --config switchboard.yaml',
    )
    .action(async (room: string, action: string, n: string, opts: PbxOptions) => {
      try {
        await runConferenceAction(room, action, n, opts);
      } catch (err) {
        if (!(err instanceof PbxUsageError)) throw err;
        console.error(`switchboard pbx conference: ${err.message}`);
        process.exitCode = 2;
      }
    });
}
