export { openSource, parseSourceSpec, toMonoAt, type AudioSource, type AudioSourceSpec } from './source.js';
export { WavRecorder } from './recorder.js';
export { MicSource, Speaker, requireSox } from './sox.js';
