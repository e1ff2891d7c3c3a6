// Call recording with consent (docs/recording.md): the doctor asks, the patient answers, both
// see an indicator while it runs and either can stop it. The doctor's browser records a canvas
// of both videos side by side plus a mix of both voices, and uploads a chunk every few seconds.
import { ApiError, api } from "./api";
import { alertText, announce, h } from "./dom";
import { describeError } from "./errors";
import { formatDuration, t } from "./i18n";
import type { Realtime } from "./realtime";
import { current, type Identity } from "./session";

const TIMESLICE_MS = 3000;
const FRAME_MS = 1000 / 30;
const HALF_WIDTH = 640;
const HEIGHT = 480;
const RETRY_MS = [500, 1000, 2000, 4000, 8000, 15000];

export interface RecordingMedia {
  /** This side's camera and microphone, and the other side's, as they play on screen. */
  videos(): { local: HTMLVideoElement; remote: HTMLVideoElement };
  streams(): { local: MediaStream | null; remote: MediaStream | null };
}

interface RecordingEvent {
  roomId: string;
  recordingId: string;
}
interface ConsentRequested extends RecordingEvent {
  requestedByName: string;
}
interface RecordingReady extends RecordingEvent {
  url: string;
  durationSeconds: number | null;
  size: number;
}
interface RecordingSummary {
  recordingId: string;
  status: string;
  requestedBy: string;
  chunks: number[];
}

/** The recording controls of one call view. */
export class RecordingPanel {
  readonly indicator: HTMLElement;
  readonly note: HTMLElement;
  private recordButton: HTMLButtonElement | null = null;
  private stopButton: HTMLButtonElement;
  private consent: HTMLElement | null = null;
  private recorder: ChunkRecorder | null = null;
  private audio: AudioContext | null = null;
  private offs: Array<() => void> = [];
  private callOver = false;
  private resumeChecked = false;

  constructor(
    private readonly roomId: string,
    private readonly me: Identity,
    private readonly rt: Realtime,
    private readonly media: RecordingMedia | null,
    controls: HTMLElement,
  ) {
    this.indicator = h("span", { class: "recording-indicator", role: "status", hidden: true },
      h("span", { class: "dot", "aria-hidden": "true" }), h("span", { i18n: "recordingOn" }));
    this.note = h("p", { class: "recording-note", role: "status" });
    this.stopButton = h("button", { type: "button", class: "stop-recording", hidden: true,
      onclick: () => void this.stop() }, h("span", { i18n: "stopRecording" }));
    if (me.role === "DOCTOR" && media) {
      this.recordButton = h("button", { type: "button", class: "record-button", disabled: true,
        onclick: () => void this.ask() }, h("span", { i18n: "record" }));
      controls.prepend(this.recordButton);
    }
    controls.prepend(this.stopButton);
    const mine = (e: RecordingEvent) => e.roomId === this.roomId;
    this.offs.push(
      rt.on<ConsentRequested>("recording_consent_requested", (e) => mine(e) && this.askConsent(e)),
      rt.on<RecordingEvent>("recording_started", (e) => mine(e) && this.started(e)),
      rt.on<RecordingEvent>("recording_declined", (e) => mine(e) && this.declined()),
      rt.on<RecordingEvent>("recording_stopped", (e) => mine(e) && void this.stopped()),
      rt.on<RecordingReady>("recording_ready", (e) => mine(e) && this.ready(e)),
      rt.on<RecordingEvent>("recording_failed", (e) => mine(e) && this.say(t("recordingFailed"))),
    );
  }

  /** Both are in: the doctor may ask; a recorder that was running before a reload resumes. */
  async callStarted(): Promise<void> {
    if (this.recordButton) this.recordButton.disabled = false;
    if (this.me.role !== "DOCTOR" || !this.media || this.resumeChecked) return;
    this.resumeChecked = true;
    const list = await api<{ recordings: RecordingSummary[] }>(
      "GET", `/api/v1/video-call/rooms/${this.roomId}/recordings`).catch(() => null);
    const running = list?.recordings.find((r) => r.status === "RECORDING" && r.requestedBy === this.me.userId);
    if (running) {
      const next = running.chunks.length ? Math.max(...running.chunks) + 1 : 0;
      this.showRunning(true);
      this.startRecorder(running.recordingId, next);
    }
  }

  private async ask(): Promise<void> {
    // The click is the user gesture that lets the page start audio processing.
    this.audio ??= new AudioContext();
    void this.audio.resume();
    if (this.recordButton) this.recordButton.disabled = true;
    try {
      await this.rt.call("recording_request", { roomId: this.roomId });
      this.say(t("recordingAsked"));
    } catch (error) {
      if (this.recordButton) this.recordButton.disabled = false;
      this.say(t("recordingError", { message: describeError(error) }));
    }
  }

  private askConsent(e: ConsentRequested): void {
    this.consent?.remove();
    const answer = (accepted: boolean) => {
      this.consent?.remove();
      this.consent = null;
      this.rt.call("recording_consent", { roomId: this.roomId, accepted })
        .catch((error: unknown) => this.say(t("recordingError", { message: describeError(error) })));
    };
    const allow = h("button", { type: "button", class: "primary consent-accept", i18n: "recordingAllow",
      onclick: () => answer(true) });
    const refuse = h("button", { type: "button", class: "danger consent-decline", i18n: "recordingRefuse",
      onclick: () => answer(false) });
    const vars = JSON.stringify({ name: e.requestedByName });
    this.consent = h("div", { class: "recording-consent", role: "alertdialog",
      "aria-labelledby": "consent-title", "aria-describedby": "consent-text" },
      h("h2", { id: "consent-title", i18n: "recordingConsentTitle" }),
      h("p", { id: "consent-text", i18n: "recordingConsentText", i18nVars: vars }),
      h("div", { class: "actions" }, allow, refuse));
    document.body.append(this.consent);
    allow.focus();
    alertText(t("recordingConsentText", { name: e.requestedByName }));
  }

  private started(e: RecordingEvent): void {
    this.showRunning(true);
    announce(t("recordingOn"));
    if (this.me.role === "DOCTOR" && this.media) this.startRecorder(e.recordingId, 0);
  }

  private startRecorder(recordingId: string, firstIndex: number): void {
    if (!this.media || this.recorder) return;
    this.audio ??= new AudioContext();
    this.recorder = new ChunkRecorder(this.roomId, recordingId, this.media, this.audio, firstIndex);
    this.recorder.onError = (message) => this.say(t("recordingError", { message }));
    this.recorder.start();
  }

  private declined(): void {
    this.consent?.remove();
    this.consent = null;
    this.showRunning(false);
    if (this.recordButton && !this.callOver) this.recordButton.disabled = false;
    this.say(t("recordingDeclined"));
  }

  /** Either side stops: capture ends at once, then the server is told (the last chunk follows). */
  private async stop(): Promise<void> {
    this.stopButton.disabled = true;
    await this.recorder?.stop();
    await this.rt.call("recording_stop", { roomId: this.roomId }).catch(() => undefined);
  }

  private async stopped(): Promise<void> {
    this.showRunning(false);
    if (this.recordButton && !this.callOver) this.recordButton.disabled = false;
    this.say(t("recordingSaving"));
    const recorder = this.recorder;
    this.recorder = null;
    await recorder?.stop();
    await recorder?.drained();
  }

  private ready(e: RecordingReady): void {
    const link = h("a", { href: e.url, target: "_blank", rel: "noopener", class: "recording-link" },
      t("recordingReady", { duration: formatDuration(e.durationSeconds ?? 0) }));
    this.note.replaceChildren(link);
    announce(link.textContent ?? "");
  }

  /** Hanging up: stop capturing first, so the last chunk is on its way before the call ends. */
  async beforeHangUp(): Promise<void> {
    await this.recorder?.stop();
  }

  /** The call ended (the server stops the recording); keep listening for recording_ready. */
  callEnded(): void {
    this.callOver = true;
    this.consent?.remove();
    this.consent = null;
    if (this.indicator.hidden === false) this.say(t("recordingSaving"));
    this.showRunning(false);
    void this.recorder?.stop();
  }

  dispose(): void {
    for (const off of this.offs) off();
    this.offs = [];
    this.consent?.remove();
    void this.recorder?.stop();
    void this.audio?.close().catch(() => undefined);
  }

  private showRunning(on: boolean): void {
    this.indicator.hidden = !on;
    this.stopButton.hidden = !on || this.callOver;
    this.stopButton.disabled = false;
    if (this.recordButton) this.recordButton.hidden = on;
  }

  private say(text: string): void {
    this.note.textContent = text;
  }
}

/** MediaRecorder over a composite of both videos and a mix of both voices; each chunk is PUT
 * with its index (retried until stored), so a crashed tab loses at most the chunk in flight. */
class ChunkRecorder {
  onError: (message: string) => void = () => {};
  private recorder: MediaRecorder | null = null;
  private canvas = document.createElement("canvas");
  private drawTimer = 0;
  private mixed: MediaStreamAudioDestinationNode | null = null;
  private sources: MediaStreamAudioSourceNode[] = [];
  private queue: Array<{ index: number; blob: Blob }> = [];
  private uploading: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private refused = false;

  constructor(
    private readonly roomId: string,
    private readonly recordingId: string,
    private readonly media: RecordingMedia,
    private readonly audio: AudioContext,
    private nextIndex: number,
  ) {}

  start(): void {
    this.canvas.width = 2 * HALF_WIDTH;
    this.canvas.height = HEIGHT;
    const context = this.canvas.getContext("2d");
    if (!context) throw new Error("no 2D canvas");
    const { local, remote } = this.media.videos();
    const draw = () => {
      context.fillStyle = "#000";
      context.fillRect(0, 0, this.canvas.width, this.canvas.height);
      fit(context, local, 0);
      fit(context, remote, HALF_WIDTH);
    };
    draw();
    // A timer, not requestAnimationFrame: it keeps drawing (slower) when the tab is hidden.
    this.drawTimer = window.setInterval(draw, FRAME_MS);
    const video = this.canvas.captureStream(30).getVideoTracks();
    void this.audio.resume();
    this.mixed = this.audio.createMediaStreamDestination();
    const { local: mine, remote: theirs } = this.media.streams();
    for (const stream of [mine, theirs]) {
      if (stream && stream.getAudioTracks().length) {
        const source = this.audio.createMediaStreamSource(new MediaStream(stream.getAudioTracks()));
        source.connect(this.mixed);
        this.sources.push(source);
      }
    }
    const stream = new MediaStream([...video, ...this.mixed.stream.getAudioTracks()]);
    const type = ["video/webm;codecs=vp8,opus", "video/webm"].find((m) => MediaRecorder.isTypeSupported(m));
    this.recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
    this.recorder.ondataavailable = (event) => {
      if (event.data.size > 0) this.enqueue(event.data);
    };
    this.recorder.start(TIMESLICE_MS);
  }

  /** Stop capturing; resolves once the last chunk is queued for upload. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    const recorder = this.recorder;
    this.stopping = new Promise<void>((resolve) => {
      if (!recorder || recorder.state === "inactive") return resolve();
      recorder.addEventListener("stop", () => resolve(), { once: true });
      recorder.stop();
    }).then(() => this.release());
    return this.stopping;
  }

  /** Every queued chunk stored (or refused). */
  async drained(): Promise<void> {
    while (this.uploading) await this.uploading;
  }

  private release(): void {
    window.clearInterval(this.drawTimer);
    for (const source of this.sources) source.disconnect();
    for (const track of this.recorder?.stream.getTracks() ?? []) track.stop();
  }

  private enqueue(blob: Blob): void {
    this.queue.push({ index: this.nextIndex++, blob });
    if (!this.uploading) {
      this.uploading = this.pump().finally(() => (this.uploading = null));
    }
  }

  private async pump(): Promise<void> {
    while (this.queue.length && !this.refused) {
      const chunk = this.queue[0];
      await this.upload(chunk.index, chunk.blob);
      this.queue.shift();
    }
  }

  private async upload(index: number, blob: Blob): Promise<void> {
    const path = `/api/v1/video-call/rooms/${this.roomId}/recordings/${this.recordingId}/chunks/${index}`;
    for (let attempt = 0; ; attempt++) {
      let status = 0;
      let code = "OFFLINE";
      try {
        const response = await fetch(path, {
          method: "PUT",
          headers: { Authorization: `Bearer ${current()?.token ?? ""}`, "Content-Type": "video/webm" },
          body: blob,
        });
        status = response.status;
        if (response.ok) return; // 201 stored, 200 already stored: the same index is stored once
        code = ((await response.json().catch(() => null)) as { error?: { code?: string } })?.error?.code ?? code;
      } catch {
        // offline: retry below
      }
      // Consent withdrawn and the grace is over, or not ours: nothing more will be accepted.
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        this.refused = true;
        if (code !== "NO_ACTIVE_RECORDING") this.onError(describeError(new ApiError(status, code, code)));
        return;
      }
      await new Promise((resolve) => window.setTimeout(resolve, RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]));
    }
  }
}

/** Draw a video letterboxed into one half of the canvas. */
function fit(context: CanvasRenderingContext2D, video: HTMLVideoElement, left: number): void {
  const width = video.videoWidth;
  const height = video.videoHeight;
  if (!width || !height || video.readyState < 2) return;
  const scale = Math.min(HALF_WIDTH / width, HEIGHT / height);
  const w = width * scale;
  const hgt = height * scale;
  context.drawImage(video, left + (HALF_WIDTH - w) / 2, (HEIGHT - hgt) / 2, w, hgt);
}
