// Jitsi Meet mode (provider "jitsi"): the spec's External API snippet, loaded from the configured
// Jitsi server itself (never a CDN) and only in this mode.
import type { CallUi } from "./peer";
import type { RoomToken } from "./types";

interface JitsiApi {
  addEventListener(event: string, listener: (...args: unknown[]) => void): void;
  dispose(): void;
}
type JitsiConstructor = new (domain: string, options: Record<string, unknown>) => JitsiApi;

declare global {
  interface Window {
    JitsiMeetExternalAPI?: JitsiConstructor;
  }
}

export class JitsiCall {
  private constructor(private readonly api: JitsiApi) {}

  static async start(token: RoomToken, ui: CallUi, hangUp: () => void): Promise<JitsiCall> {
    const domain = new URL(token.joinUrl).host;
    await loadExternalApi(domain);
    const Api = window.JitsiMeetExternalAPI;
    if (!Api) throw new Error("Jitsi Meet API did not load");
    const container = document.createElement("div");
    container.id = "jitsi-container";
    ui.stage.append(container);
    const api = new Api(domain, {
      roomName: token.roomName,
      jwt: token.accessToken,
      width: "100%",
      height: 600,
      parentNode: container,
      lang: document.documentElement.lang,
      configOverwrite: {
        startWithAudioMuted: false,
        startWithVideoMuted: false,
        enableWelcomePage: false,
      },
      interfaceConfigOverwrite: {
        TOOLBAR_BUTTONS: [
          "microphone", "camera", "closedcaptions", "desktop",
          "fullscreen", "hangup", "settings", "videoquality",
        ],
      },
    });
    api.addEventListener("videoConferenceLeft", () => hangUp());
    api.addEventListener("readyToClose", () => hangUp());
    ui.quality.hidden = true; // Jitsi shows its own connection indicator
    return new JitsiCall(api);
  }

  stop(): void {
    this.api.dispose();
  }
}

function loadExternalApi(domain: string): Promise<void> {
  if (window.JitsiMeetExternalAPI) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = `https://${domain}/external_api.js`;
    script.async = true;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`could not load Jitsi Meet from ${domain}`));
    document.head.append(script);
  });
}
