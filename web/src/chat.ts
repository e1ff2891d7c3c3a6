// The chat screen: conversation list (unread badges, last message) and the open conversation,
// kept live over the socket, with an outbox that resends unsent messages after a reconnect.
import { api, ApiError, upload } from "./api";
import { clear, h } from "./dom";
import { formatTime, onLangChange, t } from "./i18n";
import type { Realtime } from "./realtime";
import type { Identity } from "./session";
import { describeError } from "./errors";
import { SearchBox } from "./search";
import { otherName, preview, ThreadView } from "./thread";
import type {
  ConversationList,
  ConversationSummary,
  FileUploaded,
  Message,
  MessagePage,
  MessageSent,
  ReadReceipt,
  Typing,
} from "./types";

const PAGE = 30;
const TYPING_IDLE_MS = 2500;
const TYPING_REPEAT_MS = 4000;

interface Conversation {
  summary: ConversationSummary;
  messages: Map<number, Message>; // by seq: dedupes live, replayed and paged copies
  maxSeq: number; // the newest seq this tab has seen; rejoin passes it as lastSeq
  oldestSentAt: string | null;
  hasMore: boolean | null; // null until the first history page arrived
  myReadUpTo: number; // their messages I marked read
  theirReadUpTo: number; // my messages they read
}

interface Pending {
  clientMessageId: string;
  conversationId: string;
  content: string;
  state: "sending" | "queued" | "failed";
  retryTimer?: number;
}

export interface ChatHooks {
  navigate(path: string): void;
  startCall(conversationId: string): Promise<void>;
  presence?(userId: string): HTMLElement;
}

export class ChatApp {
  readonly el: HTMLElement;
  private listEl: HTMLUListElement;
  private pane: HTMLElement;
  private conversations = new Map<string, Conversation>();
  private outbox: Pending[] = [];
  private thread: ThreadView | null = null;
  private openId: string | null = null;
  private typingActive = false;
  private typingSentAt = 0;
  private typingIdle = 0;
  private loaded: Promise<void>;
  private jumpTo: { conversationId: string; seq: number } | null = null; // a search result

  constructor(
    private readonly me: Identity,
    private readonly rt: Realtime,
    private readonly hooks: ChatHooks,
  ) {
    this.listEl = h("ul", { class: "conversation-list" });
    this.pane = h("main", { id: "main", class: "thread-pane", tabindex: -1 });
    this.el = h("div", { class: "chat" },
      h("nav", { class: "conversations", "aria-labelledby": "conversations-title" },
        new SearchBox({
          conversationName: (id) => {
            const summary = this.conversations.get(id)?.summary;
            return summary ? otherName(summary, this.me) : "";
          },
          jump: (conversationId, seq) => void this.jump(conversationId, seq),
        }).el,
        h("h2", { id: "conversations-title", i18n: "conversations" }), this.listEl),
      this.pane);
    this.listen();
    this.loaded = this.loadList().catch((error) => this.listFailed(error));
    onLangChange(() => this.renderList());
  }

  // --- the list ----------------------------------------------------------------------------

  private async loadList(): Promise<void> {
    const page = await api<ConversationList>("GET", "/api/v1/chat/conversations?limit=100");
    for (const summary of page.conversations) {
      const known = this.conversations.get(summary.id);
      if (known) {
        known.summary = { ...summary, unreadCount: summary.unreadCount };
      } else {
        this.conversations.set(summary.id, {
          summary,
          messages: new Map(),
          maxSeq: summary.lastSeq,
          oldestSentAt: null,
          hasMore: null,
          myReadUpTo: 0,
          theirReadUpTo: 0,
        });
      }
    }
    this.renderList();
    if (this.rt.socket.connected) await this.joinAll();
  }

  private listFailed(error: unknown): void {
    clear(this.listEl);
    this.listEl.append(h("li", { class: "empty", role: "alert" },
      h("p", {}, describeError(error)),
      h("button", { type: "button", class: "link-button", i18n: "retry", onclick: () => {
        this.loaded = this.loadList().catch((e) => this.listFailed(e));
      } })));
  }

  private renderList(): void {
    clear(this.listEl);
    const sorted = [...this.conversations.values()].sort((a, b) =>
      (b.summary.lastMessage?.sentAt ?? b.summary.createdAt).localeCompare(
        a.summary.lastMessage?.sentAt ?? a.summary.createdAt,
      ),
    );
    if (sorted.length === 0) this.listEl.append(h("li", { class: "empty", i18n: "noConversations" }));
    const unreadTotal = sorted.reduce((sum, c) => sum + c.summary.unreadCount, 0);
    window.dispatchEvent(new CustomEvent("medtalk:unread", { detail: unreadTotal })); // signals.ts
    for (const conversation of sorted) {
      const { summary } = conversation;
      const last = summary.lastMessage;
      const unread = summary.unreadCount;
      const name = otherName(summary, this.me);
      const button = h("a", {
        href: `/conversations/${summary.id}`,
        class: "conversation-item",
        "data-conversation-id": summary.id,
        "aria-current": summary.id === this.openId ? "page" : null,
        onclick: (event: Event) => {
          event.preventDefault();
          this.hooks.navigate(`/conversations/${summary.id}`);
        },
      },
        h("span", { class: "name" }, name),
        h("span", { class: "preview" },
          last ? `${last.senderId === this.me.userId ? `${t("you")}: ` : ""}${preview(last)}` : t("noMessagesYet")),
        last ? h("time", { class: "when", datetime: last.sentAt }, formatTime(last.sentAt)) : null,
        unread > 0
          ? h("span", { class: "badge", "aria-label": t("unread", { count: unread }) }, String(unread))
          : null,
      );
      this.listEl.append(h("li", {}, button));
    }
  }

  // --- opening a conversation --------------------------------------------------------------

  async open(conversationId: string | null): Promise<void> {
    if (conversationId === this.openId && this.thread) return;
    this.thread?.destroy();
    this.thread = null;
    this.openId = conversationId;
    this.el.classList.toggle("has-open", Boolean(conversationId));
    clear(this.pane);
    await this.loaded;
    const conversation = conversationId ? this.conversations.get(conversationId) : null;
    this.renderList();
    if (!conversationId || !conversation) {
      this.pane.append(h("p", { class: "placeholder", i18n: "selectConversation" }));
      return;
    }
    const thread = new ThreadView(conversation.summary, this.me, {
      loadOlder: () => this.loadOlder(conversation),
      send: (text) => this.send(conversation.summary.id, text),
      retry: (id) => this.retry(id),
      upload: (file, progress, fileType) => this.upload(conversation.summary.id, file, progress, fileType),
      markRead: (messageId, seq) => void this.markRead(conversation, messageId, seq),
      typing: (active) => this.typing(conversation.summary.id, active),
      startCall: () => void this.hooks.startCall(conversation.summary.id).catch((e) => thread.showError(e)),
      back: () => this.hooks.navigate("/"),
      presence: this.hooks.presence,
    });
    this.thread = thread;
    this.pane.append(thread.el);
    thread.markTheirRead(conversation.theirReadUpTo);
    for (const message of [...conversation.messages.values()].sort((a, b) => a.seq - b.seq)) {
      thread.addMessage(message, false);
    }
    for (const pending of this.outbox) if (pending.conversationId === conversationId) thread.showPending(pending);
    if (conversation.hasMore === null) await this.loadOlder(conversation).catch((e) => thread.showError(e));
    await thread.fill();
    thread.focusComposer();
    const wanted = this.jumpTo;
    if (wanted?.conversationId === conversationId) {
      this.jumpTo = null;
      await this.reveal(conversation, thread, wanted.seq);
    }
  }

  /** Open the conversation of a search result and show that message. */
  private async jump(conversationId: string, seq: number): Promise<void> {
    const conversation = this.conversations.get(conversationId);
    if (this.openId === conversationId && this.thread && conversation) {
      await this.reveal(conversation, this.thread, seq);
      return;
    }
    this.jumpTo = { conversationId, seq };
    this.hooks.navigate(`/conversations/${conversationId}`);
  }

  private async reveal(conversation: Conversation, thread: ThreadView, seq: number): Promise<void> {
    try {
      // Older pages until the message is there (bounded: a page is 30 messages).
      for (let i = 0; i < 200 && !conversation.messages.has(seq); i++) {
        if (!(await this.loadOlder(conversation))) break;
      }
    } catch (error) {
      thread.showError(error);
    }
    thread.focusMessage(seq);
  }

  private async loadOlder(conversation: Conversation): Promise<boolean> {
    if (conversation.hasMore === false) return false;
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (conversation.oldestSentAt) params.set("before", conversation.oldestSentAt);
    const page = await api<MessagePage>(
      "GET",
      `/api/v1/chat/conversations/${conversation.summary.id}/messages?${params}`,
    );
    conversation.hasMore = page.hasMore;
    for (const message of page.messages) this.store(conversation, message, false);
    return page.hasMore;
  }

  /** Keep one copy per seq, update the list entry, and show it if its conversation is open. */
  private store(conversation: Conversation, message: Message, live: boolean): void {
    const fresh = !conversation.messages.has(message.seq);
    conversation.messages.set(message.seq, message);
    conversation.maxSeq = Math.max(conversation.maxSeq, message.seq);
    if (!conversation.oldestSentAt || message.sentAt < conversation.oldestSentAt) {
      conversation.oldestSentAt = message.sentAt;
    }
    const mine = message.senderId === this.me.userId;
    if (mine && message.isRead) conversation.theirReadUpTo = Math.max(conversation.theirReadUpTo, message.seq);
    if (!mine && message.isRead) conversation.myReadUpTo = Math.max(conversation.myReadUpTo, message.seq);
    if (live && fresh) {
      const last = conversation.summary.lastMessage;
      if (!last || message.sentAt >= last.sentAt) {
        conversation.summary.lastMessage = { ...message, isRead: false };
      }
      if (!mine && message.seq > conversation.myReadUpTo) conversation.summary.unreadCount += 1;
      this.renderList();
    }
    if (this.thread && this.openId === conversation.summary.id) {
      if (mine) this.thread.markTheirRead(conversation.theirReadUpTo);
      this.thread.addMessage(message, live && fresh);
    }
  }

  // --- live events ------------------------------------------------------------------------

  private listen(): void {
    this.rt.onState((state) => {
      if (state === "online") void this.joinAll().then(() => this.flush());
    });
    this.rt.on<Message>("message_received", (message) => {
      const conversation = this.conversations.get(message.conversationId);
      if (!conversation) {
        this.loaded = this.loadList().catch((error) => this.listFailed(error)); // opened elsewhere
        return;
      }
      const pending = this.outbox.find((p) => p.clientMessageId === message.clientMessageId);
      if (pending && message.senderId === this.me.userId) this.settle(pending);
      this.store(conversation, message, true);
    });
    this.rt.on<ReadReceipt>("message_read", (receipt) => {
      const conversation = this.conversations.get(receipt.conversationId);
      if (!conversation) return;
      if (receipt.readerId === this.me.userId) {
        this.readUpTo(conversation, receipt.upToSeq); // read on another device
        return;
      }
      conversation.theirReadUpTo = Math.max(conversation.theirReadUpTo, receipt.upToSeq);
      if (this.openId === receipt.conversationId) this.thread?.markTheirRead(conversation.theirReadUpTo);
    });
    this.rt.on<Typing>("typing_start", (typing) => {
      if (typing.userId !== this.me.userId && typing.conversationId === this.openId) {
        this.thread?.setTyping(typing.userName);
      }
    });
    this.rt.on<Typing>("typing_stop", (typing) => {
      if (typing.userId !== this.me.userId && typing.conversationId === this.openId) this.thread?.setTyping(null);
    });
  }

  /** Join every conversation, asking for what was missed since the last seq seen (no gap). */
  private async joinAll(): Promise<void> {
    await Promise.all(
      [...this.conversations.values()].map((conversation) =>
        this.rt
          .call("join_conversation", { conversationId: conversation.summary.id, lastSeq: conversation.maxSeq })
          .catch(() => undefined),
      ),
    );
  }

  // --- reading ----------------------------------------------------------------------------

  private async markRead(conversation: Conversation, messageId: string, seq: number): Promise<void> {
    if (seq <= conversation.myReadUpTo) return;
    const previous = conversation.myReadUpTo;
    conversation.myReadUpTo = seq; // optimistic: do not send the same receipt twice
    try {
      const receipt = await this.rt.call<ReadReceipt>("mark_read", { messageId });
      this.readUpTo(conversation, receipt.upToSeq);
    } catch {
      conversation.myReadUpTo = previous; // retried when the message is seen again
    }
  }

  private readUpTo(conversation: Conversation, seq: number): void {
    conversation.myReadUpTo = Math.max(conversation.myReadUpTo, seq);
    const unreadKnown = [...conversation.messages.values()].filter(
      (m) => m.senderId !== this.me.userId && m.seq > conversation.myReadUpTo,
    ).length;
    conversation.summary.unreadCount = unreadKnown;
    if (conversation.summary.lastMessage && conversation.summary.lastMessage.senderId !== this.me.userId) {
      conversation.summary.lastMessage.isRead = unreadKnown === 0;
    }
    this.renderList();
  }

  // --- typing -----------------------------------------------------------------------------

  private typing(conversationId: string, active: boolean): void {
    window.clearTimeout(this.typingIdle);
    const now = Date.now();
    if (active) {
      if (!this.typingActive || now - this.typingSentAt > TYPING_REPEAT_MS) {
        this.typingActive = true;
        this.typingSentAt = now;
        this.rt.call("typing_start", { conversationId }).catch(() => undefined);
      }
      this.typingIdle = window.setTimeout(() => this.typing(conversationId, false), TYPING_IDLE_MS);
    } else if (this.typingActive) {
      this.typingActive = false;
      this.rt.call("typing_stop", { conversationId }).catch(() => undefined);
    }
  }

  // --- sending: the outbox -------------------------------------------------------------------

  private send(conversationId: string, content: string): void {
    const pending: Pending = { clientMessageId: newId(), conversationId, content, state: "sending" };
    this.outbox.push(pending);
    void this.attempt(pending);
  }

  private retry(clientMessageId: string): void {
    const pending = this.outbox.find((p) => p.clientMessageId === clientMessageId);
    if (!pending) return;
    if (!this.rt.socket.connected) this.rt.reconnectNow();
    void this.attempt(pending);
  }

  private async flush(): Promise<void> {
    for (const pending of [...this.outbox]) if (pending.state !== "sending") await this.attempt(pending);
  }

  private async attempt(pending: Pending): Promise<void> {
    window.clearTimeout(pending.retryTimer);
    const view = () => (this.openId === pending.conversationId ? this.thread : null);
    if (!this.rt.socket.connected) {
      pending.state = "queued";
      view()?.showPending(pending);
      return;
    }
    pending.state = "sending";
    view()?.showPending(pending);
    try {
      const sent = await this.rt.call<MessageSent>("send_message", {
        conversationId: pending.conversationId,
        content: pending.content,
        contentType: "TEXT",
        clientMessageId: pending.clientMessageId, // a resend returns the stored message
      });
      this.settle(pending);
      const conversation = this.conversations.get(pending.conversationId);
      if (conversation && !conversation.messages.has(sent.seq)) {
        this.store(conversation, {
          id: sent.messageId,
          messageId: sent.messageId,
          conversationId: sent.conversationId,
          seq: sent.seq,
          senderId: this.me.userId,
          senderType: this.me.role,
          content: pending.content,
          contentType: "TEXT",
          sentAt: sent.sentAt,
          isRead: false,
          clientMessageId: pending.clientMessageId,
        }, true);
      }
      view()?.clearError();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 0) {
        pending.state = "queued"; // resent on reconnect
      } else if (error.status === 429) {
        pending.state = "queued";
        const wait = (error.retryAfter ?? 10) * 1000;
        pending.retryTimer = window.setTimeout(() => void this.attempt(pending), wait);
        view()?.showError(error);
      } else {
        pending.state = "failed";
        view()?.showError(error, () => this.retry(pending.clientMessageId));
      }
      view()?.showPending(pending);
    }
  }

  private settle(pending: Pending): void {
    window.clearTimeout(pending.retryTimer);
    this.outbox = this.outbox.filter((p) => p !== pending);
    if (this.openId === pending.conversationId) this.thread?.removePending(pending.clientMessageId);
  }

  private async upload(
    conversationId: string, file: File, onProgress: (f: number) => void, fileType?: string,
  ): Promise<void> {
    const { done } = upload<FileUploaded>(
      "/api/v1/chat/messages/upload",
      { conversationId, file, ...(fileType ? { fileType } : {}) },
      onProgress,
    );
    await done; // the message itself arrives as message_received
  }

  pendingCount(): number {
    return this.outbox.length;
  }

  conversation(conversationId: string): ConversationSummary | null {
    return this.conversations.get(conversationId)?.summary ?? null;
  }
}

/** A clientMessageId; crypto.randomUUID needs a secure context, getRandomValues does not. */
function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
