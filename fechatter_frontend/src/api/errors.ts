import type { ErrorBody } from './types';

/**
 * Failure of an API call: the server's `{error: {code, message, details}}` body, or the network
 * failure (`code` `network_error`, `status` 0) when no response arrived.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown> | null;
  /** Seconds from the `Retry-After` header of a 429 response. */
  readonly retryAfterSeconds: number | null;

  constructor(
    status: number,
    code: string,
    message: string,
    details: Record<string, unknown> | null = null,
    retryAfterSeconds: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  /** Messages of `validation_failed` for one request field, or an empty list. */
  fieldErrors(field: string): string[] {
    const fields = this.details?.fields;
    if (!fields || typeof fields !== 'object') {
      return [];
    }
    const messages = (fields as Record<string, unknown>)[field];
    return Array.isArray(messages) ? messages.map(String) : [];
  }
}

/** Builds an ApiError from a non-2xx response, whatever its body. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  const retryAfter = response.headers.get('retry-after');
  const retryAfterSeconds = retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) : null;
  let body: Partial<ErrorBody> | null = null;
  try {
    body = (await response.json()) as Partial<ErrorBody>;
  } catch {
    body = null;
  }
  const detail = body?.error;
  if (detail && typeof detail.code === 'string') {
    return new ApiError(
      response.status,
      detail.code,
      detail.message ?? response.statusText,
      (detail.details as Record<string, unknown> | null | undefined) ?? null,
      retryAfterSeconds,
    );
  }
  return new ApiError(
    response.status,
    response.status === 503 ? 'upstream_unavailable' : 'http_error',
    `The server answered ${response.status} ${response.statusText}`.trim(),
    null,
    retryAfterSeconds,
  );
}

/** Text to show a person for a failed call. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === 'network_error') {
      return 'Cannot reach the server. Check your connection and try again.';
    }
    if (error.code === 'rate_limited') {
      const wait = error.retryAfterSeconds;
      return wait ? `Too many requests; try again in ${wait} s.` : 'Too many requests; try again shortly.';
    }
    if (error.code === 'validation_failed') {
      const fields = error.details?.fields as Record<string, string[]> | undefined;
      if (fields) {
        const parts = Object.entries(fields).map(([field, messages]) => `${field}: ${messages.join(', ')}`);
        if (parts.length > 0) {
          return parts.join('; ');
        }
      }
    }
    return error.message;
  }
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}
