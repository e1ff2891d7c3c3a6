// In-app signals (issue 18): the unread count in the tab title, a chime for a new message and a
// ringtone for an incoming call (mutable, remembered), and a browser notification when the tab
// is hidden and permission was granted. Sounds are synthesized (Web Audio): no audio files.
import { h } from "./dom";
import { t } from "./i18n";
import type { Realtime } from "./realtime";
import type { Identity } from "./session";
import type { CallIncoming, Message } from "./types";

const MUTED_KEY = "medtalk.muted";
const RING_MS = 30_000;

export class Signals {
  readonly muteButton: HTMLButtonElement;
  private readonly baseTitle = document.title;
  private audio: AudioContext | null = null;
  private ringTimer = 0;
  private ringUntil = 0;

  constructor(
    private readonly me: Identity,
    rt: Realtime,
    private readonly nameOf: (conversationId: string) => string,
  ) {
    this.muteButton = h("button", { type: "button", class: "link-button mute", "aria-pressed": "false", onclick: () => this.toggleMute() });
    this.renderMute();
    rt.on<Message>("message_received", (message) => this.messageReceived(message));
    rt.on<CallIncoming>("call_incoming", (call) => this.ring(call));
    for (const event of ["call_started", "call_ended"]) rt.on(event, () => this.stopRinging());
    // Any answer (Accept, Decline, or a click elsewhere: they are looking) silences the ring at
    // once, before the server's call_started / call_ended comes back.
    document.addEventListener("click", () => this.stopRinging(), { capture: true });
    // The waiting room (issue 17): only the doctor of the room hears of it.
    rt.on<{ roomId: string; userName: string }>("participant_waiting", (waiting) => this.someoneWaits(waiting));
    window.addEventListener("medtalk:unread", (event) => this.setUnread((event as CustomEvent<number>).detail));
  }

  get muted(): boolean {
    return localStorage.getItem(MUTED_KEY) === "1";
  }

  setUnread(count: number): void {
    document.title = count > 0 ? `(${count}) ${this.baseTitle}` : this.baseTitle;
  }

  private toggleMute(): void {
    localStorage.setItem(MUTED_KEY, this.muted ? "0" : "1");
    if (this.muted) this.stopRinging();
    this.renderMute();
  }

  private renderMute(): void {
    const muted = this.muted;
    this.muteButton.setAttribute("aria-pressed", String(muted));
    this.muteButton.dataset.i18n = muted ? "unmuteSounds" : "muteSounds";
    this.muteButton.textContent = t(muted ? "unmuteSounds" : "muteSounds");
  }

  private messageReceived(message: Message): void {
    // A call's own record (issue 17) follows the ring it was about: no second signal.
    if (message.senderId === this.me.userId || message.contentType === "CALL") return;
    // A replay of what was missed (lastSeq) is not news: only messages of the last minute.
    if (Date.now() - Date.parse(message.sentAt) > 60_000) return;
    this.play("chime");
    if (document.hidden) this.notify(this.nameOf(message.conversationId), t("newMessage"), `conversation:${message.conversationId}`, `/conversations/${message.conversationId}`);
  }

  private ring(call: CallIncoming): void {
    this.ringUntil = Date.now() + RING_MS;
    const again = () => {
      if (Date.now() > this.ringUntil) return this.stopRinging();
      this.play("ring");
      this.ringTimer = window.setTimeout(again, 2000);
    };
    window.clearTimeout(this.ringTimer);
    again();
    if (document.hidden) this.notify(call.callerName, t("incomingCall"), `call:${call.roomId}`, `/call/${call.roomId}`);
  }

  private someoneWaits(waiting: { roomId: string; userName: string }): void {
    this.play("chime");
    const text = t("participantWaiting", { name: waiting.userName });
    if (document.hidden) this.notify(waiting.userName, text, `waiting:${waiting.roomId}`, `/call/${waiting.roomId}`);
  }

  private stopRinging(): void {
    window.clearTimeout(this.ringTimer);
    this.ringUntil = 0;
  }

  private notify(title: string, body: string, tag: string, url: string): void {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const shown = new Notification(title || t("appName"), { body, tag });
    shown.onclick = () => {
      window.focus();
      if (window.location.pathname !== url) {
        window.history.pushState({}, "", url);
        window.dispatchEvent(new PopStateEvent("popstate"));
      }
      shown.close();
    };
    window.dispatchEvent(new CustomEvent("medtalk:notification", { detail: { title, body, tag } }));
  }

  /** A short chime (two notes) or one ring burst; nothing while muted. */
  private play(sound: "chime" | "ring"): void {
    if (this.muted) return;
    window.dispatchEvent(new CustomEvent("medtalk:sound", { detail: sound }));
    try {
      this.audio ??= new AudioContext();
      const notes = sound === "chime" ? [[880, 0], [1320, 0.12]] : [[440, 0], [480, 0], [440, 0.5], [480, 0.5]];
      for (const [frequency, start] of notes) {
        const oscillator = this.audio.createOscillator();
        const gain = this.audio.createGain();
        const at = this.audio.currentTime + start;
        oscillator.frequency.value = frequency;
        gain.gain.setValueAtTime(0.15, at);
        gain.gain.exponentialRampToValueAtTime(0.001, at + (sound === "chime" ? 0.3 : 0.45));
        oscillator.connect(gain).connect(this.audio.destination);
        oscillator.start(at);
        oscillator.stop(at + 0.5);
      }
    } catch {
      // No audio (autoplay policy before any user gesture): the title and notification remain.
    }
  }
}
