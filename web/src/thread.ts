// One conversation on screen: history paging on scroll, live messages, typing, read ticks,
// uploads with progress, and the composer.
import { describeError } from "./errors";
import { announce, clear, h } from "./dom";
import { icon } from "./icons";
import { formatBytes, formatDuration, formatTime, type MessageKey, t } from "./i18n";
import type { Identity } from "./session";
import type { ConversationSummary, Message } from "./types";
import { audioPlayer, VoiceRecorder } from "./voice";

export interface PendingView {
  clientMessageId: string;
  content: string;
  state: "sending" | "queued" | "failed";
}

export interface ThreadActions {
  loadOlder(): Promise<boolean>; // whether still older messages exist
  send(text: string): void;
  retry(clientMessageId: string): void;
  upload(file: File, onProgress: (fraction: number) => void, fileType?: string): Promise<void>;
  markRead(messageId: string, seq: number): void;
  typing(active: boolean): void;
  startCall(): void;
  back(): void;
  presence?(userId: string): HTMLElement; // online / last seen of the other person (issue 18)
}

const TYPING_SAFETY_MS = 6000;

export class ThreadView {
  readonly el: HTMLElement;
  private list: HTMLOListElement;
  private scroller: HTMLElement;
  private typingLine: HTMLElement;
  private errorBox: HTMLElement;
  private input: HTMLTextAreaElement;
  private olderStatus: HTMLElement;
  private observer: IntersectionObserver;
  private visibleTheirs = new Map<number, string>();
  private loadingOlder = false;
  private noMoreOlder = false;
  private typingTimer = 0;
  private theirReadUpTo = 0;

  constructor(
    readonly conversation: ConversationSummary,
    private readonly me: Identity,
    private readonly actions: ThreadActions,
  ) {
    const other = otherName(conversation, me);
    this.olderStatus = h("p", { class: "older-status", role: "status" });
    this.list = h("ol", { class: "messages", "aria-label": other });
    this.scroller = h("div", { class: "scroller", tabindex: 0, "aria-labelledby": "thread-title" },
      this.olderStatus, this.list);
    this.typingLine = h("p", { class: "typing", role: "status" });
    this.errorBox = h("div", { class: "thread-error", role: "alert" });
    this.input = h("textarea", {
      id: "composer-input",
      rows: 1,
      i18nPlaceholder: "messagePlaceholder",
      maxlength: 5000,
      autocomplete: "off",
    });
    const fileInput = h("input", {
      type: "file",
      id: "composer-file",
      class: "sr-only",
      accept: "image/*,application/pdf,audio/*,video/*",
    });
    fileInput.addEventListener("change", () => {
      for (const file of Array.from(fileInput.files ?? [])) void this.uploadFile(file);
      fileInput.value = "";
    });
    const voice = new VoiceRecorder(
      (file) => void this.uploadFile(file, "AUDIO"),
      (message) => this.showError(message),
    );
    const form = h("form", { class: "composer" },
      h("span", { class: "attach" }, fileInput,
        h("label", { for: "composer-file", class: "icon-button", i18nTitle: "attach" },
          icon("paperclip"),
          h("span", { class: "sr-only", i18n: "attach" }))),
      h("label", { for: "composer-input", class: "sr-only", i18n: "messageLabel" }),
      this.input,
      voice.button,
      h("button", { type: "submit", class: "primary", i18n: "send" }),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => this.actions.typing(this.input.value.trim() !== ""));
    this.input.addEventListener("blur", () => this.actions.typing(false));

    const header = h("header", { class: "thread-header" },
      h("button", { type: "button", class: "back icon-button", i18nLabel: "back", onclick: () => actions.back() },
        h("span", { "aria-hidden": "true" }, "←")),
      h("div", { class: "thread-who" },
        h("h2", { id: "thread-title" }, other),
        actions.presence?.(me.userId === conversation.doctorId ? conversation.patientId : conversation.doctorId)),
      me.role === "DOCTOR"
        ? h("button", { type: "button", class: "call-button", onclick: () => actions.startCall() },
            icon("video"), h("span", { i18n: "startCall" }))
        : null,
    );
    this.el = h("section", { class: "thread", "aria-labelledby": "thread-title" },
      header, this.scroller, this.typingLine, this.errorBox, voice.panel, form);

    this.observer = new IntersectionObserver((entries) => this.onVisibility(entries), {
      root: this.scroller,
      threshold: 0.5,
    });
    this.scroller.addEventListener("scroll", () => {
      if (this.scroller.scrollTop < 80) void this.older();
    });
    document.addEventListener("visibilitychange", this.onPageVisible);
  }

  focusComposer(): void {
    this.input.focus();
  }

  /** Scroll to a message (a search result) and mark it until the next one is shown. */
  focusMessage(seq: number): void {
    const item = this.list.querySelector<HTMLElement>(`li[data-seq="${seq}"]`);
    if (!item) return;
    for (const old of this.list.querySelectorAll(".found")) old.classList.remove("found");
    item.classList.add("found");
    item.tabIndex = -1;
    item.scrollIntoView({ block: "center" });
    item.focus({ preventScroll: true });
  }

  destroy(): void {
    this.observer.disconnect();
    document.removeEventListener("visibilitychange", this.onPageVisible);
    window.clearTimeout(this.typingTimer);
  }

  /** Fill the view until it scrolls (or history is exhausted). */
  async fill(): Promise<void> {
    for (let i = 0; i < 10 && !this.noMoreOlder; i++) {
      if (this.scroller.scrollHeight > this.scroller.clientHeight + 40) break;
      await this.older();
    }
    this.scrollToEnd();
  }

  private async older(): Promise<void> {
    if (this.loadingOlder || this.noMoreOlder) return;
    this.loadingOlder = true;
    this.olderStatus.textContent = t("loadingOlder");
    const before = this.scroller.scrollHeight - this.scroller.scrollTop;
    try {
      const more = await this.actions.loadOlder();
      if (!more) {
        this.noMoreOlder = true;
        this.olderStatus.textContent = t("beginning");
      } else {
        this.olderStatus.textContent = "";
      }
      // Keep what the reader was looking at in place while older messages appear above it.
      this.scroller.scrollTop = this.scroller.scrollHeight - before;
    } catch (error) {
      this.olderStatus.textContent = "";
      this.showError(error);
    } finally {
      this.loadingOlder = false;
    }
  }

  private submit(): void {
    const text = this.input.value.trim();
    if (!text) return;
    this.input.value = "";
    this.actions.typing(false);
    this.actions.send(text);
  }

  // --- messages ----------------------------------------------------------------------------

  /** Insert (or replace) a stored message at its place in seq order. */
  addMessage(message: Message, live: boolean): void {
    const nearEnd = this.isNearEnd();
    const existing = this.list.querySelector<HTMLElement>(`li[data-seq="${message.seq}"]`);
    const item = this.renderMessage(message);
    if (existing) {
      this.observer.unobserve(existing);
      existing.replaceWith(item);
    } else {
      let before: Element | null = null;
      for (const child of Array.from(this.list.children) as HTMLElement[]) {
        const seq = child.dataset.seq ? Number(child.dataset.seq) : Number.POSITIVE_INFINITY;
        if (seq > message.seq) {
          before = child;
          break;
        }
      }
      this.list.insertBefore(item, before);
    }
    const mine = message.senderId === this.me.userId;
    if (!mine) {
      this.observer.observe(item);
      if (live) {
        this.setTyping(null);
        announce(t("newMessageFrom", { name: otherName(this.conversation, this.me), text: preview(message) }));
      }
    }
    if (live && (mine || nearEnd)) this.scrollToEnd();
  }

  private renderMessage(message: Message): HTMLElement {
    const mine = message.senderId === this.me.userId;
    if (message.contentType === "CALL") {
      // A call in the history: centred, with an icon, no read ticks (the server wrote it).
      const missed = callRecord(message.content).outcome !== "ended";
      return h("li", {
        class: `message call-event${missed ? " missed" : ""}`,
        "data-seq": message.seq,
        "data-message-id": message.messageId,
      },
        h("p", { class: "call-record" }, icon("video"), ` ${callText(message.content)} · `,
          h("time", { datetime: message.sentAt }, formatTime(message.sentAt))));
    }
    const meta = h("span", { class: "meta" },
      h("time", { datetime: message.sentAt }, formatTime(message.sentAt)));
    if (mine) meta.append(this.ticks(message.seq <= this.theirReadUpTo || message.isRead));
    return h("li", {
      class: `message ${mine ? "mine" : "theirs"}`,
      "data-seq": message.seq,
      "data-message-id": message.messageId,
    },
      h("span", { class: "sr-only" }, mine ? `${t("you")}: ` : `${otherName(this.conversation, this.me)}: `),
      h("div", { class: "bubble" }, body(message), meta),
    );
  }

  private ticks(read: boolean): HTMLElement {
    const key: MessageKey = read ? "read" : "sent";
    return h("span", { class: `ticks${read ? " read" : ""}`, role: "img", i18nLabel: key, i18nTitle: key },
      read ? "✓✓" : "✓");
  }

  /** The other side has read everything of mine up to `seq`. */
  markTheirRead(seq: number): void {
    this.theirReadUpTo = Math.max(this.theirReadUpTo, seq);
    for (const item of this.list.querySelectorAll<HTMLElement>("li.mine[data-seq]")) {
      if (Number(item.dataset.seq) <= this.theirReadUpTo) {
        const ticks = item.querySelector(".ticks:not(.read)");
        ticks?.replaceWith(this.ticks(true));
      }
    }
  }

  private onVisibility(entries: IntersectionObserverEntry[]): void {
    for (const entry of entries) {
      const item = entry.target as HTMLElement;
      const seq = Number(item.dataset.seq);
      if (entry.isIntersecting) {
        this.visibleTheirs.set(seq, item.dataset.messageId ?? "");
      } else {
        this.visibleTheirs.delete(seq);
      }
    }
    this.reportRead();
  }

  private onPageVisible = (): void => this.reportRead();

  private reportRead(): void {
    if (document.visibilityState !== "visible" || this.visibleTheirs.size === 0) return;
    const newest = Math.max(...this.visibleTheirs.keys());
    const messageId = this.visibleTheirs.get(newest);
    if (messageId) this.actions.markRead(messageId, newest);
  }

  // --- pending sends and uploads ----------------------------------------------------------

  showPending(pending: PendingView): void {
    const existing = this.list.querySelector<HTMLElement>(`li[data-client-id="${pending.clientMessageId}"]`);
    const status = h("span", { class: `pending-state ${pending.state}` },
      t(pending.state === "sending" ? "sending" : pending.state === "queued" ? "queued" : "failed"));
    const item = h("li", { class: "message mine pending", "data-client-id": pending.clientMessageId },
      h("div", { class: "bubble" },
        h("p", { class: "text" }, pending.content),
        h("span", { class: "meta" }, status,
          pending.state === "sending"
            ? null
            : h("button", {
                type: "button",
                class: "link-button",
                onclick: () => this.actions.retry(pending.clientMessageId),
                i18n: "retry",
              }))));
    if (existing) existing.replaceWith(item);
    else {
      this.list.append(item);
      this.scrollToEnd();
    }
  }

  removePending(clientMessageId: string): void {
    this.list.querySelector(`li[data-client-id="${clientMessageId}"]`)?.remove();
  }

  private async uploadFile(file: File, fileType?: string): Promise<void> {
    const progress = h("progress", { max: 100, value: 0, "aria-label": t("uploading", { name: file.name }) });
    const item = h("li", { class: "message mine pending upload" },
      h("div", { class: "bubble" },
        h("p", { class: "text" }, icon("paperclip"), ` ${file.name} (${formatBytes(file.size)})`), progress));
    this.list.append(item);
    this.scrollToEnd();
    try {
      await this.actions.upload(file, (fraction) => (progress.value = Math.round(fraction * 100)), fileType);
      item.remove();
    } catch (error) {
      item.remove();
      this.showError(error);
    }
  }

  // --- typing and errors -------------------------------------------------------------------

  setTyping(name: string | null): void {
    window.clearTimeout(this.typingTimer);
    this.typingLine.textContent = name ? t("typing", { name }) : "";
    this.typingLine.classList.toggle("active", Boolean(name));
    // If typing_stop is lost (the other side went away), do not claim they type forever.
    if (name) this.typingTimer = window.setTimeout(() => this.setTyping(null), TYPING_SAFETY_MS);
  }

  showError(error: unknown, retry?: () => void): void {
    clear(this.errorBox);
    const text = typeof error === "string" ? error : describeError(error); // a string: already translated
    this.errorBox.append(h("p", {}, text));
    if (retry) this.errorBox.append(h("button", { type: "button", class: "link-button", onclick: retry, i18n: "retry" }));
    this.errorBox.append(
      h("button", { type: "button", class: "link-button", onclick: () => clear(this.errorBox), i18n: "dismiss" }),
    );
  }

  clearError(): void {
    clear(this.errorBox);
  }

  private isNearEnd(): boolean {
    return this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < 120;
  }

  scrollToEnd(): void {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }
}

export function otherName(conversation: ConversationSummary, me: Identity): string {
  return me.userId === conversation.doctorId ? conversation.patientName : conversation.doctorName;
}

export function preview(message: { content: string; contentType: string; fileName?: string | null }): string {
  if (message.contentType === "TEXT") return message.content;
  if (message.contentType === "CALL") return callText(message.content);
  return t("fileMessage", { name: message.fileName ?? message.content });
}

/** A CALL message (its content is JSON written by the server, docs/calls.md). */
function callRecord(content: string): { outcome?: string; durationSeconds?: number } {
  try {
    return JSON.parse(content) as { outcome?: string; durationSeconds?: number };
  } catch {
    return {}; // unreadable: shown as a call that did not take place
  }
}

function callText(content: string): string {
  const record = callRecord(content);
  if (record.outcome === "ended") return t("callHistoryEnded", { duration: formatDuration(record.durationSeconds ?? 0) });
  return t("callHistoryMissed");
}

function body(message: Message): HTMLElement {
  const url = message.fileUrl ?? "";
  const name = message.fileName ?? message.content;
  switch (message.contentType) {
    case "IMAGE":
      return h("a", { href: url, target: "_blank", rel: "noopener", class: "attachment image" },
        h("img", { src: message.thumbnailUrl ?? url, alt: name, loading: "lazy", class: "thumbnail" }));
    case "AUDIO":
      return audioPlayer(url, name, message.durationSeconds);
    case "VIDEO":
      return h("figure", { class: "attachment" }, h("video", { controls: true, src: url, preload: "metadata" }),
        h("figcaption", {}, name));
    case "FILE":
      return h("a", { href: url, target: "_blank", rel: "noopener", class: "attachment file", download: name },
        icon("file"), `${name}${message.fileSize ? ` (${formatBytes(message.fileSize)})` : ""}`);
    default:
      return h("p", { class: "text" }, message.content);
  }
}
