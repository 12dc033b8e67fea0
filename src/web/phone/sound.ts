/**
 * The phone's own sounds and the remote level meter, all WebAudio: a ringtone
 * for incoming calls (no audio file), a short dual tone as keypad feedback, and
 * an AnalyserNode on the remote stream.
 *
 * Browsers let an AudioContext run only after a user gesture, so the context
 * is made on the first click (unlock()) and reused.
 */

let ctx: AudioContext | undefined;

export function unlock(): AudioContext | undefined {
  if (!ctx) {
    try {
      ctx = new AudioContext();
    } catch {
      return undefined;
    }
  }
  if (ctx.state === 'suspended') ctx.resume().catch(() => undefined);
  return ctx;
}

function tone(ac: AudioContext, out: AudioNode, freqs: number[], at: number, seconds: number, gain: number): void {
  const g = ac.createGain();
  // Short ramps so the tone starts and stops without clicks.
  g.gain.setValueAtTime(0, at);
  g.gain.linearRampToValueAtTime(gain, at + 0.01);
  g.gain.setValueAtTime(gain, at + seconds - 0.01);
  g.gain.linearRampToValueAtTime(0, at + seconds);
  g.connect(out);
  for (const f of freqs) {
    const o = ac.createOscillator();
    o.frequency.value = f;
    o.connect(g);
    o.start(at);
    o.stop(at + seconds);
  }
}

/** The classic 440 + 480 Hz ring, 2 s on and 4 s off, until stop() is called. */
export function startRingtone(): { stop(): void } {
  const ac = unlock();
  if (!ac) return { stop: () => undefined };
  // One output for all rings, so stop() silences a ring already playing (answering mid-ring).
  const out = ac.createGain();
  out.connect(ac.destination);
  const ring = (): void => tone(ac, out, [440, 480], ac.currentTime + 0.05, 2, 0.15);
  ring();
  const timer = setInterval(ring, 6000);
  return {
    stop: () => {
      clearInterval(timer);
      out.disconnect();
    },
  };
}

/** The DTMF pair for a key, played quietly to the user as they press it. */
const DTMF_FREQS: Readonly<Record<string, [number, number]>> = {
  '1': [697, 1209], '2': [697, 1336], '3': [697, 1477],
  '4': [770, 1209], '5': [770, 1336], '6': [770, 1477],
  '7': [852, 1209], '8': [852, 1336], '9': [852, 1477],
  '*': [941, 1209], '0': [941, 1336], '#': [941, 1477],
};

export function keyFeedback(key: string): void {
  const ac = unlock();
  const f = DTMF_FREQS[key];
  if (ac && f) tone(ac, ac.destination, f, ac.currentTime, 0.1, 0.05);
}

/** Level of a stream, 0..1 on a -60..0 dBFS scale, read on demand. */
export interface LevelMeter {
  read(): number;
  close(): void;
}

export function meterFor(stream: MediaStream): LevelMeter | undefined {
  const ac = unlock();
  if (!ac || stream.getAudioTracks().length === 0) return undefined;
  const source = ac.createMediaStreamSource(stream);
  const analyser = ac.createAnalyser();
  analyser.fftSize = 1024;
  // Not connected to the destination: the <audio> element already plays the stream.
  source.connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  return {
    read(): number {
      analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const v of buf) sum += v * v;
      const rms = Math.sqrt(sum / buf.length);
      const db = rms > 0 ? 20 * Math.log10(rms) : -Infinity;
      return Math.min(1, Math.max(0, (db + 60) / 60));
    },
    close(): void {
      source.disconnect();
      analyser.disconnect();
    },
  };
}
