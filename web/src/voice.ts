// Voice messages: a microphone button records with MediaRecorder (Opus), at most five
// minutes, with a live timer, send and cancel; the recording is handed over as a File that
// the thread uploads as AUDIO.
import { describeMediaError } from "./errors";
import { h } from "./dom";
import { icon } from "./icons";
import { formatDuration, t } from "./i18n";

export const MAX_VOICE_SECONDS = 5 * 60;
const TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm", "audio/mp4"];

export class VoiceRecorder {
  readonly button: HTMLButtonElement;
  readonly panel: HTMLElement;
  private timer: HTMLElement;
  private recorder: MediaRecorder | null = null;
  private stream: MediaStream | null = null;
  private chunks: Blob[] = [];
  private startedAt = 0;
  private ticking = 0;
  private keep = false;

  constructor(
    private readonly onRecorded: (file: File) => void,
    private readonly onError: (message: string) => void,
  ) {
    this.button = h("button", { type: "button", class: "icon-button voice-button", i18nLabel: "recordVoice",
      i18nTitle: "recordVoice", onclick: () => void this.start() }, icon("mic"));
    this.timer = h("span", { class: "voice-timer", role: "timer", i18nLabel: "voiceTimer" }, "00:00");
    this.panel = h("div", { class: "voice-panel", hidden: true },
      h("span", { class: "voice-dot", "aria-hidden": "true" }),
      h("span", { class: "voice-status", role: "status", i18n: "recordingVoice" }),
      this.timer,
      h("span", { class: "voice-limit" }, `/ ${formatDuration(MAX_VOICE_SECONDS)}`),
      h("button", { type: "button", class: "link-button voice-cancel", i18n: "cancel", onclick: () => this.stop(false) }),
      h("button", { type: "button", class: "primary voice-send", i18n: "sendVoice", onclick: () => this.stop(true) }),
    );
  }

  get recording(): boolean {
    return this.recorder !== null;
  }

  async start(): Promise<void> {
    if (this.recorder) return;
    if (typeof MediaRecorder === "undefined" || !navigator.mediaDevices?.getUserMedia) {
      this.onError(t("voiceUnsupported"));
      return;
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      this.onError(t("micUnavailable", { message: describeMediaError(error) }));
      return;
    }
    const mimeType = TYPES.find((type) => MediaRecorder.isTypeSupported(type));
    const recorder = new MediaRecorder(this.stream, mimeType ? { mimeType } : {});
    this.recorder = recorder;
    this.chunks = [];
    this.keep = false;
    recorder.ondataavailable = (event) => {
      if (event.data.size > 0) this.chunks.push(event.data);
    };
    recorder.onstop = () => this.finish(recorder.mimeType || mimeType || "audio/webm");
    recorder.start(1000);
    this.startedAt = performance.now();
    this.timer.textContent = formatDuration(0);
    this.ticking = window.setInterval(() => this.tick(), 250);
    this.panel.hidden = false;
    this.button.hidden = true;
  }

  /** Stop; `send` hands the recording over, otherwise it is thrown away. */
  stop(send: boolean): void {
    if (!this.recorder) return;
    this.keep = send;
    window.clearInterval(this.ticking);
    if (this.recorder.state !== "inactive") this.recorder.stop();
    else this.finish(this.recorder.mimeType);
  }

  private tick(): void {
    const seconds = (performance.now() - this.startedAt) / 1000;
    this.timer.textContent = formatDuration(seconds);
    if (seconds >= MAX_VOICE_SECONDS) this.stop(true); // the limit sends what was recorded
  }

  private finish(mimeType: string): void {
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.recorder = null;
    this.panel.hidden = true;
    this.button.hidden = false;
    const blob = new Blob(this.chunks, { type: mimeType.split(";")[0] });
    this.chunks = [];
    if (!this.keep || blob.size === 0) return;
    const extension = blob.type.includes("ogg") ? "ogg" : blob.type.includes("mp4") ? "m4a" : "webm";
    const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
    this.onRecorded(new File([blob], `voice-${stamp}.${extension}`, { type: blob.type }));
  }
}

/** The player of an AUDIO message: the length comes from the server, before anything loads. */
export function audioPlayer(url: string, name: string, durationSeconds: number | null | undefined): HTMLElement {
  const voice = /^voice-/.test(name);
  const caption = h("figcaption", {}, voice ? h("span", { i18n: "voiceMessage" }) : name);
  if (durationSeconds != null) {
    const length = formatDuration(durationSeconds);
    caption.append(" · ", h("span", { class: "duration", i18nLabel: "duration", i18nVars: JSON.stringify({ length }) }, length));
  }
  return h("figure", { class: `attachment audio${voice ? " voice" : ""}` },
    h("audio", { controls: true, src: url, preload: "metadata" }), caption);
}
