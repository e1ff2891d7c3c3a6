// Boot: sign in, then the chat screen and calls, with a tiny router for client-side paths
// (/, /conversations/{id}, /call/{roomId}) that the server also answers with this page.
import "./styles.css";
import { whenUnauthorized } from "./api";
import { Calls } from "./call";
import { ChatApp } from "./chat";
import { clear, h } from "./dom";
import { type Lang, lang, setLang, t, translate } from "./i18n";
import { Realtime } from "./realtime";
import * as session from "./session";
import { NotificationSettings, registerServiceWorker } from "./notifysettings";
import { PresenceBook } from "./presence";
import { Signals } from "./signals";
import { signInView } from "./signin";
import { otherName } from "./thread";

const root = document.getElementById("app") as HTMLElement;
const handedOver = session.takeTokenFromUrl();

let chat: ChatApp | null = null;
let calls: Calls | null = null;
let realtime: Realtime | null = null;
let notice: string | null = null;
let signals: Signals | null = null;
const signalButtons = h("span", { class: "signal-buttons" });
const banner = h("div", { class: "connection", role: "status", hidden: true });
const content = h("div", { class: "content" });
const userLine = h("span", { class: "who" });
const signOutButton = h("button", { type: "button", class: "link-button sign-out", i18n: "signOut", hidden: true, onclick: () => signOut(null) });

function shell(): void {
  const picker = h("select", { id: "lang-select", i18nLabel: "language" },
    h("option", { value: "vi", lang: "vi" }, "Tiếng Việt"),
    h("option", { value: "en", lang: "en" }, "English"));
  picker.value = lang();
  picker.addEventListener("change", () => setLang(picker.value as Lang));
  root.append(
    h("header", { class: "topbar" },
      h("h1", { i18n: "appName" }), userLine,
      h("span", { class: "spacer" }), signalButtons, picker, signOutButton),
    banner, content);
  translate(document);
}

function navigate(path: string, replace = false): void {
  if (replace) window.history.replaceState({}, "", path);
  else window.history.pushState({}, "", path);
  void route();
}

async function route(): Promise<void> {
  const me = session.current();
  if (!me) {
    showSignIn();
    return;
  }
  if (!chat) startApp(me);
  const path = window.location.pathname;
  const call = /^\/call\/([\w-]+)/.exec(path);
  const conversation = /^\/conversations\/([\w-]+)/.exec(path);
  document.body.classList.toggle("in-call", Boolean(call));
  if (call) {
    const stage = document.getElementById("call-layer") as HTMLElement;
    calls?.open(call[1], stage);
    return;
  }
  calls?.close();
  await chat?.open(conversation ? conversation[1] : null);
}

function startApp(me: session.Identity): void {
  clear(content);
  userLine.textContent = `${me.name} · ${t(me.role === "DOCTOR" ? "doctor" : "patient")}`;
  signOutButton.hidden = false;
  realtime = new Realtime(() => session.current()?.token ?? "", () => signOut(t("sessionExpired")));
  realtime.onState((state) => {
    banner.hidden = state === "online";
    banner.replaceChildren(
      h("span", { i18n: state === "connecting" ? "reconnecting" : "offline" }),
      h("button", { type: "button", class: "link-button", i18n: "retryNow", onclick: () => realtime?.reconnectNow() }),
    );
    document.body.classList.toggle("offline", state !== "online");
  });
  const presence = new PresenceBook(realtime);
  chat = new ChatApp(me, realtime, {
    navigate,
    startCall: async (conversationId) => calls?.start(conversationId),
    presence: (userId) => presence.line(userId),
  });
  calls = new Calls(me, realtime, {
    navigate,
    otherName: (conversationId) => {
      const summary = conversationId ? chat?.conversation(conversationId) : null;
      return summary ? otherName(summary, me) : null;
    },
  });
  content.append(chat.el, h("div", { id: "call-layer" }));
  // issue 18: title count, sounds, hidden-tab notifications, the settings panel, push.
  signals = new Signals(me, realtime, (conversationId) => {
    const summary = chat?.conversation(conversationId);
    return summary ? otherName(summary, me) : "";
  });
  signalButtons.replaceChildren(signals.muteButton, new NotificationSettings().button);
  void registerServiceWorker();
}

function showSignIn(): void {
  clear(content);
  userLine.textContent = "";
  signOutButton.hidden = true;
  content.append(signInView((token) => {
    if (!session.signIn(token)) return false;
    notice = null;
    void route();
    return true;
  }, notice));
  translate(content);
}

function signOut(reason: string | null): void {
  session.signOut();
  realtime?.close();
  realtime = null;
  chat = null;
  calls?.close();
  calls = null;
  signals?.setUnread(0);
  signals = null;
  signalButtons.replaceChildren();
  notice = reason;
  navigate("/", true);
}

whenUnauthorized(() => signOut(t("sessionExpired")));
window.addEventListener("popstate", () => void route());
window.addEventListener("beforeunload", (event) => {
  if (chat && chat.pendingCount() > 0) event.preventDefault(); // unsent messages would be lost
});

shell();
if (handedOver && !session.signIn(handedOver)) notice = t("invalidToken");
if (!handedOver) session.restore();
void route();
