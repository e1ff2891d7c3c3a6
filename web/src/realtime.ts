// The one Socket.IO connection (namespace /ws/chat): acknowledged calls and connection state.
import { io, type Socket } from "socket.io-client";
import { ApiError } from "./api";

export type ConnectionState = "connecting" | "online" | "offline";

const STATUS_OF: Record<string, number> = {
  INVALID: 422,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
};

export class Realtime {
  readonly socket: Socket;
  state: ConnectionState = "connecting";
  private stateListeners: Array<(state: ConnectionState, reconnected: boolean) => void> = [];
  private everConnected = false;

  constructor(token: () => string, onUnauthorized: () => void) {
    this.socket = io("/ws/chat", {
      auth: (cb) => cb({ token: `Bearer ${token()}` }),
      transports: ["websocket", "polling"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 4000,
    });
    this.socket.on("connect", () => {
      const reconnected = this.everConnected;
      this.everConnected = true;
      this.setState("online", reconnected);
    });
    this.socket.on("disconnect", (reason) => {
      this.setState("offline", false);
      // socket.io gives up after a server-side disconnect (a restart, a deploy): come back anyway.
      if (reason === "io server disconnect") window.setTimeout(() => this.socket.connect(), 1000);
    });
    this.socket.on("connect_error", (error: Error) => {
      if (/UNAUTHORIZED/.test(error.message)) onUnauthorized();
      else this.setState("offline", false);
    });
    window.addEventListener("online", () => {
      if (!this.socket.connected) this.socket.connect();
    });
  }

  onState(listener: (state: ConnectionState, reconnected: boolean) => void): () => void {
    this.stateListeners.push(listener);
    return () => {
      this.stateListeners = this.stateListeners.filter((l) => l !== listener);
    };
  }

  private setState(state: ConnectionState, reconnected: boolean): void {
    this.state = state;
    for (const listener of this.stateListeners) listener(state, reconnected);
  }

  /** Emit with acknowledgement; an error ack becomes an ApiError (status 0 when offline). */
  async call<T>(event: string, data: unknown, timeoutMs = 8000): Promise<T> {
    if (!this.socket.connected) throw new ApiError(0, "OFFLINE", "not connected");
    let answer: unknown;
    try {
      answer = await this.socket.timeout(timeoutMs).emitWithAck(event, data);
    } catch {
      throw new ApiError(0, "TIMEOUT", "no answer from the server");
    }
    const error = (answer as { error?: { code: string; message: string; retryAfter?: number } })?.error;
    if (error) {
      throw new ApiError(STATUS_OF[error.code] ?? 400, error.code, error.message, error.retryAfter ?? null);
    }
    return answer as T;
  }

  on<T>(event: string, handler: (data: T) => void): () => void {
    const listener = (data: T) => handler(data);
    this.socket.on(event, listener);
    return () => this.socket.off(event, listener);
  }

  reconnectNow(): void {
    if (!this.socket.connected) this.socket.connect();
  }

  close(): void {
    this.socket.disconnect();
  }
}
