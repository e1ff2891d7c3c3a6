// REST calls with the bearer token; every failure becomes an ApiError with the server's code.
import { current } from "./session";

export class ApiError extends Error {
  constructor(
    readonly status: number, // 0: no answer (offline)
    readonly code: string,
    message: string,
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }
}

type Listener = (error: ApiError) => void;
let onUnauthorized: Listener = () => {};

export function whenUnauthorized(listener: Listener): void {
  onUnauthorized = listener;
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const me = current();
  return { ...(me ? { Authorization: `Bearer ${me.token}` } : {}), ...extra };
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }),
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "OFFLINE", "no connection");
  }
  const text = await response.text();
  const data: unknown = text ? safeJson(text) : null;
  if (!response.ok) throw toError(response.status, data, response.headers.get("Retry-After"));
  return data as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function toError(status: number, data: unknown, retryAfterHeader: string | null): ApiError {
  const error = (data as { error?: { code?: string; message?: string; retryAfter?: number } })?.error;
  const retryAfter = retryAfterHeader ? Number(retryAfterHeader) : (error?.retryAfter ?? null);
  const result = new ApiError(
    status,
    error?.code ?? `HTTP_${status}`,
    error?.message ?? `HTTP ${status}`,
    Number.isFinite(retryAfter) ? retryAfter : null,
  );
  if (status === 401) onUnauthorized(result);
  return result;
}

export interface Upload<T> {
  done: Promise<T>;
  abort: () => void;
}

/** Multipart upload through XMLHttpRequest, for its upload progress events. */
export function upload<T>(
  path: string,
  fields: Record<string, string | Blob>,
  onProgress: (fraction: number) => void,
): Upload<T> {
  const xhr = new XMLHttpRequest();
  const done = new Promise<T>((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    xhr.open("POST", path);
    for (const [name, value] of Object.entries(headers())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      const data = safeJson(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300) resolve(data as T);
      else reject(toError(xhr.status, data, xhr.getResponseHeader("Retry-After")));
    };
    xhr.onerror = () => reject(new ApiError(0, "OFFLINE", "no connection"));
    xhr.onabort = () => reject(new ApiError(0, "ABORTED", "cancelled"));
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}
