// Peer-to-peer WebRTC over our signaling (offer / answer / ice_candidate on /ws/chat), with the
// spec's media constraints, mute and camera switches, and quality from getStats.
import { h } from "./dom";
import { type MessageKey, t } from "./i18n";
import { MARK_FIRST_FRAME } from "./timing";
import type { Realtime } from "./realtime";
import type { RecordingMedia } from "./recording";
import type { Identity } from "./session";
import type { RoomToken, Signal } from "./types";

export interface CallUi {
  stage: HTMLElement;
  controls: HTMLElement;
  quality: HTMLElement;
}

// As the spec's WebRTC section asks: 720p at 30 fps, echo cancellation and noise suppression.
const MEDIA: MediaStreamConstraints = {
  video: { width: 1280, height: 720, frameRate: 30 },
  audio: { echoCancellation: true, noiseSuppression: true },
};
// The spec's bitrates ("1.5 Mbps video, 128 Kbps audio"): the most each sender may use, so a
// fast path does not carry more than 720p30 needs (Chrome would go to ~2.5 Mbps).
const MAX_BITRATE: Record<string, number> = { video: 1_500_000, audio: 128_000 };
const STATS_EVERY_MS = 2500;
const DISCONNECTED_GRACE_MS = 2000; // a disconnected ICE path often recovers by itself
const RESTART_RETRY_MS = 4000; // restart again while the connection is not back
const ICE_REFRESH_BEFORE_MS = 10 * 60 * 1000; // fetch fresh TURN credentials this long before
const ICE_REFRESH_MIN_MS = 60 * 1000;
const REPORT_EVERY = 2; // samples: call_stats goes to the server about every 5 s

interface Sample {
  at: number;
  bytes: number;
  packetsReceived: number;
  packetsLost: number;
}

export class PeerCall implements RecordingMedia {
  hasVideo = false;
  hasAudio = false;
  private pc!: RTCPeerConnection;
  private iceServers: RTCIceServer[];
  private restartTimer = 0;
  private refreshTimer = 0;
  private connected = false;
  private local: MediaStream | null = null;
  private localVideo: HTMLVideoElement;
  private remoteVideo: HTMLVideoElement;
  private queued: RTCIceCandidateInit[] = [];
  private offered = false;
  private stopped = false;
  private statsTimer = 0;
  private samples = 0;
  private previous: Sample | null = null;
  private offs: Array<() => void> = [];
  private muteButton: HTMLButtonElement;
  private cameraButton: HTMLButtonElement;
  private readonly isHost: boolean;
  private readonly relayOffered: boolean;

  constructor(
    private readonly roomId: string,
    me: Identity,
    private readonly rt: Realtime,
    token: RoomToken,
    private readonly ui: CallUi,
    otherName: string | null,
    hangUp: () => void,
  ) {
    this.isHost = me.role === "DOCTOR"; // the contract: the host (doctor) offers
    const config = token.configuration ?? { stunServers: [], turnServers: [] };
    this.relayOffered = (config.turnServers ?? []).length > 0;
    this.iceServers = iceServers(config);
    this.scheduleIceRefresh(config);
    this.remoteVideo = h("video", {
      class: "remote-video",
      autoplay: true,
      playsinline: true,
      ...(otherName ? { i18nLabel: "remoteVideo", i18nVars: JSON.stringify({ name: otherName }) } : { i18nLabel: "remoteVideoGeneric" }),
    });
    this.localVideo = h("video", { class: "local-video", autoplay: true, playsinline: true, i18nLabel: "localVideo" });
    this.localVideo.muted = true;
    ui.stage.append(this.remoteVideo, this.localVideo);
    this.muteButton = toggle("mute", "mute-button", (off) => this.setTrack("audio", !off));
    this.cameraButton = toggle("cameraOff", "camera-button", (off) => this.setTrack("video", !off));
    ui.controls.append(
      this.muteButton,
      this.cameraButton,
      h("button", { type: "button", class: "danger hang-up", onclick: hangUp },
        h("span", { i18n: "hangUp" })),
    );
    this.newConnection();
    this.wire();
  }

  /** Camera and microphone (720p, echo cancellation, noise suppression) into the connection. */
  async open(): Promise<void> {
    try {
      this.local = await navigator.mediaDevices.getUserMedia(MEDIA);
    } catch (error) {
      // Still take part: receive the other side even without a camera or microphone.
      this.addMedia();
      this.muteButton.disabled = true;
      this.cameraButton.disabled = true;
      throw error;
    }
    if (this.stopped) {
      // The call ended while the browser was asking for the camera: let go of it at once.
      for (const track of this.local.getTracks()) track.stop();
      this.local = null;
      return;
    }
    this.hasVideo = this.local.getVideoTracks().length > 0;
    this.hasAudio = this.local.getAudioTracks().length > 0;
    this.addMedia();
    this.localVideo.srcObject = this.local;
  }

  /** Our tracks into the current connection (receive-only without camera and microphone). */
  private addMedia(): void {
    if (this.local) {
      for (const track of this.local.getTracks()) this.pc.addTrack(track, this.local);
    } else {
      this.pc.addTransceiver("audio", { direction: "recvonly" });
      this.pc.addTransceiver("video", { direction: "recvonly" });
    }
  }

  /** A peer connection with the current ICE servers and our handlers. */
  private newConnection(): void {
    this.pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.connected = false;
    const pc = this.pc;
    pc.ontrack = (event) => {
      if (pc !== this.pc) return;
      const stream = event.streams[0] ?? new MediaStream([event.track]);
      if (this.remoteVideo.srcObject !== stream) {
        this.remoteVideo.srcObject = stream;
        this.watchFirstFrame();
      }
    };
    pc.onicecandidate = (event) => {
      if (event.candidate && pc === this.pc) {
        this.rt.call("ice_candidate", { roomId: this.roomId, candidate: event.candidate.toJSON() }).catch(() => undefined);
      }
    };
    pc.oniceconnectionstatechange = () => {
      if (pc !== this.pc) return;
      const state = pc.iceConnectionState;
      if (state === "connected" || state === "completed") {
        window.clearTimeout(this.restartTimer);
        this.restartTimer = 0;
        this.connected = true;
        this.onMediaState(true);
      } else if (state === "disconnected" || state === "failed") {
        this.onMediaState(false);
        if (state === "failed" && !this.connected) this.reportFailure(this.relayOffered ? "turn_failed" : "ice_failed");
        // The offerer restarts ICE: at once when failed, after a short wait when disconnected
        // (a disconnected path often comes back by itself).
        this.scheduleRestart(state === "failed" ? 0 : DISCONNECTED_GRACE_MS);
      }
    };
  }

  /** Set by the call view: media flows (true) or stopped (false). */
  onMediaState: (flowing: boolean) => void = () => {};

  /** Host only: offer again with an ICE restart (new candidates, same media), retried while
   * the connection is not back. */
  scheduleRestart(delayMs: number): void {
    if (!this.isHost || this.stopped || !this.offered || this.restartTimer) return;
    this.restartTimer = window.setTimeout(() => {
      this.restartTimer = 0;
      const state = this.pc.iceConnectionState;
      if (this.stopped || state === "connected" || state === "completed") return;
      void this.offer(true).catch(() => undefined);
      this.scheduleRestart(RESTART_RETRY_MS);
    }, delayMs);
  }

  /** The other side came back with a new page (a reload): a new connection, renegotiated.
   * The host offers; the guest waits for that offer. */
  renegotiate(): void {
    if (this.stopped) return;
    this.rebuild();
    if (this.isHost) void this.offer(false).catch(() => undefined);
  }

  private rebuild(): void {
    window.clearTimeout(this.restartTimer);
    this.restartTimer = 0;
    this.pc.close();
    this.queued = [];
    this.remoteVideo.classList.remove("playing");
    this.newConnection();
    this.addMedia();
  }

  /** The other side's or our socket is back: if media is not flowing, restart ICE now. */
  reconnected(): void {
    const state = this.pc.iceConnectionState;
    if (state !== "connected" && state !== "completed") {
      window.clearTimeout(this.restartTimer);
      this.restartTimer = 0;
      this.scheduleRestart(0);
    }
  }

  /** TURN credentials expire: fetch fresh ones over the socket a while before, for the next
   * ICE restart (setConfiguration keeps the running connection as it is). */
  private scheduleIceRefresh(config: RoomToken["configuration"]): void {
    const expiry = Math.min(...(config.turnServers ?? []).map((s) => Number((s.username ?? "").split(":")[0]) * 1000));
    if (!Number.isFinite(expiry)) return;
    const wait = Math.max(ICE_REFRESH_MIN_MS, expiry - Date.now() - ICE_REFRESH_BEFORE_MS);
    this.refreshTimer = window.setTimeout(() => void this.refreshIce(), Math.min(wait, 2 ** 31 - 1));
  }

  private async refreshIce(): Promise<void> {
    if (this.stopped) return;
    try {
      const ack = await this.rt.call<{ configuration: RoomToken["configuration"] }>(
        "call_ice_servers", { roomId: this.roomId });
      this.iceServers = iceServers(ack.configuration);
      this.pc.setConfiguration({ iceServers: this.iceServers });
      this.scheduleIceRefresh(ack.configuration);
    } catch {
      this.refreshTimer = window.setTimeout(() => void this.refreshIce(), ICE_REFRESH_MIN_MS);
    }
  }

  private wire(): void {
    const mine = (signal: Signal) => signal.roomId === this.roomId;
    this.offs.push(
      this.rt.on<Signal>("offer", (s) => mine(s) && void this.onOffer(s)),
      this.rt.on<Signal>("answer", (s) => mine(s) && void this.onAnswer(s)),
      this.rt.on<Signal>("ice_candidate", (s) => mine(s) && void this.onCandidate(s)),
    );
    this.statsTimer = window.setInterval(() => void this.measure(), STATS_EVERY_MS);
  }

  /** Tell the server this call's media failed (counted once per call in its failure metric). */
  reportFailure(reason: "ice_failed" | "turn_failed" | "media_failed"): void {
    this.rt.call("call_failure", { roomId: this.roomId, reason }).catch(() => undefined);
  }

  /** Both participants are in (call_started, or our join found the call in progress). */
  bothIn(): void {
    if (this.isHost && !this.offered) void this.offer(false);
  }

  private async offer(iceRestart: boolean): Promise<void> {
    this.offered = true;
    const pc = this.pc;
    if (pc.signalingState === "have-local-offer") await pc.setLocalDescription({ type: "rollback" });
    const offer = await pc.createOffer({ iceRestart });
    await pc.setLocalDescription(offer);
    await capBitrates(pc);
    // Not answered (the other page was not listening yet)? Offer again until connected.
    this.scheduleRestart(RESTART_RETRY_MS);
    await this.rt.call("offer", { roomId: this.roomId, sdp: { type: offer.type, sdp: offer.sdp } });
  }

  /** An offer or answer from another peer connection than the one we talk to (the other
   * page was reloaded): start over with a new connection of our own. */
  private fromNewPeer(sdp: string | undefined): boolean {
    const current = this.pc.remoteDescription?.sdp;
    return Boolean(current && sdp && fingerprint(current) !== fingerprint(sdp));
  }

  private async onOffer(signal: Signal): Promise<void> {
    if (!signal.sdp) return;
    if (this.fromNewPeer(signal.sdp.sdp)) this.rebuild();
    const pc = this.pc;
    if (pc.signalingState === "have-local-offer") await pc.setLocalDescription({ type: "rollback" });
    await pc.setRemoteDescription(signal.sdp);
    await this.flushCandidates();
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    await capBitrates(pc);
    await this.rt.call("answer", { roomId: this.roomId, sdp: { type: answer.type, sdp: answer.sdp } });
  }

  private async onAnswer(signal: Signal): Promise<void> {
    if (!signal.sdp) return;
    if (this.fromNewPeer(signal.sdp.sdp)) {
      this.renegotiate();
      return;
    }
    if (this.pc.signalingState !== "have-local-offer") return;
    await this.pc.setRemoteDescription(signal.sdp);
    await this.flushCandidates();
  }

  private async onCandidate(signal: Signal): Promise<void> {
    if (!signal.candidate) return;
    // Candidates can overtake the offer or answer they belong to: hold them until it is set.
    if (!this.pc.remoteDescription) this.queued.push(signal.candidate);
    else await this.pc.addIceCandidate(signal.candidate).catch(() => undefined);
  }

  private async flushCandidates(): Promise<void> {
    const queued = this.queued;
    this.queued = [];
    for (const candidate of queued) await this.pc.addIceCandidate(candidate).catch(() => undefined);
  }

  private watchFirstFrame(): void {
    const video = this.remoteVideo;
    const mark = () => {
      if (performance.getEntriesByName(MARK_FIRST_FRAME).length === 0) performance.mark(MARK_FIRST_FRAME);
      video.classList.add("playing");
    };
    // The first decoded frame; `playing` as a fallback where frame callbacks are missing.
    if (typeof video.requestVideoFrameCallback === "function") video.requestVideoFrameCallback(() => mark());
    else (video as HTMLVideoElement).addEventListener("playing", mark, { once: true });
  }

  private setTrack(kind: "audio" | "video", enabled: boolean): void {
    for (const track of this.local?.getTracks() ?? []) if (track.kind === kind) track.enabled = enabled;
    if (kind === "video") this.localVideo.classList.toggle("camera-off", !enabled);
  }

  // --- quality ------------------------------------------------------------------------------

  private async measure(): Promise<void> {
    if (this.pc.connectionState === "closed") return;
    const report = await this.pc.getStats();
    let bytes = 0;
    let packetsReceived = 0;
    let packetsLost = 0;
    let fps = 0;
    let width = 0;
    let height = 0;
    let rtt: number | null = null;
    report.forEach((stat) => {
      if (stat.type === "inbound-rtp") {
        bytes += stat.bytesReceived ?? 0;
        packetsReceived += stat.packetsReceived ?? 0;
        packetsLost += Math.max(0, stat.packetsLost ?? 0);
        if (stat.kind === "video") {
          fps = stat.framesPerSecond ?? 0;
          width = stat.frameWidth ?? 0;
          height = stat.frameHeight ?? 0;
        }
      } else if (stat.type === "candidate-pair" && stat.nominated && stat.state === "succeeded") {
        if (typeof stat.currentRoundTripTime === "number") rtt = stat.currentRoundTripTime * 1000;
      }
    });
    const now: Sample = { at: performance.now(), bytes, packetsReceived, packetsLost };
    const before = this.previous;
    this.previous = now;
    if (!before) return;
    const seconds = (now.at - before.at) / 1000;
    const received = now.packetsReceived - before.packetsReceived;
    const lost = now.packetsLost - before.packetsLost;
    const stats = {
      roomId: this.roomId,
      bitrateKbps: Math.round(((now.bytes - before.bytes) * 8) / 1000 / Math.max(seconds, 0.001)),
      packetLossPct: received + lost > 0 ? Math.round((lost / (received + lost)) * 1000) / 10 : 0,
      rttMs: rtt === null ? null : Math.round(rtt),
      framesPerSecond: Math.round(fps),
      width,
      height,
    };
    let score = qualityScore(stats);
    this.samples += 1;
    // The server wants every figure; skip a report until the round-trip time is known.
    if (this.samples % REPORT_EVERY === 0 && stats.rttMs !== null) {
      const ack = await this.rt.call<{ qualityScore?: number }>("call_stats", stats).catch(() => null);
      if (typeof ack?.qualityScore === "number") score = ack.qualityScore;
    }
    this.showQuality(score, stats.bitrateKbps, stats.packetLossPct, stats.rttMs);
  }

  private showQuality(score: number, kbps: number, loss: number, rtt: number | null): void {
    const level = score >= 70 ? "good" : score >= 40 ? "fair" : "poor";
    const key: MessageKey = level === "good" ? "qualityGood" : level === "fair" ? "qualityFair" : "qualityPoor";
    this.ui.quality.className = `quality ${level}`;
    this.ui.quality.dataset.score = String(score);
    const text = this.ui.quality.querySelector<HTMLElement>(".quality-text");
    if (text) {
      text.dataset.i18n = key;
      text.textContent = t(key);
    }
    this.ui.quality.title = t("qualityDetails", { kbps, loss, rtt: rtt ?? "–" });
  }

  /** What the doctor's recorder composes (recording.ts). */
  videos(): { local: HTMLVideoElement; remote: HTMLVideoElement } {
    return { local: this.localVideo, remote: this.remoteVideo };
  }

  streams(): { local: MediaStream | null; remote: MediaStream | null } {
    return { local: this.local, remote: this.remoteVideo.srcObject as MediaStream | null };
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.restartTimer);
    window.clearTimeout(this.refreshTimer);
    window.clearInterval(this.statsTimer);
    for (const off of this.offs) off();
    for (const track of this.local?.getTracks() ?? []) track.stop();
    this.pc.close();
    this.remoteVideo.srcObject = null;
    this.localVideo.srcObject = null;
  }
}

/** At most the spec's bitrate on each of our senders (RTCRtpSender.setParameters). */
async function capBitrates(pc: RTCPeerConnection): Promise<void> {
  for (const sender of pc.getSenders()) {
    const most = sender.track ? MAX_BITRATE[sender.track.kind] : undefined;
    if (!most) continue;
    const parameters = sender.getParameters();
    if (!parameters.encodings?.length || parameters.encodings.every((e) => e.maxBitrate === most)) continue;
    for (const encoding of parameters.encodings) encoding.maxBitrate = most;
    await sender.setParameters(parameters).catch(() => undefined); // best effort: never stops a call
  }
}

/** The DTLS fingerprint of a session description: one per peer connection. */
function fingerprint(sdp: string): string {
  return /^a=fingerprint:(.*)$/m.exec(sdp)?.[1]?.trim() ?? "";
}

function iceServers(config: RoomToken["configuration"] | undefined): RTCIceServer[] {
  return [
    ...(config?.stunServers ?? []).map((urls) => ({ urls })),
    ...(config?.turnServers ?? []).map((s) => ({ urls: s.urls, username: s.username, credential: s.credential })),
  ];
}

/** The server's quality score (docs/calls.md, calls/quality.py) of what this side sees, shown
 * between the server's `call_stats` acks, so the indicator never jumps between two formulas. */
function qualityScore(stats: { bitrateKbps: number; packetLossPct: number; rttMs: number | null;
  framesPerSecond: number; width: number; height: number }): number {
  const clamp = (value: number) => Math.max(0, Math.min(1, value));
  const rtt = stats.rttMs ?? 150; // unknown yet: not held against the call
  return Math.round(
    30 * clamp(1 - stats.packetLossPct / 5) +
    25 * clamp(stats.bitrateKbps / 1500) +
    20 * clamp(1 - (rtt - 150) / (600 - 150)) +
    15 * clamp(stats.framesPerSecond / 30) +
    10 * clamp((stats.width * stats.height) / (1280 * 720)),
  );
}

/** A switch with a constant name; aria-pressed says whether it is on (muted, camera off). */
function toggle(key: MessageKey, className: string, apply: (pressed: boolean) => void): HTMLButtonElement {
  const button = h("button", { type: "button", class: `toggle ${className}`, "aria-pressed": "false" },
    h("span", { i18n: key }));
  button.addEventListener("click", () => {
    const pressed = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", String(pressed));
    apply(pressed);
  });
  return button;
}
