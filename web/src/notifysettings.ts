// The notification settings panel (issue 18): push on this device (service worker + Web Push
// subscription), the email digest and quiet hours, kept on the server per user.
import { api, ApiError } from "./api";
import { h } from "./dom";
import { t, translate } from "./i18n";

interface Preferences {
  push: boolean;
  emailDigest: boolean;
  email: string | null;
  quietStart: string | null;
  quietEnd: string | null;
  timeZone: string;
  channels: string[];
}

const SUBSCRIPTIONS = "/api/v1/notifications/subscriptions";

/** The service worker shows pushes; registered at the origin's root so it covers every page. */
export async function registerServiceWorker(): Promise<ServiceWorkerRegistration | null> {
  if (!("serviceWorker" in navigator)) return null;
  try {
    return await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  } catch {
    return null;
  }
}

function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const padded = base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4);
  const bytes = new Uint8Array(new ArrayBuffer(atob(padded).length));
  bytes.set(Array.from(atob(padded), (c) => c.charCodeAt(0)));
  return bytes;
}

/** Ask permission, subscribe this browser with the server's VAPID key and store it. */
async function subscribePush(): Promise<string | null> {
  if (!("Notification" in window) || !("PushManager" in window)) return t("pushUnsupported");
  if ((await Notification.requestPermission()) !== "granted") return t("pushDenied");
  const registration = await registerServiceWorker();
  if (!registration) return t("pushUnsupported");
  const { publicKey } = await api<{ publicKey: string }>("GET", "/api/v1/notifications/vapid-public-key");
  const subscription = await registration.pushManager.subscribe({
    userVisibleOnly: true,
    applicationServerKey: keyBytes(publicKey),
  });
  await api("POST", SUBSCRIPTIONS, subscription.toJSON());
  return null;
}

async function unsubscribePush(): Promise<void> {
  const registration = await navigator.serviceWorker?.getRegistration("/");
  const subscription = await registration?.pushManager.getSubscription();
  if (!subscription) return;
  await api("DELETE", SUBSCRIPTIONS, { endpoint: subscription.endpoint }).catch(() => undefined);
  await subscription.unsubscribe();
}

export class NotificationSettings {
  readonly button: HTMLButtonElement;
  private readonly dialog: HTMLDialogElement;

  constructor() {
    this.dialog = h("dialog", { class: "notification-settings", "aria-labelledby": "notification-settings-title" });
    this.button = h("button", { type: "button", class: "link-button", i18n: "notifications", onclick: () => void this.open() });
    document.body.append(this.dialog);
  }

  async open(): Promise<void> {
    let wanted: Preferences;
    try {
      wanted = await api<Preferences>("GET", "/api/v1/notifications/preferences");
    } catch {
      return;
    }
    const status = h("p", { role: "status", class: "settings-status" });
    const push = h("input", { type: "checkbox", id: "pref-push", checked: wanted.push && Notification?.permission === "granted" });
    // Without Web Push here, the page itself can still notify while its tab is hidden.
    const hasNotifications = "Notification" in window;
    const inPage = h("input", { type: "checkbox", id: "pref-in-page", checked: hasNotifications && Notification.permission === "granted" });
    const digest = h("input", { type: "checkbox", id: "pref-digest", checked: wanted.emailDigest });
    const email = h("input", { type: "email", id: "pref-email", value: wanted.email ?? "", autocomplete: "email" });
    const quietStart = h("input", { type: "time", id: "pref-quiet-start", value: wanted.quietStart ?? "" });
    const quietEnd = h("input", { type: "time", id: "pref-quiet-end", value: wanted.quietEnd ?? "" });
    const form = h("form", { method: "dialog" },
      h("h2", { id: "notification-settings-title", i18n: "notifications" }),
      wanted.channels.includes("webpush") && h("p", {}, push, " ", h("label", { for: "pref-push", i18n: "pushOn" })),
      !wanted.channels.includes("webpush") && hasNotifications && h("p", {}, inPage, " ", h("label", { for: "pref-in-page", i18n: "inPageNotifications" })),
      wanted.channels.includes("email") && h("p", {}, digest, " ", h("label", { for: "pref-digest", i18n: "emailDigest" })),
      wanted.channels.includes("email") && h("p", {}, h("label", { for: "pref-email", i18n: "emailAddress" }), " ", email),
      h("fieldset", {}, h("legend", { i18n: "quietHours" }),
        h("label", { for: "pref-quiet-start", i18n: "quietFrom" }), " ", quietStart, " ",
        h("label", { for: "pref-quiet-end", i18n: "quietTo" }), " ", quietEnd),
      status,
      h("p", { class: "actions" },
        h("button", { type: "submit", value: "save", i18n: "save" }),
        h("button", { type: "button", class: "link-button", i18n: "close", onclick: () => this.dialog.close() })),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (inPage.checked && hasNotifications && Notification.permission === "default") void Notification.requestPermission();
      void this.save(status, {
        push: wanted.channels.includes("webpush") ? push.checked : wanted.push,
        emailDigest: digest.checked,
        email: email.value.trim() || null,
        quietStart: quietStart.value || null,
        quietEnd: quietEnd.value || null,
        timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone || wanted.timeZone,
      }, wanted.channels.includes("webpush"));
    });
    this.dialog.replaceChildren(form);
    translate(this.dialog);
    this.dialog.showModal();
  }

  private async save(status: HTMLElement, wanted: Omit<Preferences, "channels">, hasPush: boolean): Promise<void> {
    try {
      if (hasPush) {
        const problem = wanted.push ? await subscribePush() : (await unsubscribePush(), null);
        if (problem) {
          status.textContent = problem;
          wanted.push = false;
        }
      }
      await api("PUT", "/api/v1/notifications/preferences", wanted);
      if (!status.textContent) status.textContent = t("saved");
    } catch (error) {
      status.textContent = error instanceof ApiError ? error.message : String(error);
    }
  }
}
