// A tiny element builder and the page's shared live regions.
import { type MessageKey, t } from "./i18n";

type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;
type Child = Node | string | null | undefined | false;

/** h("button", {class: "x", onclick: fn, i18n: "send"}, child...) */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") {
      el.addEventListener(name.replace(/^on/, ""), value);
    } else if (name === "i18n") {
      el.dataset.i18n = String(value);
      el.textContent = t(value as MessageKey, vars(attrs));
    } else if (name === "i18nLabel" || name === "i18nPlaceholder" || name === "i18nTitle") {
      const target = { i18nLabel: "aria-label", i18nPlaceholder: "placeholder", i18nTitle: "title" }[name];
      el.dataset[name] = String(value);
      el.setAttribute(target, t(value as MessageKey, vars(attrs)));
    } else if (name === "i18nVars") {
      el.dataset.i18nVars = String(value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return el;
}

function vars(attrs: Attrs): Record<string, string> {
  return typeof attrs.i18nVars === "string" ? (JSON.parse(attrs.i18nVars) as Record<string, string>) : {};
}

/** Polite announcement for screen readers (new messages). */
export function announce(text: string): void {
  speak("announcer", text);
}

/** Assertive announcement (incoming call, errors). */
export function alertText(text: string): void {
  speak("alerter", text);
}

function speak(id: string, text: string): void {
  const region = document.getElementById(id);
  if (!region) return;
  region.textContent = "";
  // A fresh text node after clearing makes screen readers repeat identical announcements.
  window.setTimeout(() => (region.textContent = text), 50);
}

export function clear(el: Element): void {
  while (el.firstChild) el.firstChild.remove();
}
