/**
 * A werift RTCPeerConnection as the far end of a browser in the harness
 * tests (and as the "browser" in bench/webrtc.ts): loopback only, never a
 * public STUN server (werift's default list has one), host candidates on
 * 127.0.0.1 alone (its defaults skip loopback and offer every other
 * interface).
 */
import { RTCPeerConnection, RTCRtpCodecParameters, type PeerConfig, type RTCRtpTransceiver } from 'werift';

export type WeriftCodec = 'opus' | 'pcmu';

export function weriftCodec(codec: WeriftCodec): RTCRtpCodecParameters {
  return codec === 'opus'
    ? new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111 })
    : new RTCRtpCodecParameters({ mimeType: 'audio/PCMU', clockRate: 8000, channels: 1, payloadType: 0 });
}

/** werift options that keep ICE on 127.0.0.1 (plus `extra`, e.g. TURN servers or relay policy). */
export function loopbackPeerConfig(extra: Partial<PeerConfig> = {}, codecs: WeriftCodec[] = ['opus', 'pcmu']): Partial<PeerConfig> {
  return {
    iceServers: [],
    // No interface is enumerated at all (werift's interface filter keeps every address
    // when none matches, and loopback is never enumerated), the one host address is
    // 127.0.0.1, and its sockets bind there.
    iceUseIpv4: false,
    iceUseIpv6: false,
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceInterfaceAddresses: { udp4: '127.0.0.1' },
    codecs: { audio: codecs.map(weriftCodec) },
    ...extra,
  };
}

/** Resolves once ICE gathering is complete (non-trickle SDP), or after `timeoutMs`. */
export async function gathered(pc: RTCPeerConnection, timeoutMs = 5000): Promise<void> {
  if (pc.iceGatheringState === 'complete') return;
  await Promise.race([
    pc.iceGatheringStateChange.watch((s) => s === 'complete'),
    new Promise<void>((resolve) => {
      setTimeout(resolve, timeoutMs).unref();
    }),
  ]);
}

export interface EchoPeer {
  pc: RTCPeerConnection;
  transceiver: RTCRtpTransceiver;
  /** The answer SDP, all candidates included. */
  answer: string;
  /** RTP packets received (and echoed) so far. */
  received(): number;
  close(): Promise<void>;
}

/**
 * Answers a browser's offer and sends every RTP packet it receives straight
 * back (werift rewrites SSRC, payload type, sequence and timestamp offsets):
 * the browser hears its own microphone through the whole path twice.
 */
export async function echoAnswer(offer: string, config: Partial<PeerConfig> = loopbackPeerConfig()): Promise<EchoPeer> {
  const pc = new RTCPeerConnection(config);
  let received = 0;
  try {
    // The track is announced during setRemoteDescription: listen before.
    pc.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => {
        received++;
        const t = pc.getTransceivers().find((x) => x.receiver.track === track);
        t?.sender.sendRtp(rtp).catch(() => undefined);
      });
    });
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    const transceiver = pc.getTransceivers().find((t) => t.kind === 'audio');
    if (!transceiver) throw new Error('the offer has no audio m-line');
    transceiver.setDirection('sendrecv');
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    return {
      pc,
      transceiver,
      answer: pc.localDescription!.sdp,
      received: () => received,
      close: () => pc.close(),
    };
  } catch (err) {
    await pc.close();
    throw err;
  }
}
