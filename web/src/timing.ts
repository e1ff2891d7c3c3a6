// Marks in the browser's performance timeline for call set-up (accept -> first remote frame).
export const MARK_ACCEPTED = "medtalk:call-accepted";
export const MARK_FIRST_FRAME = "medtalk:first-remote-frame";
