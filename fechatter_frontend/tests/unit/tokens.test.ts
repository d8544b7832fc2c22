import { describe, expect, it, vi } from 'vitest';

import type { TokenPair } from '@/api/types';
import type { TokenRecord } from '@/auth/tokenRecord';
import { REFRESH_MARGIN_MS, TOKENS_STORAGE_KEY, TokenStore, type LockManagerLike, type StoredTokens } from '@/auth/tokens';

class MemoryStorage implements Storage {
  private readonly values = new Map<string, string>();
  get length(): number {
    return this.values.size;
  }
  clear(): void {
    this.values.clear();
  }
  getItem(key: string): string | null {
    return this.values.get(key) ?? null;
  }
  key(index: number): string | null {
    return [...this.values.keys()][index] ?? null;
  }
  removeItem(key: string): void {
    this.values.delete(key);
  }
  setItem(key: string, value: string): void {
    this.values.set(key, value);
  }
}

/** A Web Locks stand-in shared by several stores, like one origin's tabs. */
class SerialLocks implements LockManagerLike {
  private tail: Promise<unknown> = Promise.resolve();
  request<T>(_name: string, callback: () => Promise<T>): Promise<T> {
    const run = this.tail.then(callback, callback);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

function pair(access: string, refresh: string, expiresIn = 900): TokenPair {
  return { access_token: access, refresh_token: refresh, token_type: 'Bearer', expires_in: expiresIn };
}

function manualTimers() {
  const timers: Array<{ callback: () => void; delay: number; cancelled: boolean }> = [];
  return {
    timers,
    setTimer: (callback: () => void, delay: number) => {
      const timer = { callback, delay, cancelled: false };
      timers.push(timer);
      return timer;
    },
    clearTimer: (handle: unknown) => {
      (handle as { cancelled: boolean }).cancelled = true;
    },
    active: () => timers.filter((timer) => !timer.cancelled),
  };
}

describe('TokenStore', () => {
  it('persists a saved pair and schedules a refresh before expiry', () => {
    const storage = new MemoryStorage();
    const timers = manualTimers();
    const store = new TokenStore({ storage, refresh: vi.fn(), now: () => 1_000_000, ...timers });
    store.save(pair('a1', 'r1', 900));
    const stored = JSON.parse(storage.getItem(TOKENS_STORAGE_KEY)!);
    expect(stored.accessToken).toBe('a1');
    expect(stored.refreshToken).toBe('r1');
    expect(stored.accessExpiresAt).toBe(1_000_000 + 900_000);
    expect(timers.active()).toHaveLength(1);
    expect(timers.active()[0]!.delay).toBe(900_000 - REFRESH_MARGIN_MS);
  });

  it('shares one refresh between concurrent callers of a tab', async () => {
    const storage = new MemoryStorage();
    const refresh = vi.fn(async () => pair('a2', 'r2'));
    const store = new TokenStore({ storage, refresh, ...manualTimers() });
    store.save(pair('a1', 'r1'));
    const results = await Promise.all([store.refresh(), store.refresh(), store.accessTokenAfterUnauthorized('a1')]);
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(refresh).toHaveBeenCalledWith('r1');
    expect(results[0]?.accessToken).toBe('a2');
    expect(results[2]).toBe('a2');
  });

  it('adopts the pair another tab rotated while waiting for the lock', async () => {
    const storage = new MemoryStorage();
    const locks = new SerialLocks();
    const refreshA = vi.fn(async (token: string) => {
      expect(token).toBe('r1');
      return pair('a2', 'r2');
    });
    const refreshB = vi.fn(async () => pair('never', 'never'));
    const tabA = new TokenStore({ storage, refresh: refreshA, locks, ...manualTimers() });
    tabA.save(pair('a1', 'r1'));
    const tabB = new TokenStore({ storage, refresh: refreshB, locks, ...manualTimers() });

    const [fromA, fromB] = await Promise.all([tabA.refresh(), tabB.refresh()]);
    expect(refreshA).toHaveBeenCalledTimes(1);
    expect(refreshB).not.toHaveBeenCalled();
    expect(fromA?.refreshToken).toBe('r2');
    expect(fromB?.refreshToken).toBe('r2');
    expect(tabB.current?.accessToken).toBe('a2');
  });

  it('adopts the recorded pair when localStorage lags', async () => {
    // Each tab gets its own storage, like renderer caches that have not seen the other's write.
    const storageA = new MemoryStorage();
    const storageB = new MemoryStorage();
    let recorded: StoredTokens | null = null;
    const record: TokenRecord = {
      read: async () => recorded,
      write: async (tokens) => {
        recorded = tokens;
      },
    };
    const locks = new SerialLocks();
    let now = 1_000;
    const refreshA = vi.fn(async () => pair('a2', 'r2'));
    const refreshB = vi.fn(async () => pair('never', 'never'));
    const tabA = new TokenStore({ storage: storageA, refresh: refreshA, locks, record, now: () => now, ...manualTimers() });
    tabA.save(pair('a1', 'r1'));
    storageB.setItem(TOKENS_STORAGE_KEY, storageA.getItem(TOKENS_STORAGE_KEY)!);
    const tabB = new TokenStore({ storage: storageB, refresh: refreshB, locks, record, now: () => now, ...manualTimers() });
    await Promise.resolve();
    now = 2_000;

    const [fromA, fromB] = await Promise.all([tabA.refresh(), tabB.refresh()]);
    expect(refreshA).toHaveBeenCalledTimes(1);
    expect(refreshB).not.toHaveBeenCalled();
    expect(fromA?.refreshToken).toBe('r2');
    expect(fromB?.refreshToken).toBe('r2');
    expect(JSON.parse(storageB.getItem(TOKENS_STORAGE_KEY)!).refreshToken).toBe('r1');
  });

  it('returns the newer token without refreshing after a stale 401', async () => {
    const storage = new MemoryStorage();
    const refresh = vi.fn(async () => pair('a3', 'r3'));
    const store = new TokenStore({ storage, refresh, ...manualTimers() });
    store.save(pair('a2', 'r2'));
    expect(await store.accessTokenAfterUnauthorized('a1')).toBe('a2');
    expect(refresh).not.toHaveBeenCalled();
  });

  it('refreshes first when the access token is about to expire', async () => {
    const storage = new MemoryStorage();
    let now = 0;
    const refresh = vi.fn(async () => pair('a2', 'r2'));
    const store = new TokenStore({ storage, refresh, now: () => now, ...manualTimers() });
    store.save(pair('a1', 'r1', 900));
    expect(await store.accessToken()).toBe('a1');
    now = 899_000;
    expect(await store.accessToken()).toBe('a2');
    expect(refresh).toHaveBeenCalledTimes(1);
  });

  it('ends the session when the server rejects the refresh token', async () => {
    const storage = new MemoryStorage();
    const onExpired = vi.fn();
    const onChange = vi.fn();
    const refresh = vi.fn(async () => {
      throw Object.assign(new Error('revoked'), { status: 401 });
    });
    const store = new TokenStore({ storage, refresh, onExpired, onChange, ...manualTimers() });
    store.save(pair('a1', 'r1'));
    expect(await store.refresh()).toBeNull();
    expect(store.current).toBeNull();
    expect(storage.getItem(TOKENS_STORAGE_KEY)).toBeNull();
    expect(onExpired).toHaveBeenCalledTimes(1);
    expect(onChange).toHaveBeenLastCalledWith(null);
  });

  it('keeps the session and retries after a network failure', async () => {
    const storage = new MemoryStorage();
    const timers = manualTimers();
    const refresh = vi.fn(async () => {
      throw new Error('offline');
    });
    const store = new TokenStore({ storage, refresh, ...timers });
    store.save(pair('a1', 'r1'));
    await expect(store.refresh()).rejects.toThrow('offline');
    expect(store.current?.refreshToken).toBe('r1');
    expect(timers.active().some((timer) => timer.delay === 10_000)).toBe(true);
  });

  it('follows sign-in and sign-out of other tabs through storage events', () => {
    const storage = new MemoryStorage();
    const onChange = vi.fn();
    const store = new TokenStore({ storage, refresh: vi.fn(), onChange, ...manualTimers() });
    const value = JSON.stringify({ accessToken: 'x', refreshToken: 'y', accessExpiresAt: Date.now() + 60_000, savedAt: 1 });
    store.handleStorageEvent({ key: TOKENS_STORAGE_KEY, newValue: value });
    expect(store.current?.accessToken).toBe('x');
    store.handleStorageEvent({ key: 'unrelated', newValue: null });
    expect(store.current?.accessToken).toBe('x');
    store.handleStorageEvent({ key: TOKENS_STORAGE_KEY, newValue: null });
    expect(store.current).toBeNull();
    expect(onChange).toHaveBeenCalledTimes(2);
  });
});
