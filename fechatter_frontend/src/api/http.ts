import type { TokenStore } from '@/auth/tokens';

import { ApiError, errorFromResponse } from './errors';

export type QueryValue = string | number | null | undefined;

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, QueryValue>;
  /** Sends the access token and refreshes it once on 401 (default true). */
  auth?: boolean;
  signal?: AbortSignal;
}

/**
 * JSON client for the REST API under `/api` on the page's own origin (the gateway, or the dev
 * server's proxy).
 */
export class HttpClient {
  private tokenStore: TokenStore | null = null;

  constructor(private readonly fetchImpl: typeof fetch = (...args) => fetch(...args)) {}

  useTokenStore(store: TokenStore | null): void {
    this.tokenStore = store;
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const auth = options.auth ?? true;
    let accessToken = auth ? await this.tokenStore?.accessToken() : null;
    if (auth && !accessToken) {
      throw new ApiError(401, 'unauthorized', 'You are signed out; sign in again.');
    }
    let response = await this.send(method, path, options, accessToken ?? null);
    if (response.status === 401 && auth && accessToken && this.tokenStore) {
      accessToken = await this.tokenStore.accessTokenAfterUnauthorized(accessToken);
      if (!accessToken) {
        throw await errorFromResponse(response);
      }
      response = await this.send(method, path, options, accessToken);
    }
    if (!response.ok) {
      throw await errorFromResponse(response);
    }
    if (response.status === 204) {
      return undefined as T;
    }
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async send(
    method: string,
    path: string,
    options: RequestOptions,
    accessToken: string | null,
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
    }
    if (accessToken) {
      headers.authorization = `Bearer ${accessToken}`;
    }
    try {
      return await this.fetchImpl(withQuery(path, options.query), {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: options.signal,
        credentials: 'same-origin',
      });
    } catch (error) {
      if (error instanceof DOMException && error.name === 'AbortError') {
        throw error;
      }
      throw new ApiError(0, 'network_error', `Request ${method} ${path} failed: ${String(error)}`);
    }
  }
}

export function withQuery(path: string, query?: Record<string, QueryValue>): string {
  if (!query) {
    return path;
  }
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== '') {
      params.set(key, String(value));
    }
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export const http = new HttpClient();
