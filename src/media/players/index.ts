export { openSource, parseSourceSpec, toMonoAt, type AudioSource, type AudioSourceSpec, type ToneSourceSpec } from './source.js';
export { BEEP, CONFERENCE_JOIN, CONFERENCE_LEAVE, parseToneText, progressTone, toneSpec } from './tones.js';
export { clearMohCache, defaultMohFolder, loadWavFolder, mohSource, MohError, type MohOptions, type WavFolder } from './moh.js';
export { WavRecorder } from './recorder.js';
export {
  MessageRecorder,
  RecorderError,
  recoverRecordings,
  type FinishOptions,
  type MessageRecorderOptions,
  type RecorderStop,
  type RecordingResult,
} from './message-recorder.js';
export { MicSource, Speaker, requireSox } from './sox.js';
