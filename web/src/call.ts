// Video calls: the doctor starts one from a conversation, the patient gets a prompt, and both
// meet in a CallView: WebRTC peer-to-peer over our signaling, or Jitsi Meet when configured.
import { ApiError, api } from "./api";
import { alertText, announce, h } from "./dom";
import { formatDuration, t } from "./i18n";
import { JitsiCall } from "./jitsi";
import { type CallUi, PeerCall } from "./peer";
import { MARK_ACCEPTED, MARK_FIRST_FRAME } from "./timing";
import type { Realtime } from "./realtime";
import { RecordingPanel } from "./recording";
import type { Identity } from "./session";
import { describeError, describeMediaError } from "./errors";
import type { CallEnded, CallIncoming, JoinResult, RoomCreated, RoomToken } from "./types";
import { AdmitList, type Waiting, waitingRoomPanel } from "./waiting";

const TOO_EARLY_RETRY_MS = 30_000; // a patient early for the appointment tries again this often

export interface CallHooks {
  navigate(path: string): void;
  otherName(conversationId: string | null): string | null;
}


export class Calls {
  private prompt: HTMLElement | null = null;
  private promptRoom: string | null = null;
  private view: CallView | null = null;
  private conversationOf = new Map<string, string | null>();
  private waitingNotice: HTMLElement | null = null;
  private admitOnOpen: Waiting | null = null;

  constructor(
    private readonly me: Identity,
    private readonly rt: Realtime,
    private readonly hooks: CallHooks,
  ) {
    rt.on<CallIncoming>("call_incoming", (call) => this.ring(call));
    // The waiting room (issue 17): a patient came in; the doctor is told wherever they are.
    rt.on<Waiting>("participant_waiting", (waiting) => this.someoneWaits(waiting));
    rt.on<Waiting>("participant_admitted", (admitted) => {
      if (this.waitingNotice?.dataset.userId === admitted.userId) this.dismissWaitingNotice();
    });
    // A call placed while this page was closed or offline: `call_incoming` went to nobody.
    rt.onState((state) => {
      if (state === "online") void this.catchUp();
    });
    if (rt.state === "online") void this.catchUp();  // connected before we started listening
    rt.on<CallEnded>("call_ended", (ended) => {
      if (ended.roomId === this.promptRoom) this.dismissPrompt();
    });
    // Answered in another tab or on another device: stop ringing here.
    rt.on<{ roomId: string }>("call_started", (started) => {
      if (started.roomId === this.promptRoom && this.view?.roomId !== started.roomId) this.dismissPrompt();
    });
  }

  async start(conversationId: string): Promise<void> {
    const room = await api<RoomCreated>("POST", "/api/v1/video-call/create-room", { conversationId });
    this.conversationOf.set(room.roomId, conversationId);
    this.hooks.navigate(`/call/${room.roomId}`);
  }

  private async catchUp(): Promise<void> {
    try {
      const { rooms } = await api<{ rooms: Array<CallIncoming & { status: string; waiting?: Array<{ userId: string; userName: string }> }> }>(
        "GET", "/api/v1/video-call/rooms");
      const waiting = rooms.find((room) => room.status === "WAITING" && room.callerId !== this.me.userId);
      if (waiting && !this.prompt && !this.view) this.ring(waiting);
      // A doctor opening the app after a patient came into a waiting room missed the event.
      const mine = rooms.find((room) => room.callerId === this.me.userId && room.waiting?.length);
      const first = mine?.waiting?.[0];
      if (mine && first && !this.waitingNotice && this.view?.roomId !== mine.roomId) {
        this.someoneWaits({ roomId: mine.roomId, userId: first.userId, userName: first.userName });
      }
    } catch {
      // Best effort: the live `call_incoming` still works.
    }
  }

  private ring(call: CallIncoming): void {
    if (call.callerId === this.me.userId) return;
    this.dismissPrompt();
    this.conversationOf.set(call.roomId, call.conversationId);
    this.promptRoom = call.roomId;
    const accept = h("button", { type: "button", class: "primary accept", i18n: "accept", onclick: () => {
      performance.clearMarks(MARK_ACCEPTED);
      performance.mark(MARK_ACCEPTED);
      this.dismissPrompt();
      this.hooks.navigate(`/call/${call.roomId}`);
    } });
    const decline = h("button", { type: "button", class: "danger decline", i18n: "decline", onclick: () => {
      this.dismissPrompt();
      void api("PUT", `/api/v1/video-call/rooms/${call.roomId}/end`).catch(() => undefined);
    } });
    this.prompt = h("div", {
      class: "incoming-call",
      role: "alertdialog",
      "aria-labelledby": "incoming-title",
      "aria-describedby": "incoming-from",
    },
      h("h2", { id: "incoming-title", i18n: "incomingCall" }),
      h("p", { id: "incoming-from", i18n: "incomingCallFrom", i18nVars: JSON.stringify({ name: call.callerName }) }),
      h("div", { class: "actions" }, accept, decline));
    document.body.append(this.prompt);
    accept.focus();
    alertText(t("incomingCallFrom", { name: call.callerName }));
  }

  /** Someone waits in a room whose call screen is not open here: a notice with Admit. */
  private someoneWaits(waiting: Waiting): void {
    if (this.view?.roomId === waiting.roomId) return; // the call screen shows it
    this.dismissWaitingNotice();
    const admit = h("button", { type: "button", class: "primary admit", i18n: "admit", onclick: () => {
      this.dismissWaitingNotice();
      this.admitOnOpen = waiting;
      this.hooks.navigate(`/call/${waiting.roomId}`);
    } });
    const later = h("button", { type: "button", class: "dismiss", i18n: "dismiss", onclick: () => this.dismissWaitingNotice() });
    this.waitingNotice = h("div", { class: "waiting-notice", role: "alertdialog", "aria-labelledby": "waiting-who" },
      h("p", { id: "waiting-who", i18n: "participantWaiting", i18nVars: JSON.stringify({ name: waiting.userName }) }),
      h("div", { class: "actions" }, admit, later));
    this.waitingNotice.dataset.userId = waiting.userId;
    document.body.append(this.waitingNotice);
    admit.focus();
    alertText(t("participantWaiting", { name: waiting.userName }));
  }

  private dismissWaitingNotice(): void {
    this.waitingNotice?.remove();
    this.waitingNotice = null;
  }

  private dismissPrompt(): void {
    this.prompt?.remove();
    this.prompt = null;
    this.promptRoom = null;
  }

  /** Show the call screen for a room (the route /call/{roomId}). */
  open(roomId: string, container: HTMLElement): void {
    if (this.view?.roomId === roomId) {
      container.append(this.view.el);
      return;
    }
    this.view?.leave();
    const conversationId = this.conversationOf.get(roomId) ?? null;
    const admit = this.admitOnOpen?.roomId === roomId ? this.admitOnOpen : null;
    this.admitOnOpen = null;
    this.view = new CallView(roomId, this.me, this.rt, this.hooks.otherName(conversationId), admit, () => {
      this.close();
      this.hooks.navigate(conversationId ? `/conversations/${conversationId}` : "/");
    });
    container.append(this.view.el);
    void this.view.start();
  }

  /** The route left /call/...: hang up a call still going, and drop the view. */
  close(): void {
    this.view?.leave();
    this.view = null;
  }
}

/** What a CallView drives: a provider's way of carrying media (peer.ts or jitsi.ts). */
export interface Carrier {
  stop(): void;
}

class CallView {
  readonly el: HTMLElement;
  private statusEl: HTMLElement;
  private timerEl: HTMLElement;
  private stage: HTMLElement;
  private controls: HTMLElement;
  private qualityEl: HTMLElement;
  private carrier: Carrier | null = null;
  private recording: RecordingPanel | null = null;
  private startedAt: number | null = null;
  private admitList: AdmitList | null = null;
  private waitingPanel: HTMLElement | null = null;
  private timer = 0;
  private ended = false;
  private unsubscribe: Array<() => void> = [];

  constructor(
    readonly roomId: string,
    private readonly me: Identity,
    private readonly rt: Realtime,
    private otherName: string | null,
    private readonly admitOnJoin: Waiting | null,
    private readonly onDone: () => void,
  ) {
    this.statusEl = h("p", { class: "call-status", role: "status" });
    this.timerEl = h("time", { class: "call-timer", role: "timer", i18nLabel: "callTimer" }, "00:00");
    this.qualityEl = h("span", { class: "quality unknown", role: "status", i18nLabel: "quality" },
      h("span", { class: "bars", "aria-hidden": "true" }, h("i"), h("i"), h("i")),
      h("span", { class: "quality-text", i18n: "qualityUnknown" }));
    this.stage = h("div", { class: "stage" });
    this.controls = h("div", { class: "call-controls", role: "group", i18nLabel: "callTitle" });
    this.el = h("section", { class: "call", "aria-labelledby": "call-title" },
      h("header", { class: "call-header" },
        h("h2", { id: "call-title", i18n: "callTitle" }), this.timerEl, this.qualityEl),
      this.statusEl, this.stage, this.controls);
    if (me.role === "DOCTOR") {
      this.admitList = new AdmitList(rt, (text) => this.setStatus(text));
      this.statusEl.after(this.admitList.el);
    }
  }

  async start(): Promise<void> {
    performance.clearMarks(MARK_FIRST_FRAME);
    this.setStatus(t("callConnecting"));
    this.unsubscribe.push(
      this.rt.on<{ roomId: string; startedAt: string }>("call_started", (e) => {
        if (e.roomId === this.roomId) this.started();
      }),
      this.rt.on<CallEnded>("call_ended", (e) => {
        if (e.roomId !== this.roomId) return;
        // Ended before both were in, and not by us: the patient declined (or never answered).
        const unanswered = this.startedAt === null && this.me.role === "DOCTOR" && e.reason !== "ended_by_host";
        if (unanswered) this.finish(null, t("callDeclined", { name: this.otherName ?? "…" }));
        else this.finish(e.duration);
      }),
      this.rt.on<{ roomId: string; userId: string; userName: string }>("participant_left", (e) => {
        if (e.roomId !== this.roomId || this.ended) return;
        if (this.admitList?.has(e.userId)) this.admitList.remove(e.userId); // gave up waiting
        else this.setStatus(t("participantLeft", { name: e.userName }));
      }),
      // The waiting room (issue 17): the doctor sees who waits; the patient is let in.
      this.rt.on<Waiting>("participant_waiting", (e) => {
        if (e.roomId === this.roomId && !this.ended) this.someoneWaits(e);
      }),
      this.rt.on<Waiting>("participant_admitted", (e) => {
        if (e.roomId !== this.roomId || this.ended) return;
        if (e.userId === this.me.userId) this.leaveWaitingRoom();
        else this.admitList?.remove(e.userId);
      }),
      // Rejoin (issue 17): the other side's connection dropped; they have the grace period
      // to come back (reload, network change) before they count as having left.
      this.rt.on<{ roomId: string; userName: string }>("participant_reconnecting", (e) => {
        if (e.roomId === this.roomId && !this.ended) this.setStatus(t("peerReconnecting", { name: e.userName }));
      }),
      this.rt.on<{ roomId: string }>("participant_reconnected", (e) => {
        if (e.roomId !== this.roomId || this.ended) return;
        if (this.startedAt !== null) this.setStatus(t("callConnected"));
        if (this.carrier instanceof PeerCall) this.carrier.reconnected();
      }),
      // A page joining the running call again was reloaded: its connection is new.
      this.rt.on<{ roomId: string; userId: string }>("participant_joined", (e) => {
        if (e.roomId !== this.roomId || this.ended || e.userId === this.me.userId) return;
        if (this.startedAt !== null && this.carrier instanceof PeerCall) {
          this.setStatus(t("callConnected"));
          this.carrier.renegotiate();
        }
      }),
    );
    // Our own socket: lost, then back (the call goes on; media is restarted if it stopped).
    this.unsubscribe.push(this.rt.onState((state) => {
      if (this.ended || this.startedAt === null) return;
      if (state === "online") {
        this.setStatus(t("callConnected"));
        if (this.carrier instanceof PeerCall) this.carrier.reconnected();
      } else {
        this.setStatus(t("selfReconnecting"));
      }
    }));
    try {
      const [token, callerName] = await Promise.all([
        api<RoomToken>("GET", `/api/v1/video-call/rooms/${this.roomId}/token`),
        this.otherName ? Promise.resolve(null) : this.callerName(),
      ]);
      this.otherName ??= callerName;
      if (this.ended) return;
      const ui: CallUi = { stage: this.stage, controls: this.controls, quality: this.qualityEl };
      const hangUp = () => void this.hangUp();
      if (token.provider === "jitsi") {
        this.carrier = await JitsiCall.start(token, ui, hangUp);
        this.attachRecording(null);
        if (this.ended) {
          this.carrier.stop();
          return;
        }
        const joined = await this.join(true, true);
        if (joined.status === "IN_PROGRESS") this.started();
        return;
      }
      const peer = new PeerCall(this.roomId, this.me, this.rt, token, ui, this.otherName, hangUp);
      peer.onMediaState = (flowing) => {
        if (this.ended || this.startedAt === null) return;
        this.el.classList.toggle("media-interrupted", !flowing);
        if (flowing) this.setStatus(t("callConnected"));
        else this.setStatus(t("mediaReconnecting"));
      };
      this.carrier = peer;
      this.attachRecording(peer);
      let mediaFailed = false;
      await peer.open().catch((error) => {
        mediaFailed = true;
        if (!this.ended) this.setStatus(t("mediaDenied", { message: describeMediaError(error) }));
      });
      if (this.ended) return;
      const joined = await this.joinWhenOpen(peer.hasVideo, peer.hasAudio);
      if (this.ended || !joined) return;
      if (mediaFailed) peer.reportFailure("media_failed");
      this.otherName ??= joined.participants.find((p) => p.userId !== this.me.userId)?.name ?? null;
      if (joined.status === "IN_PROGRESS") this.started(joined.startedAt);
      else if (joined.status === "ENDED" || joined.status === "CANCELLED") this.finish(null, t("callEnded"));
      else if (joined.admitted === false) this.enterWaitingRoom(false);
      else this.setStatus(t("callWaiting", { name: this.otherName ?? "…" }));
      this.showWaiting(joined);
    } catch (error) {
      if (!this.ended) {
        this.finish(null, t("callFailed", { message: describeError(error) }));
      }
    }
  }

  /** Consent prompt, indicator and (doctor, p2p) the recorder; Jitsi records with Jibri. */
  private attachRecording(media: PeerCall | null): void {
    this.recording = new RecordingPanel(this.roomId, this.me, this.rt, media, this.controls);
    this.el.querySelector(".call-header")?.append(this.recording.indicator);
    this.el.append(this.recording.note);
  }

  /** Join; a patient early for the appointment waits in the waiting room and tries again
   * (TOO_EARLY). Null when the call screen was left meanwhile. */
  private async joinWhenOpen(hasCamera: boolean, hasMicrophone: boolean): Promise<JoinResult | null> {
    for (;;) {
      try {
        return await this.join(hasCamera, hasMicrophone);
      } catch (error) {
        if (!(error instanceof ApiError && error.code === "TOO_EARLY")) throw error;
        this.enterWaitingRoom(true);
        await new Promise((resolve) => window.setTimeout(resolve, TOO_EARLY_RETRY_MS));
        if (this.ended) return null;
      }
    }
  }

  /** The doctor: who already waits (admitted on the spot when the doctor came by Admit). */
  private showWaiting(joined: JoinResult): void {
    if (!this.admitList) return;
    for (const p of joined.participants) {
      if (p.admitted !== false || p.userId === this.me.userId) continue;
      const waiting = { roomId: this.roomId, userId: p.userId, userName: p.name };
      this.someoneWaits(waiting);
      if (this.admitOnJoin?.userId === p.userId) void this.admitList.admit(waiting);
    }
  }

  private someoneWaits(waiting: Waiting): void {
    this.admitList?.add(waiting);
    if (this.startedAt === null) this.setStatus(t("participantWaiting", { name: waiting.userName }));
  }

  /** The patient, before the doctor lets them in: the doctor's name and what happens next. */
  private enterWaitingRoom(tooEarly: boolean): void {
    const panel = waitingRoomPanel(this.otherName, tooEarly);
    if (this.waitingPanel) this.waitingPanel.replaceWith(panel);
    else this.statusEl.after(panel);
    this.waitingPanel = panel;
    this.el.classList.add("waiting");
    this.setStatus(t("waitingRoomTitle"));
  }

  private leaveWaitingRoom(): void {
    if (!this.waitingPanel) return;
    this.waitingPanel.remove();
    this.waitingPanel = null;
    this.el.classList.remove("waiting");
    if (this.startedAt === null) this.setStatus(t("callConnecting"));
  }

  /** Who placed the call, for a page opened by its link (no conversation loaded). */
  private async callerName(): Promise<string | null> {
    try {
      const { rooms } = await api<{ rooms: CallIncoming[] }>("GET", "/api/v1/video-call/rooms");
      const room = rooms.find((r) => r.roomId === this.roomId && r.callerId !== this.me.userId);
      return room?.callerName ?? null;
    } catch {
      return null;
    }
  }

  private join(hasCamera: boolean, hasMicrophone: boolean): Promise<JoinResult> {
    return api<JoinResult>("POST", `/api/v1/video-call/rooms/${this.roomId}/join`, {
      deviceInfo: { browser: browserName(), hasCamera, hasMicrophone },
    });
  }

  private started(serverStartedAt: string | null = null): void {
    if (this.ended) return;
    this.leaveWaitingRoom();
    if (this.startedAt === null) {
      // This device's clock, except when rejoining a running call (a reload): then the
      // server's start, so the duration keeps counting (at most "now": clocks may be skewed).
      const since = serverStartedAt ? Date.parse(serverStartedAt) : Number.NaN;
      this.startedAt = Number.isFinite(since) ? Math.min(since, Date.now()) : Date.now();
      this.timer = window.setInterval(() => this.tick(), 1000);
      this.tick();
    }
    this.setStatus(t("callConnected"));
    if (this.carrier instanceof PeerCall) this.carrier.bothIn();
    void this.recording?.callStarted();
  }

  private tick(): void {
    if (this.startedAt === null) return;
    this.timerEl.textContent = formatDuration((Date.now() - this.startedAt) / 1000);
  }

  private async hangUp(): Promise<void> {
    if (this.ended) return;
    await this.recording?.beforeHangUp();
    try {
      await this.rt.call("hangup", { roomId: this.roomId });
    } catch {
      await api("PUT", `/api/v1/video-call/rooms/${this.roomId}/end`).catch(() => undefined);
    }
    this.finish(null);
  }

  /** End on this side: release camera and microphone, keep a short summary on screen. */
  private finish(duration: number | null, why: string | null = null): void {
    if (this.ended) return;
    this.ended = true;
    const seconds = duration ?? (this.startedAt ? (Date.now() - this.startedAt) / 1000 : null);
    this.recording?.callEnded();
    this.teardown();
    this.el.classList.add("ended");
    const text = why ?? (seconds ? t("callEndedDuration", { duration: formatDuration(seconds) }) : t("callEnded"));
    this.setStatus(text);
    announce(text);
    const back = h("button", { type: "button", class: "primary back-to-chat", i18n: "backToChat", onclick: () => this.onDone() });
    this.controls.replaceChildren(back);
    back.focus();
  }

  private teardown(): void {
    window.clearInterval(this.timer);
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    this.carrier?.stop();
    this.carrier = null;
  }

  /** Leaving the call screen while the call goes on counts as hanging up. */
  leave(): void {
    if (!this.ended) {
      this.rt.socket.emit("hangup", { roomId: this.roomId });
      this.ended = true;
    }
    this.teardown();
    this.recording?.dispose();
    this.recording = null;
    this.el.remove();
  }

  private setStatus(text: string): void {
    this.statusEl.textContent = text;
  }
}

function browserName(): string {
  const match = /(Edg|Chrome|Chromium|Firefox|Version)\/([\d.]+)/.exec(navigator.userAgent);
  if (!match) return navigator.userAgent.slice(0, 60);
  const name = { Edg: "Edge", Version: "Safari" }[match[1]] ?? match[1];
  return `${name} ${match[2]}`;
}
