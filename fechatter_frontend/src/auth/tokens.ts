import type { TokenPair } from '@/api/types';

import type { TokenRecord } from './tokenRecord';

/** Tokens of the signed-in session as kept in localStorage. */
export interface StoredTokens {
  accessToken: string;
  refreshToken: string;
  /** Expiry of the access token, in milliseconds since the Unix epoch. */
  accessExpiresAt: number;
  /** When this pair was stored, in milliseconds since the Unix epoch; 0 when unknown. */
  savedAt: number;
}

/** The part of the Web Locks API (`navigator.locks`) that the token store uses. */
export interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

export interface TokenStoreOptions {
  storage: Storage;
  /** Exchanges a refresh token for a new pair (`POST /api/refresh`). */
  refresh: (refreshToken: string) => Promise<TokenPair>;
  /** Cross-tab lock; without it only this tab's refreshes are serialized. */
  locks?: LockManagerLike | null;
  /** Copy of the tokens read inside the lock, consistent across tabs (IndexedDB in browsers). */
  record?: TokenRecord | null;
  now?: () => number;
  setTimer?: (callback: () => void, delayMs: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  /** Called after the tokens change in this tab or another one; `null` after sign-out. */
  onChange?: (tokens: StoredTokens | null) => void;
  /** Called when a refresh is rejected, so the session is over. */
  onExpired?: () => void;
}

export const TOKENS_STORAGE_KEY = 'fechatter.tokens';
export const REFRESH_LOCK_NAME = 'fechatter.refresh';
/** Refresh this long before the access token expires. */
export const REFRESH_MARGIN_MS = 60_000;
/** Wait before trying again after a refresh failed for a reason other than rejection. */
export const REFRESH_RETRY_MS = 10_000;

function parseTokens(text: string | null): StoredTokens | null {
  if (!text) {
    return null;
  }
  try {
    const value = JSON.parse(text) as Partial<StoredTokens>;
    if (
      typeof value.accessToken === 'string' &&
      typeof value.refreshToken === 'string' &&
      typeof value.accessExpiresAt === 'number'
    ) {
      return {
        accessToken: value.accessToken,
        refreshToken: value.refreshToken,
        accessExpiresAt: value.accessExpiresAt,
        savedAt: typeof value.savedAt === 'number' ? value.savedAt : 0,
      };
    }
  } catch {
    // A corrupt entry counts as signed out.
  }
  return null;
}

/** Checks whether a refresh failure means that the refresh token is no longer valid. */
function isRejection(error: unknown): boolean {
  const status = (error as { status?: unknown } | null)?.status;
  return status === 401 || status === 403;
}

/**
 * Keeps the access and refresh tokens in localStorage, shared by every tab of the origin, and
 * refreshes the access token before it expires.
 *
 * The server rotates the refresh token on every use and revokes the whole sign-in when a rotated
 * token is presented again more than 30 s later, so only one refresh may run at a time across
 * tabs. Each refresh holds the Web Lock `fechatter.refresh`. Inside it the store re-reads
 * localStorage, and when another tab has already rotated the token, it adopts that pair instead of
 * sending its stale one. Other tabs learn of the new pair from the `storage` event.
 */
export class TokenStore {
  private readonly options: Required<Omit<TokenStoreOptions, 'locks' | 'record' | 'onChange' | 'onExpired'>> &
    Pick<TokenStoreOptions, 'locks' | 'record' | 'onChange' | 'onExpired'>;
  private tokens: StoredTokens | null;
  private inFlight: Promise<StoredTokens | null> | null = null;
  private timer: unknown = null;

  constructor(options: TokenStoreOptions) {
    this.options = {
      now: () => Date.now(),
      setTimer: (callback, delayMs) => setTimeout(callback, delayMs),
      clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
      ...options,
    };
    this.tokens = parseTokens(options.storage.getItem(TOKENS_STORAGE_KEY));
    this.schedule();
  }

  get current(): StoredTokens | null {
    return this.tokens;
  }

  /** Stores a pair returned by signup, signin, refresh or a password change. */
  save(pair: TokenPair): StoredTokens {
    const tokens = this.tokensFrom(pair);
    this.replace(tokens, true);
    void this.writeRecord(tokens);
    return tokens;
  }

  /** Removes the session from every tab. */
  clear(): void {
    this.replace(null, true);
    void this.writeRecord(null);
  }

  /** Stops the refresh timer; the stored tokens stay. */
  dispose(): void {
    this.cancelTimer();
  }

  /** Applies a change that another tab wrote to localStorage. */
  handleStorageEvent(event: Pick<StorageEvent, 'key' | 'newValue'>): void {
    if (event.key !== TOKENS_STORAGE_KEY && event.key !== null) {
      return;
    }
    this.replace(parseTokens(event.newValue), false);
  }

  /** Returns an access token valid for at least a few more seconds, refreshing first if needed. */
  async accessToken(): Promise<string | null> {
    const tokens = this.tokens;
    if (!tokens) {
      return null;
    }
    if (tokens.accessExpiresAt - this.options.now() > 5_000) {
      return tokens.accessToken;
    }
    const refreshed = await this.refresh();
    return refreshed?.accessToken ?? null;
  }

  /**
   * Handles a 401 for a request sent with `rejectedAccessToken`: when another refresh has
   * replaced that token meanwhile, returns the new one without refreshing again.
   */
  async accessTokenAfterUnauthorized(rejectedAccessToken: string): Promise<string | null> {
    const tokens = this.tokens;
    if (tokens && tokens.accessToken !== rejectedAccessToken) {
      return tokens.accessToken;
    }
    const refreshed = await this.refresh();
    return refreshed?.accessToken ?? null;
  }

  /** Runs one refresh for this tab; concurrent callers share it. */
  refresh(): Promise<StoredTokens | null> {
    if (!this.inFlight) {
      this.inFlight = this.refreshOnce().finally(() => {
        this.inFlight = null;
      });
    }
    return this.inFlight;
  }

  private async refreshOnce(): Promise<StoredTokens | null> {
    const startedWith = this.tokens?.refreshToken;
    if (!startedWith) {
      return null;
    }
    const locks = this.options.locks;
    // NOTE: without Web Locks two tabs may refresh at once. The server's 30 s grace window gives
    // both the same new pair, so this stays safe only while they are less than 30 s apart.
    return locks
      ? locks.request(REFRESH_LOCK_NAME, () => this.refreshUnderLock(startedWith))
      : this.refreshUnderLock(startedWith);
  }

  private async refreshUnderLock(startedWith: string): Promise<StoredTokens | null> {
    // Another tab may have rotated the token while this one waited for the lock.
    const stored = await this.readLatest();
    if (!stored) {
      this.replace(null, false);
      return null;
    }
    if (stored.refreshToken !== startedWith) {
      this.replace(stored, false);
      return stored;
    }
    try {
      const pair = await this.options.refresh(stored.refreshToken);
      const tokens = this.tokensFrom(pair);
      this.replace(tokens, true);
      // The next tab to take the lock reads the record, so it must be written before release.
      await this.writeRecord(tokens);
      return tokens;
    } catch (error) {
      if (isRejection(error)) {
        console.warn('fechatter: the session ended because the server rejected its refresh token');
        this.clear();
        this.options.onExpired?.();
        return null;
      }
      console.warn('fechatter: refreshing the access token failed; retrying in 10 s', error);
      this.cancelTimer();
      this.timer = this.options.setTimer(() => void this.refresh(), REFRESH_RETRY_MS);
      throw error;
    }
  }

  private tokensFrom(pair: TokenPair): StoredTokens {
    const now = this.options.now();
    return {
      accessToken: pair.access_token,
      refreshToken: pair.refresh_token,
      accessExpiresAt: now + pair.expires_in * 1000,
      savedAt: now,
    };
  }

  /**
   * Returns the newest pair from localStorage and the record. This tab's localStorage may lag
   * behind a write that another tab made just before it released the lock, and the record may
   * lag behind a sign-in whose record write has not finished.
   */
  private async readLatest(): Promise<StoredTokens | null> {
    const local = parseTokens(this.options.storage.getItem(TOKENS_STORAGE_KEY));
    if (!local || !this.options.record) {
      return local;
    }
    let recorded: StoredTokens | null = null;
    try {
      recorded = await this.options.record.read();
    } catch (error) {
      console.warn('fechatter: reading the token record from IndexedDB failed; using localStorage', error);
    }
    return recorded && recorded.savedAt > local.savedAt ? recorded : local;
  }

  private async writeRecord(tokens: StoredTokens | null): Promise<void> {
    if (!this.options.record) {
      return;
    }
    try {
      await this.options.record.write(tokens);
    } catch (error) {
      console.warn('fechatter: writing the token record to IndexedDB failed', error);
    }
  }

  private replace(tokens: StoredTokens | null, persist: boolean): void {
    this.tokens = tokens;
    if (persist) {
      if (tokens) {
        this.options.storage.setItem(TOKENS_STORAGE_KEY, JSON.stringify(tokens));
      } else {
        this.options.storage.removeItem(TOKENS_STORAGE_KEY);
      }
    }
    this.schedule();
    this.options.onChange?.(tokens);
  }

  private schedule(): void {
    this.cancelTimer();
    if (!this.tokens) {
      return;
    }
    const delay = Math.max(0, this.tokens.accessExpiresAt - REFRESH_MARGIN_MS - this.options.now());
    this.timer = this.options.setTimer(() => {
      this.refresh().catch(() => {
        // refreshUnderLock has logged the failure and scheduled a retry.
      });
    }, delay);
  }

  private cancelTimer(): void {
    if (this.timer !== null) {
      this.options.clearTimer(this.timer);
      this.timer = null;
    }
  }
}
