/**
 * The verbs of the one call-control engine. The PBX dialplan (YAML) compiles
 * to these, and TwiML will too, so each is named and shaped after Twilio's
 * verb where Twilio has one (snake_case fields), and after Asterisk's
 * application where only a PBX has one (voicemail, park, directory).
 *
 * Every string field may hold `${VAR}` / `${VAR:offset[:length]}` references;
 * they are substituted when the verb runs, not when it is compiled.
 */

/** Where a dialplan jump lands: a context, and an extension in it (`s` by default). */
export interface Target {
  context: string;
  exten?: string;
}

/** Something played inside gather/record/queue: speech or files (never waits for a key by itself). */
export type Prompt = { say: string; voice?: string } | { play: string } | { tone: ToneSpec };

/** `350+440` dial tone, `1000/200` beep of 200 ms; frequencies in Hz, optional duration in ms. */
export interface ToneSpec {
  freqs: number[];
  ms?: number;
}

export interface AnswerVerb {
  verb: 'answer';
}

export interface HangupVerb {
  verb: 'hangup';
  /** Before answer: the SIP status to reject with (486 busy, 404, 403 ...). */
  status?: number;
}

/** Twilio `<Reject>`: refuse an unanswered call. */
export interface RejectVerb {
  verb: 'reject';
  reason: 'busy' | 'rejected';
}

export interface PauseVerb {
  verb: 'pause';
  /** Seconds. */
  length: number;
}

export interface PlayVerb {
  verb: 'play';
  /** WAV files played one after another (paths resolved at compile time). */
  files: string[];
  /** Or a tone instead of files. */
  tone?: ToneSpec;
  /** Times to play (0 = until the call leaves this verb some other way). */
  loop: number;
  /** Twilio `digits`: RFC 4733 keys sent to the caller instead of audio. */
  digits?: string;
}

export interface SayVerb {
  verb: 'say';
  text: string;
  voice?: string;
  loop: number;
}

export interface GatherVerb {
  verb: 'gather';
  /** Stop after this many keys (undefined: until finish_on_key or the timeout). */
  num_digits?: number;
  /** Seconds to wait for the first key after the prompts end, and between keys. */
  timeout: number;
  /** The key that ends input ('' for none); it is not part of the digits. */
  finish_on_key: string;
  /** Played in order; the first key cuts them off. */
  prompts: Prompt[];
  /**
   * Where the digits go. Undefined: dialled as an extension of the current
   * context (Asterisk's Background + WaitExten): a match runs that
   * extension, no match runs `i`, no input runs `t` (or falls through when
   * the context has no `t`). `var`: stored in that variable and the next
   * verb runs.
   */
  var?: string;
}

export interface RecordVerb {
  verb: 'record';
  /** Seconds. */
  max_length: number;
  /** Seconds of silence that end the recording (0: never). */
  timeout: number;
  finish_on_key: string;
  play_beep: boolean;
  /** Variable that receives the file's path. */
  var: string;
}

/** One party `dial` rings: an extension/user, a SIP URI, or a number through the outbound routes. */
export interface DialTarget {
  /** `1001`, `sip:bob@host`, `+4930...`; substituted at run time. */
  to: string;
}

export interface DialVerb {
  verb: 'dial';
  targets: DialTarget[];
  /** `simultaneous` rings all at once (Twilio's several `<Number>`s); `sequential` one after another. */
  strategy: 'simultaneous' | 'sequential';
  /** Seconds each attempt (or the whole simultaneous ring) may ring. */
  timeout: number;
  caller_id?: string;
  /** Seconds the bridged call may last (0: no limit). */
  time_limit: number;
  /** Force a trunk by name instead of the outbound routes (for numbers). */
  trunk?: string;
  /** Music on hold class played instead of ringback (ring groups that queue). */
  ringback?: 'ring' | 'moh';
}

export interface GotoVerb {
  verb: 'goto';
  target: Target;
}

/** Asterisk's GotoIfTime: jump when the calendar is open (`then`), or closed (`else`). */
export interface GotoIfTimeVerb {
  verb: 'goto_if_time';
  calendar: string;
  then?: Target;
  else?: Target;
}

export interface SetVerb {
  verb: 'set';
  vars: Record<string, string>;
}

export interface VoicemailVerb {
  verb: 'voicemail';
  mailbox: string;
  /** Which greeting: unavailable (default) or busy. */
  greeting: 'unavailable' | 'busy';
}

export interface VoicemailMainVerb {
  verb: 'voicemail_main';
  /** Log straight into this mailbox (the caller's own when omitted: asks for none if it is theirs). */
  mailbox?: string;
}

export interface EnqueueVerb {
  verb: 'enqueue';
  queue: string;
}

export interface ConferenceVerb {
  verb: 'conference';
  room: string;
  muted: boolean;
  /** This caller starts the room for those waiting for a leader. */
  leader: boolean;
}

export interface ParkVerb {
  verb: 'park';
  /** A slot, or the first free one. */
  slot?: string;
}

/** Takes a parked call out of its slot (dialling 701..720). */
export interface ParkedCallVerb {
  verb: 'parked_call';
  slot: string;
}

export interface DirectoryVerb {
  verb: 'directory';
  /** Context in which the chosen extension is dialled (the current one by default). */
  context?: string;
}

/** Queue member and forwarding feature codes (*45 log in, *21 forward ...). */
export interface FeatureVerb {
  verb: 'feature';
  name: FeatureName;
  /** The argument keyed after the code (a forward target), substituted at run time. */
  arg?: string;
}

export type FeatureName =
  | 'queue_login'
  | 'queue_logout'
  | 'queue_pause'
  | 'queue_unpause'
  | 'forward_always'
  | 'forward_busy'
  | 'forward_noanswer'
  | 'forward_off'
  | 'dnd_on'
  | 'dnd_off';

export type Verb =
  | AnswerVerb
  | HangupVerb
  | RejectVerb
  | PauseVerb
  | PlayVerb
  | SayVerb
  | GatherVerb
  | RecordVerb
  | DialVerb
  | GotoVerb
  | GotoIfTimeVerb
  | SetVerb
  | VoicemailVerb
  | VoicemailMainVerb
  | EnqueueVerb
  | ConferenceVerb
  | ParkVerb
  | ParkedCallVerb
  | DirectoryVerb
  | FeatureVerb;

export type VerbName = Verb['verb'];

/** A verb as compiled from a file: where it was written, for errors and the CDR's lastapp. */
export type Step = Verb & { line?: number };
