// Search in the history: a search box over the conversation list; results show the matched
// words highlighted (diacritics ignored, as the server matches them) and jump to the message.
import { api } from "./api";
import { describeError } from "./errors";
import { clear, h } from "./dom";
import { formatTime, lang, t } from "./i18n";
import type { Message } from "./types";

export interface SearchPage {
  query: string;
  words: string[];
  messages: Message[];
  nextCursor: string | null;
}

export interface SearchHooks {
  conversationName(conversationId: string): string;
  jump(conversationId: string, seq: number): void;
}

/** Lower case without diacritics, đ as d: the server's folding (search/tokens.py). */
export function fold(text: string): string {
  return text.replace(/đ/g, "d").replace(/Đ/g, "D").normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
}

/** `text` with every word that folds to one of `words` wrapped in <mark>. */
export function highlighted(text: string, words: string[]): Array<Node | string> {
  const wanted = new Set(words);
  const parts: Array<Node | string> = [];
  let last = 0;
  for (const match of text.matchAll(/[\p{L}\p{M}\p{N}]+/gu)) {
    if (!wanted.has(fold(match[0]))) continue;
    const at = match.index ?? 0;
    parts.push(text.slice(last, at), h("mark", {}, match[0]));
    last = at + match[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

export class SearchBox {
  readonly el: HTMLElement;
  private input: HTMLInputElement;
  private results: HTMLOListElement;
  private status: HTMLElement;
  private more: HTMLButtonElement;
  private page: SearchPage | null = null;

  constructor(private readonly hooks: SearchHooks) {
    this.input = h("input", { type: "search", id: "search-input", i18nPlaceholder: "searchPlaceholder",
      autocomplete: "off", maxlength: 200 });
    this.status = h("p", { class: "search-status", role: "status" });
    this.results = h("ol", { class: "search-results", i18nLabel: "searchResults" });
    this.more = h("button", { type: "button", class: "link-button", hidden: true, i18n: "searchMore",
      onclick: () => void this.run(true) });
    const form = h("form", { class: "search", role: "search" },
      h("label", { for: "search-input", class: "sr-only", i18n: "searchLabel" }),
      this.input,
      h("button", { type: "submit", class: "icon-button", i18n: "searchButton" }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.run(false);
    });
    this.input.addEventListener("search", () => {
      if (!this.input.value) this.reset();
    });
    this.el = h("div", { class: "search-box" }, form, this.status, this.results, this.more);
  }

  private reset(): void {
    this.page = null;
    clear(this.results);
    this.status.textContent = "";
    this.more.hidden = true;
  }

  private async run(next: boolean): Promise<void> {
    const query = this.input.value.trim();
    if (!next) this.reset();
    if (!query) return;
    const params = new URLSearchParams({ q: query, limit: "20" });
    if (next && this.page?.nextCursor) params.set("cursor", this.page.nextCursor);
    this.status.textContent = t("searching");
    try {
      const page = await api<SearchPage>("GET", `/api/v1/chat/search?${params}`);
      this.page = page;
      for (const message of page.messages) this.results.append(this.result(message, page.words));
      const count = this.results.children.length;
      this.status.textContent = count ? t("searchFound", { count }) : t("searchNothing");
      this.more.hidden = !page.nextCursor;
    } catch (error) {
      this.status.textContent = describeError(error);
    }
  }

  private result(message: Message, words: string[]): HTMLElement {
    const text = message.fileName ?? message.content;
    return h("li", {},
      h("button", { type: "button", class: "search-result", "data-seq": message.seq,
        onclick: () => this.hooks.jump(message.conversationId, message.seq) },
        h("span", { class: "name" }, this.hooks.conversationName(message.conversationId)),
        h("time", { class: "when", datetime: message.sentAt }, `${formatDay(message.sentAt)} ${formatTime(message.sentAt)}`),
        h("span", { class: "snippet" }, ...highlighted(text, words))));
  }
}

function formatDay(iso: string): string {
  return new Date(iso).toLocaleDateString(lang() === "vi" ? "vi-VN" : "en-GB");
}
