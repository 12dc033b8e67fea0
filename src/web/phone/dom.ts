/** The page's elements, looked up once; a missing id is a build mistake and fails loudly. */

function el<T extends HTMLElement>(id: string, type: new () => T): T {
  const e = document.getElementById(id);
  if (!(e instanceof type)) throw new Error(`the page has no ${type.name} #${id}`);
  return e;
}

export function pageElements() {
  return {
    status: el('status', HTMLElement),
    account: el('account', HTMLFormElement),
    user: el('user', HTMLInputElement),
    password: el('password', HTMLInputElement),
    server: el('server', HTMLInputElement),
    domain: el('domain', HTMLInputElement),
    remember: el('remember', HTMLInputElement),
    register: el('register', HTMLButtonElement),
    unregister: el('unregister', HTMLButtonElement),
    dial: el('dial', HTMLFormElement),
    number: el('number', HTMLInputElement),
    call: el('call', HTMLButtonElement),
    answer: el('answer', HTMLButtonElement),
    hangup: el('hangup', HTMLButtonElement),
    hold: el('hold', HTMLButtonElement),
    mute: el('mute', HTMLButtonElement),
    keypad: el('keypad', HTMLElement),
    callState: el('call-state', HTMLElement),
    callPeer: el('call-peer', HTMLElement),
    duration: el('call-duration', HTMLElement),
    level: el('level', HTMLMeterElement),
    lost: el('q-lost', HTMLElement),
    jitter: el('q-jitter', HTMLElement),
    rtt: el('q-rtt', HTMLElement),
    mos: el('q-mos', HTMLElement),
    audio: el('remote-audio', HTMLAudioElement),
    log: el('call-log', HTMLOListElement),
    logEmpty: el('call-log-empty', HTMLElement),
    clearLog: el('clear-log', HTMLButtonElement),
  };
}

export type PageElements = ReturnType<typeof pageElements>;

export function formatDuration(totalS: number): string {
  const s = Math.max(0, Math.floor(totalS));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
