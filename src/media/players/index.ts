export { openSource, parseSourceSpec, toMonoAt, type AudioSource, type AudioSourceSpec } from './source.js';
export { WavRecorder } from './recorder.js';
