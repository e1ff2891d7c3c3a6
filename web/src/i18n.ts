// UI strings in Vietnamese and English; the language follows the browser, with a switch.

const en = {
  // notifications (issue 18)
  notifications: "Notifications",
  newMessage: "New message",
  newMessages: "{count} new messages",
  muteSounds: "Mute sounds",
  unmuteSounds: "Turn sounds on",
  pushOn: "Notifications on this device",
  inPageNotifications: "Notify me while this tab is in the background",
  pushUnsupported: "This browser cannot show notifications.",
  pushDenied: "Notifications are blocked in this browser's settings.",
  emailDigest: "Email me a digest (no message content)",
  emailAddress: "Email address",
  quietHours: "Quiet hours",
  quietFrom: "From",
  quietTo: "To",
  save: "Save",
  saved: "Saved.",
  close: "Close",
  online: "Online",
  lastSeen: "Last seen {time}",
  offlineStatus: "Offline",
  appName: "medtalk",
  skipToContent: "Skip to content",
  language: "Language",
  signInTitle: "Sign in",
  signInDemo: "Demo accounts (development only)",
  signInAs: "Sign in as {name}",
  doctor: "Doctor",
  patient: "Patient",
  pasteToken: "Access token",
  pasteTokenHelp: "Paste the token your platform gave you.",
  signIn: "Sign in",
  signOut: "Sign out",
  invalidToken: "That is not a valid access token.",
  sessionExpired: "Your session has ended. Please sign in again.",
  conversations: "Conversations",
  noConversations: "No conversations yet.",
  unread: "{count} unread",
  noMessagesYet: "No messages yet",
  back: "Back to conversations",
  selectConversation: "Choose a conversation.",
  messages: "Messages",
  loadingOlder: "Loading older messages…",
  beginning: "Beginning of the conversation",
  messageLabel: "Message",
  messagePlaceholder: "Write a message…",
  send: "Send",
  attach: "Attach a file",
  typing: "{name} is typing…",
  you: "You",
  sent: "Sent",
  read: "Read",
  sending: "Sending…",
  queued: "Not sent yet: waiting for the connection",
  failed: "Not sent",
  retry: "Retry",
  uploading: "Uploading {name}",
  newMessageFrom: "New message from {name}: {text}",
  fileMessage: "File: {name}",
  recordVoice: "Record a voice message",
  recordingVoice: "Recording",
  voiceTimer: "Recording time",
  sendVoice: "Send",
  cancel: "Cancel",
  voiceMessage: "Voice message",
  duration: "Length {length}",
  voiceUnsupported: "This browser cannot record voice messages.",
  micUnavailable: "The microphone is not available: {message}",
  errMediaUnreadable: "This recording could not be read. Please try again.",
  searchLabel: "Search messages",
  searchPlaceholder: "Search messages…",
  searchButton: "Search",
  searchResults: "Search results",
  searching: "Searching…",
  searchFound: "{count} messages found",
  searchNothing: "No messages found",
  searchMore: "More results",
  offline: "You are offline. Messages will be sent when the connection is back.",
  reconnecting: "Connection lost. Reconnecting…",
  retryNow: "Retry now",
  dismiss: "Dismiss",
  rateLimited: "Too many requests. Try again in {wait}.",
  tooLarge: "This file is too large.",
  tooLargeMax: "This file is too large (at most {size}).",
  wrongType: "This type of file is not accepted. Send an image, PDF, audio or video.",
  genericError: "Something went wrong (code {code}). Please try again.",
  errCallEnded: "This call has already ended.",
  errRoomExpired: "This call link has expired.",
  errTooEarly: "The call has not opened yet. Please come back closer to the appointment time.",
  errNotFound: "Not found, or you do not have access to it.",
  errForbidden: "You are not allowed to do this.",
  errConversationClosed: "This conversation is closed.",
  errUnavailable: "The service is temporarily unavailable. Please try again shortly.",
  errInvalid: "The request was not accepted.",
  errNotJoined: "You are not in this call.",
  errNotAdmitted: "The doctor has not let you in yet.",
  errNotWaiting: "This person is no longer waiting.",
  errAppointmentOver: "The appointment time is over.",
  errUnauthorized: "Your session has ended. Please sign in again.",
  errMediaDenied: "permission to use them was refused",
  errMediaMissing: "none was found on this device",
  errMediaBusy: "another application is using them",
  startCall: "Video call",
  incomingCall: "Incoming video call",
  incomingCallFrom: "{name} is calling you",
  accept: "Accept",
  decline: "Decline",
  callTitle: "Video call",
  callWaiting: "Waiting for {name} to join…",
  waitingRoomTitle: "Waiting room",
  waitingRoomText: "You are in the waiting room. The doctor will let you in.",
  participantWaiting: "{name} is waiting",
  admit: "Admit",
  callConnecting: "Connecting…",
  callConnected: "Connected",
  callEnded: "Call ended",
  callEndedDuration: "Call ended ({duration})",
  callFailed: "The call could not be started: {message}",
  callDeclined: "{name} did not take the call",
  callHistoryMissed: "Missed video call",
  callHistoryEnded: "Video call, {duration}",
  mediaDenied: "Camera or microphone is not available: {message}",
  mute: "Mute",
  cameraOff: "Camera off",
  participantLeft: "{name} left the call",
  peerReconnecting: "{name} is reconnecting…",
  selfReconnecting: "Connection lost. Reconnecting to the call…",
  mediaReconnecting: "Video interrupted. Reconnecting…",
  hangUp: "Hang up",
  backToChat: "Back to the conversation",
  localVideo: "Your camera",
  remoteVideo: "{name}'s camera",
  remoteVideoGeneric: "The other person's camera",
  callTimer: "Call duration",
  quality: "Connection quality",
  qualityGood: "Good",
  qualityFair: "Fair",
  qualityPoor: "Poor",
  qualityUnknown: "Measuring",
  qualityDetails: "{kbps} kbps · {loss}% loss · {rtt} ms",
  record: "Record",
  stopRecording: "Stop recording",
  recordingOn: "Recording",
  recordingAsked: "Asked the patient for consent to record…",
  recordingConsentTitle: "Record this consultation?",
  recordingConsentText: "{name} asks to record this video consultation. It is kept with your medical records; you can stop it at any time.",
  recordingAllow: "Allow recording",
  recordingRefuse: "Do not record",
  recordingDeclined: "Recording was declined.",
  recordingSaving: "Recording stopped; saving it…",
  recordingReady: "Recording saved ({duration})",
  recordingFailed: "The recording could not be saved.",
  recordingError: "Recording problem: {message}",
};

export type MessageKey = keyof typeof en;

const vi: Record<MessageKey, string> = {
  // notifications (issue 18)
  notifications: "Thông báo",
  newMessage: "Tin nhắn mới",
  newMessages: "{count} tin nhắn mới",
  muteSounds: "Tắt âm thanh",
  unmuteSounds: "Bật âm thanh",
  pushOn: "Thông báo trên thiết bị này",
  inPageNotifications: "Báo cho tôi khi thẻ này đang ẩn",
  pushUnsupported: "Trình duyệt này không hiển thị được thông báo.",
  pushDenied: "Thông báo đang bị chặn trong cài đặt trình duyệt.",
  emailDigest: "Gửi email tóm tắt (không có nội dung tin nhắn)",
  emailAddress: "Địa chỉ email",
  quietHours: "Giờ yên lặng",
  quietFrom: "Từ",
  quietTo: "Đến",
  save: "Lưu",
  saved: "Đã lưu.",
  close: "Đóng",
  online: "Đang trực tuyến",
  lastSeen: "Truy cập lần cuối {time}",
  offlineStatus: "Ngoại tuyến",
  appName: "medtalk",
  skipToContent: "Chuyển đến nội dung",
  language: "Ngôn ngữ",
  signInTitle: "Đăng nhập",
  signInDemo: "Tài khoản demo (chỉ dùng khi phát triển)",
  signInAs: "Đăng nhập với tên {name}",
  doctor: "Bác sĩ",
  patient: "Bệnh nhân",
  pasteToken: "Mã truy cập",
  pasteTokenHelp: "Dán mã truy cập do nền tảng của bạn cấp.",
  signIn: "Đăng nhập",
  signOut: "Đăng xuất",
  invalidToken: "Mã truy cập không hợp lệ.",
  sessionExpired: "Phiên làm việc đã hết hạn. Vui lòng đăng nhập lại.",
  conversations: "Cuộc trò chuyện",
  noConversations: "Chưa có cuộc trò chuyện nào.",
  unread: "{count} tin chưa đọc",
  noMessagesYet: "Chưa có tin nhắn",
  back: "Quay lại danh sách",
  selectConversation: "Chọn một cuộc trò chuyện.",
  messages: "Tin nhắn",
  loadingOlder: "Đang tải tin nhắn cũ…",
  beginning: "Đầu cuộc trò chuyện",
  messageLabel: "Tin nhắn",
  messagePlaceholder: "Nhập tin nhắn…",
  send: "Gửi",
  attach: "Đính kèm tệp",
  typing: "{name} đang nhập…",
  you: "Bạn",
  sent: "Đã gửi",
  read: "Đã xem",
  sending: "Đang gửi…",
  queued: "Chưa gửi: đang chờ kết nối",
  failed: "Gửi không thành công",
  retry: "Thử lại",
  uploading: "Đang tải lên {name}",
  newMessageFrom: "Tin nhắn mới từ {name}: {text}",
  fileMessage: "Tệp: {name}",
  recordVoice: "Ghi âm tin nhắn thoại",
  recordingVoice: "Đang ghi âm",
  voiceTimer: "Thời gian ghi âm",
  sendVoice: "Gửi",
  cancel: "Huỷ",
  voiceMessage: "Tin nhắn thoại",
  duration: "Thời lượng {length}",
  voiceUnsupported: "Trình duyệt này không ghi âm được tin nhắn thoại.",
  micUnavailable: "Không dùng được micro: {message}",
  errMediaUnreadable: "Không đọc được bản ghi âm này. Vui lòng thử lại.",
  searchLabel: "Tìm trong tin nhắn",
  searchPlaceholder: "Tìm trong tin nhắn…",
  searchButton: "Tìm",
  searchResults: "Kết quả tìm kiếm",
  searching: "Đang tìm…",
  searchFound: "Tìm thấy {count} tin nhắn",
  searchNothing: "Không tìm thấy tin nhắn nào",
  searchMore: "Xem thêm kết quả",
  offline: "Bạn đang ngoại tuyến. Tin nhắn sẽ được gửi khi có kết nối.",
  reconnecting: "Mất kết nối. Đang kết nối lại…",
  retryNow: "Thử lại ngay",
  dismiss: "Đóng",
  rateLimited: "Bạn thao tác quá nhiều lần. Thử lại sau {wait}.",
  tooLarge: "Tệp quá lớn.",
  tooLargeMax: "Tệp quá lớn (tối đa {size}).",
  wrongType: "Loại tệp này không được chấp nhận. Hãy gửi ảnh, PDF, âm thanh hoặc video.",
  genericError: "Đã xảy ra lỗi (mã {code}). Vui lòng thử lại.",
  errCallEnded: "Cuộc gọi này đã kết thúc.",
  errRoomExpired: "Liên kết cuộc gọi đã hết hạn.",
  errTooEarly: "Cuộc gọi chưa mở. Vui lòng quay lại gần giờ hẹn.",
  errNotFound: "Không tìm thấy, hoặc bạn không có quyền truy cập.",
  errForbidden: "Bạn không có quyền thực hiện thao tác này.",
  errConversationClosed: "Cuộc trò chuyện này đã đóng.",
  errUnavailable: "Dịch vụ tạm thời không khả dụng. Vui lòng thử lại sau.",
  errInvalid: "Yêu cầu không được chấp nhận.",
  errNotJoined: "Bạn chưa tham gia cuộc gọi này.",
  errNotAdmitted: "Bác sĩ chưa cho bạn vào.",
  errNotWaiting: "Người này không còn chờ nữa.",
  errAppointmentOver: "Đã hết giờ hẹn.",
  errUnauthorized: "Phiên làm việc đã hết hạn. Vui lòng đăng nhập lại.",
  errMediaDenied: "quyền sử dụng đã bị từ chối",
  errMediaMissing: "không tìm thấy thiết bị trên máy này",
  errMediaBusy: "một ứng dụng khác đang sử dụng",
  startCall: "Gọi video",
  incomingCall: "Cuộc gọi video đến",
  incomingCallFrom: "{name} đang gọi cho bạn",
  accept: "Trả lời",
  decline: "Từ chối",
  callTitle: "Cuộc gọi video",
  callWaiting: "Đang chờ {name} tham gia…",
  waitingRoomTitle: "Phòng chờ",
  waitingRoomText: "Bạn đang ở phòng chờ. Bác sĩ sẽ cho bạn vào.",
  participantWaiting: "{name} đang chờ",
  admit: "Cho vào",
  callConnecting: "Đang kết nối…",
  callConnected: "Đã kết nối",
  callEnded: "Cuộc gọi đã kết thúc",
  callEndedDuration: "Cuộc gọi đã kết thúc ({duration})",
  callFailed: "Không thể bắt đầu cuộc gọi: {message}",
  callDeclined: "{name} không nhận cuộc gọi",
  callHistoryMissed: "Cuộc gọi nhỡ",
  callHistoryEnded: "Cuộc gọi video, {duration}",
  mediaDenied: "Không dùng được camera hoặc micro: {message}",
  mute: "Tắt tiếng",
  cameraOff: "Tắt camera",
  participantLeft: "{name} đã rời cuộc gọi",
  peerReconnecting: "{name} đang kết nối lại…",
  selfReconnecting: "Mất kết nối. Đang kết nối lại cuộc gọi…",
  mediaReconnecting: "Hình ảnh bị gián đoạn. Đang kết nối lại…",
  hangUp: "Kết thúc",
  backToChat: "Quay lại cuộc trò chuyện",
  localVideo: "Camera của bạn",
  remoteVideo: "Camera của {name}",
  remoteVideoGeneric: "Camera của người kia",
  callTimer: "Thời lượng cuộc gọi",
  quality: "Chất lượng kết nối",
  qualityGood: "Tốt",
  qualityFair: "Trung bình",
  qualityPoor: "Kém",
  qualityUnknown: "Đang đo",
  qualityDetails: "{kbps} kbps · mất {loss}% gói · {rtt} ms",
  record: "Ghi hình",
  stopRecording: "Dừng ghi hình",
  recordingOn: "Đang ghi hình",
  recordingAsked: "Đã hỏi bệnh nhân đồng ý ghi hình…",
  recordingConsentTitle: "Ghi hình buổi khám này?",
  recordingConsentText: "{name} muốn ghi hình buổi khám video này. Bản ghi được lưu cùng hồ sơ bệnh án của bạn; bạn có thể dừng bất cứ lúc nào.",
  recordingAllow: "Đồng ý ghi hình",
  recordingRefuse: "Không ghi hình",
  recordingDeclined: "Việc ghi hình đã bị từ chối.",
  recordingSaving: "Đã dừng ghi hình; đang lưu…",
  recordingReady: "Đã lưu bản ghi ({duration})",
  recordingFailed: "Không lưu được bản ghi.",
  recordingError: "Lỗi ghi hình: {message}",
};

export type Lang = "vi" | "en";
const tables: Record<Lang, Record<MessageKey, string>> = { en, vi };
const STORAGE_KEY = "medtalk.lang";

let current: Lang = initialLang();
const listeners: Array<() => void> = [];

function initialLang(): Lang {
  const saved = sessionStorage.getItem(STORAGE_KEY);
  if (saved === "vi" || saved === "en") return saved;
  const wanted = navigator.languages?.length ? navigator.languages : [navigator.language];
  for (const tag of wanted) {
    const base = tag.toLowerCase().split("-")[0];
    if (base === "vi" || base === "en") return base;
  }
  return "vi";
}

export function lang(): Lang {
  return current;
}

export function t(key: MessageKey, vars: Record<string, string | number> = {}): string {
  return tables[current][key].replace(/\{(\w+)\}/g, (_m, name: string) =>
    name in vars ? String(vars[name]) : `{${name}}`,
  );
}

/** Switch language: every element marked with data-i18n* is re-translated, then listeners run. */
export function setLang(next: Lang): void {
  current = next;
  sessionStorage.setItem(STORAGE_KEY, next);
  translate(document);
  for (const listener of listeners) listener();
}

export function onLangChange(listener: () => void): void {
  listeners.push(listener);
}

/** Apply the current language to data-i18n (text), data-i18n-label, -placeholder, -title. */
export function translate(root: ParentNode): void {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll<HTMLElement>("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n as MessageKey, vars(el));
  }
  for (const el of root.querySelectorAll<HTMLElement>("[data-i18n-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nLabel as MessageKey, vars(el)));
  }
  for (const el of root.querySelectorAll<HTMLElement>("[data-i18n-placeholder]")) {
    el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder as MessageKey, vars(el)));
  }
  for (const el of root.querySelectorAll<HTMLElement>("[data-i18n-title]")) {
    el.setAttribute("title", t(el.dataset.i18nTitle as MessageKey, vars(el)));
  }
}

function vars(el: HTMLElement): Record<string, string> {
  return el.dataset.i18nVars ? (JSON.parse(el.dataset.i18nVars) as Record<string, string>) : {};
}

export function formatTime(iso: string): string {
  return new Date(iso).toLocaleTimeString(current === "vi" ? "vi-VN" : "en-GB", {
    hour: "2-digit",
    minute: "2-digit",
  });
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const mm = String(Math.floor(s / 60) % 60).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** A wait in words: 45 s, 3 min, 24 h. */
export function formatWait(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  const vi = current === "vi";
  if (s < 120) return vi ? `${s} giây` : `${s} s`;
  if (s < 2 * 3600) return vi ? `${Math.ceil(s / 60)} phút` : `${Math.ceil(s / 60)} min`;
  return vi ? `${Math.ceil(s / 3600)} giờ` : `${Math.ceil(s / 3600)} h`;
}
