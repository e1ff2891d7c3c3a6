// Online / last seen of the person at the other end of a conversation (issue 18), from the
// presence the server keeps: GET .../users/{id}/presence once, then live `presence` events.
import { api } from "./api";
import { h } from "./dom";
import { formatTime, onLangChange, t } from "./i18n";
import type { Realtime } from "./realtime";

interface PresenceView {
  userId: string;
  online: boolean;
  lastSeen: string | null;
}

export class PresenceBook {
  private known = new Map<string, PresenceView>();
  private lines = new Map<string, Set<HTMLElement>>();

  constructor(rt: Realtime) {
    rt.on<PresenceView>("presence", (presence) => this.update(presence));
    onLangChange(() => {
      for (const userId of this.lines.keys()) this.render(userId);
    });
  }

  /** A status line that stays current while it is on the page. */
  line(userId: string): HTMLElement {
    const el = h("p", { class: "presence", "data-user-id": userId });
    const lines = this.lines.get(userId) ?? new Set();
    lines.add(el);
    this.lines.set(userId, lines);
    if (this.known.has(userId)) this.render(userId);
    else void api<PresenceView>("GET", `/api/v1/chat/users/${userId}/presence`).then((p) => this.update(p)).catch(() => undefined);
    return el;
  }

  private update(presence: PresenceView): void {
    this.known.set(presence.userId, presence);
    this.render(presence.userId);
  }

  private render(userId: string): void {
    const presence = this.known.get(userId);
    const lines = this.lines.get(userId);
    if (!presence || !lines) return;
    for (const el of [...lines]) {
      if (!el.isConnected && el.dataset.shown) {
        lines.delete(el); // its thread was closed
        continue;
      }
      el.dataset.shown = "1";
      el.classList.toggle("online", presence.online);
      el.textContent = presence.online
        ? t("online")
        : presence.lastSeen
          ? t("lastSeen", { time: lastSeenText(presence.lastSeen) })
          : t("offlineStatus");
    }
  }
}

function lastSeenText(iso: string): string {
  const when = new Date(iso);
  const today = new Date();
  if (when.toDateString() === today.toDateString()) return formatTime(iso);
  return `${when.toLocaleDateString()} ${formatTime(iso)}`;
}
