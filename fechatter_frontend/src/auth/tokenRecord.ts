import type { StoredTokens } from './tokens';

/** Copy of the tokens that every tab reads and writes consistently. */
export interface TokenRecord {
  read(): Promise<StoredTokens | null>;
  write(tokens: StoredTokens | null): Promise<void>;
}

const DATABASE_NAME = 'fechatter';
const STORE_NAME = 'session';
const TOKENS_KEY = 'tokens';

function promisify<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function completion(transaction: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

/**
 * Returns a TokenRecord kept in IndexedDB, or null where IndexedDB is missing.
 *
 * localStorage alone is not enough for the refresh hand-over. In Chromium each tab's renderer
 * caches localStorage and learns of other tabs' writes asynchronously. So a tab that takes the
 * refresh lock right after another one released it can still read the rotated token. IndexedDB
 * transactions commit in the browser process before `complete` fires, so a read that starts after
 * the lock changed hands returns the new pair.
 */
export function indexedDbTokenRecord(): TokenRecord | null {
  if (typeof indexedDB === 'undefined') {
    return null;
  }
  let database: Promise<IDBDatabase> | null = null;
  const open = (): Promise<IDBDatabase> => {
    if (!database) {
      const request = indexedDB.open(DATABASE_NAME, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore(STORE_NAME);
      };
      database = promisify(request).catch((error) => {
        database = null;
        throw error;
      });
    }
    return database;
  };
  return {
    async read() {
      const db = await open();
      const transaction = db.transaction(STORE_NAME, 'readonly');
      const value = await promisify(transaction.objectStore(STORE_NAME).get(TOKENS_KEY));
      return (value as StoredTokens | undefined) ?? null;
    },
    async write(tokens) {
      const db = await open();
      const transaction = db.transaction(STORE_NAME, 'readwrite');
      const store = transaction.objectStore(STORE_NAME);
      if (tokens) {
        store.put(tokens, TOKENS_KEY);
      } else {
        store.delete(TOKENS_KEY);
      }
      await completion(transaction);
    },
  };
}
