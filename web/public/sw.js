// medtalk's service worker (issue 18): shows Web Push notifications and opens the conversation
// or call when one is tapped. A push carries ids, the other person's name and a count, never
// message content (docs/notifications.md), so the text here is ours, in the browser's language.
const TEXT = {
  vi: {
    MESSAGE_WAITING: (n) => (n > 1 ? `${n} tin nhắn mới` : "Tin nhắn mới"),
    CALL_INCOMING: () => "Cuộc gọi video đến",
    CALL_MISSED: () => "Cuộc gọi nhỡ",
    RECORDING_READY: () => "Bản ghi cuộc gọi đã sẵn sàng",
  },
  en: {
    MESSAGE_WAITING: (n) => (n > 1 ? `${n} new messages` : "New message"),
    CALL_INCOMING: () => "Incoming video call",
    CALL_MISSED: () => "Missed call",
    RECORDING_READY: () => "Call recording ready",
  },
};

function text(push) {
  const lang = (self.navigator.language || "vi").toLowerCase().startsWith("vi") ? "vi" : "en";
  const say = TEXT[lang][push.type] || TEXT[lang].MESSAGE_WAITING;
  return say(push.count || 1);
}

function target(push) {
  if (push.type === "CALL_INCOMING" && push.roomId) return `/call/${push.roomId}`;
  if (push.conversationId) return `/conversations/${push.conversationId}`;
  return "/";
}

async function show(push) {
  // A page of ours that the user is looking at shows its own signals (title, chime, ring).
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  if (windows.some((client) => client.visibilityState === "visible")) return;
  const tag = push.type === "CALL_INCOMING" ? `call:${push.roomId}` : `conversation:${push.conversationId}`;
  await self.registration.showNotification(push.senderName || "medtalk", {
    // A preview only where the deployment turned them on (MEDTALK_PUSH_PREVIEWS).
    body: push.preview || text(push),
    tag,
    renotify: true,
    requireInteraction: push.type === "CALL_INCOMING",
    data: { url: target(push) },
  });
}

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let push = {};
  try {
    push = event.data ? event.data.json() : {};
  } catch {
    push = {};
  }
  const shown = show(push);
  try {
    event.waitUntil(shown);
  } catch {
    // A push event a test dispatched itself is not trusted: waitUntil refuses it, show() runs.
  }
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url || "/", self.location.origin).href;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      for (const client of windows) {
        // A page this worker controls is taken there; one it does not (opened before the
        // worker was installed) cannot be navigated, so a new window opens instead.
        const moved = await client.navigate(url).catch(() => null);
        if (moved) return moved.focus();
      }
      return self.clients.openWindow(url);
    })(),
  );
});
