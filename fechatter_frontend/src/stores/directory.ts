import { defineStore } from 'pinia';
import { ref, shallowRef } from 'vue';

import { api, fetchAllPages } from '@/api/endpoints';
import type { UserView } from '@/api/types';

/** Store of the workspace's users, for names, mentions and member pickers. */
export const useDirectoryStore = defineStore('directory', () => {
  const users = shallowRef(new Map<number, UserView>());
  const usernames = shallowRef(new Set<string>());
  /** Increases whenever the user list changes, so cached renderings with mentions expire. */
  const generation = ref(0);
  const loaded = ref(false);

  function replaceAll(list: UserView[]): void {
    users.value = new Map(list.map((user) => [user.id, user]));
    usernames.value = new Set(list.map((user) => user.username.toLowerCase()));
    generation.value += 1;
  }

  // NOTE: loads every page of the workspace's users, which suits workspaces of up to a few
  // thousand people. Larger ones would need lookups by id on demand.
  async function load(): Promise<void> {
    replaceAll(await fetchAllPages((cursor) => api.workspaceUsers(cursor)));
    loaded.value = true;
  }

  let reloadTimer: ReturnType<typeof setTimeout> | null = null;

  /** Reloads the list soon when any of `userIds` is unknown, for example someone who just joined. */
  function ensureKnown(userIds: Iterable<number>): void {
    if (!loaded.value || reloadTimer) {
      return;
    }
    for (const id of userIds) {
      if (!users.value.has(id)) {
        reloadTimer = setTimeout(() => {
          reloadTimer = null;
          load().catch((error) => console.warn('fechatter: reloading the workspace users failed', error));
        }, 300);
        return;
      }
    }
  }

  function upsert(user: UserView): void {
    replaceAll([...users.value.values()].filter((existing) => existing.id !== user.id).concat(user));
  }

  function displayName(userId: number): string {
    return users.value.get(userId)?.fullname ?? `User ${userId}`;
  }

  function isKnownUsername(name: string): boolean {
    return usernames.value.has(name.toLowerCase());
  }

  function clear(): void {
    replaceAll([]);
    loaded.value = false;
  }

  return { users, generation, loaded, load, ensureKnown, upsert, displayName, isKnownUsername, clear };
});
