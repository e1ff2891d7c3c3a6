// Errors in the user's language: a server error's code picks the sentence. The server's own
// message (English, for developers) is never shown inside translated text.
import { ApiError } from "./api";
import { formatBytes, formatWait, type MessageKey, t } from "./i18n";

const BY_CODE: Record<string, MessageKey> = {
  CALL_ENDED: "errCallEnded",
  CALL_NOT_IN_PROGRESS: "errCallEnded",
  ROOM_EXPIRED: "errRoomExpired",
  TOO_EARLY: "errTooEarly",
  NOT_FOUND: "errNotFound",
  DOCTOR_NOT_FOUND: "errNotFound",
  PATIENT_NOT_FOUND: "errNotFound",
  FORBIDDEN: "errForbidden",
  CONVERSATION_CLOSED: "errConversationClosed",
  CONVERSATION_ARCHIVED: "errConversationClosed",
  CONVERSATION_NOT_ACTIVE: "errConversationClosed",
  UNAVAILABLE: "errUnavailable",
  INVALID: "errInvalid",
  BAD_REQUEST: "errInvalid",
  NOT_JOINED: "errNotJoined",
  NOT_ADMITTED: "errNotAdmitted",
  NOT_WAITING: "errNotWaiting",
  APPOINTMENT_OVER: "errAppointmentOver",
  UNAUTHORIZED: "errUnauthorized",
  MEDIA_UNREADABLE: "errMediaUnreadable",
  TOKEN_EXPIRED: "errUnauthorized",
  TOKEN_REVOKED: "errUnauthorized",
};

export function describeError(error: unknown): string {
  if (!(error instanceof ApiError)) return t("genericError", { code: "CLIENT" });
  if (error.status === 429 || error.code === "RATE_LIMITED") {
    return t("rateLimited", { wait: formatWait(error.retryAfter ?? 60) });
  }
  if (error.status === 413 || error.code === "TOO_LARGE") {
    const max = /(\d+) bytes/.exec(error.message);
    return max ? t("tooLargeMax", { size: formatBytes(Number(max[1])) }) : t("tooLarge");
  }
  if (error.status === 415 || error.code === "UNSUPPORTED_MEDIA_TYPE") return t("wrongType");
  if (error.status === 0) return t("offline");
  const key = BY_CODE[error.code];
  return key ? t(key) : t("genericError", { code: error.code });
}

/** Why getUserMedia failed, from the DOMException's name (its message is the browser's English). */
export function describeMediaError(error: unknown): string {
  const name = (error as { name?: string } | null)?.name ?? "";
  if (name === "NotAllowedError" || name === "SecurityError") return t("errMediaDenied");
  if (name === "NotFoundError" || name === "OverconstrainedError") return t("errMediaMissing");
  if (name === "NotReadableError" || name === "AbortError") return t("errMediaBusy");
  return t("genericError", { code: name || "MEDIA" });
}
