export {
  ConferenceMixer,
  MixerError,
  TICK_MS,
  type AddOptions,
  type ConferenceMixerEvents,
  type ConferenceMixerOptions,
  type ParticipantInfo,
} from './conference-mixer.js';
