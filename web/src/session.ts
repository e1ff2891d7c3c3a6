// The signed-in user's token: from a `#token=` link, a paste or the demo picker. Kept in memory
// and sessionStorage (this tab only), never in localStorage, and removed from the URL at once.

export type Role = "PATIENT" | "DOCTOR" | "ADMIN";

export interface Identity {
  token: string;
  userId: string;
  name: string;
  role: Role;
  expiresAt: number; // epoch ms
}

const KEY = "medtalk.token";

/** Read a token handed over in the URL fragment, then erase it from the address bar. */
export function takeTokenFromUrl(): string | null {
  const hash = window.location.hash.replace(/^#/, "");
  if (!hash) return null;
  const params = new URLSearchParams(hash);
  const token = params.get("token");
  if (!token) return null;
  params.delete("token");
  const rest = params.toString();
  const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : "");
  window.history.replaceState(window.history.state, "", url);
  return token;
}

/** The claims we display (the server verifies the signature on every call). */
export function decode(token: string): Identity | null {
  const parts = token.trim().replace(/^Bearer\s+/i, "").split(".");
  if (parts.length !== 3) return null;
  try {
    const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(parts[1].length / 4) * 4, "="));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    const role = String(claims.role ?? "").toUpperCase();
    if (typeof claims.sub !== "string" || !["PATIENT", "DOCTOR", "ADMIN"].includes(role)) return null;
    return {
      token: parts.join("."),
      userId: claims.sub,
      name: typeof claims.name === "string" && claims.name ? claims.name : claims.sub,
      role: role as Role,
      expiresAt: typeof claims.exp === "number" ? claims.exp * 1000 : Number.POSITIVE_INFINITY,
    };
  } catch {
    return null;
  }
}

let identity: Identity | null = null;

export function current(): Identity | null {
  if (identity && identity.expiresAt <= Date.now()) signOut();
  return identity;
}

export function signIn(token: string): Identity | null {
  const found = decode(token);
  if (!found || found.expiresAt <= Date.now()) return null;
  identity = found;
  sessionStorage.setItem(KEY, found.token);
  return found;
}

export function restore(): Identity | null {
  const saved = sessionStorage.getItem(KEY);
  return saved ? signIn(saved) : null;
}

export function signOut(): void {
  identity = null;
  sessionStorage.removeItem(KEY);
}
