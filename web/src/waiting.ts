// The waiting room (issue 17): the patient's "the doctor will let you in" panel and the doctor's
// "<name> is waiting" row with an Admit button (signals.ts chimes, unless muted).
import { h } from "./dom";
import { describeError } from "./errors";
import type { Realtime } from "./realtime";

export interface Waiting {
  roomId: string;
  userId: string;
  userName: string;
}

/** The patient's side: who they are waiting for, and that the doctor lets them in. */
export function waitingRoomPanel(doctorName: string | null, tooEarly: boolean): HTMLElement {
  return h("div", { class: "waiting-room", role: "status", "aria-live": "polite" },
    h("h3", { class: "waiting-doctor" }, doctorName ?? ""),
    h("p", { class: "waiting-text", i18n: tooEarly ? "errTooEarly" : "waitingRoomText" }));
}

/** The doctor's side: one row per waiting participant, with an Admit button. */
export class AdmitList {
  readonly el: HTMLElement;
  private rows = new Map<string, HTMLElement>();

  constructor(private readonly rt: Realtime, private readonly onError: (text: string) => void) {
    this.el = h("div", { class: "admit-list", role: "region", i18nLabel: "waitingRoomTitle" });
  }

  /** Someone is waiting: show them (once). */
  add(waiting: Waiting): void {
    if (this.rows.has(waiting.userId)) return;
    const admit = h("button", { type: "button", class: "primary admit", i18n: "admit", onclick: () => void this.admit(waiting, admit) });
    const row = h("div", { class: "admit-row" },
      h("span", { class: "admit-who", i18n: "participantWaiting", i18nVars: JSON.stringify({ name: waiting.userName }) }),
      admit);
    this.rows.set(waiting.userId, row);
    this.el.append(row);
  }

  remove(userId: string): void {
    this.rows.get(userId)?.remove();
    this.rows.delete(userId);
  }

  has(userId: string): boolean {
    return this.rows.has(userId);
  }

  async admit(waiting: Waiting, button: HTMLButtonElement | null = null): Promise<void> {
    if (button) button.disabled = true;
    try {
      await this.rt.call("call_admit", { roomId: waiting.roomId, userId: waiting.userId });
      this.remove(waiting.userId);
    } catch (error) {
      if (button) button.disabled = false;
      this.onError(describeError(error));
    }
  }
}
