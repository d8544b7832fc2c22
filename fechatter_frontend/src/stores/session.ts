import { defineStore } from 'pinia';
import { computed, ref } from 'vue';

import { api } from '@/api/endpoints';
import { http } from '@/api/http';
import type { AuthResponse, SigninRequest, SignupRequest, TokenPair, UserView, WorkspaceView } from '@/api/types';
import { indexedDbTokenRecord } from '@/auth/tokenRecord';
import { TokenStore, type LockManagerLike, type StoredTokens } from '@/auth/tokens';

const PROFILE_STORAGE_KEY = 'fechatter.profile';

/** Non-secret profile data kept beside the tokens, so a reload renders before the API responds. */
interface StoredProfile {
  user: UserView;
  workspace: WorkspaceView;
}

function readProfile(): StoredProfile | null {
  try {
    const value = JSON.parse(localStorage.getItem(PROFILE_STORAGE_KEY) ?? 'null') as StoredProfile | null;
    return value && value.user && value.workspace ? value : null;
  } catch {
    return null;
  }
}

function browserLocks(): LockManagerLike | null {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  if (!locks) {
    return null;
  }
  // LockManager.request resolves with the callback's result, which is already a promise here.
  return {
    request: <T>(name: string, callback: () => Promise<T>) => locks.request(name, callback) as unknown as Promise<T>,
  };
}

/** Store of the signed-in person, their workspace, and the token store behind every API call. */
export const useSessionStore = defineStore('session', () => {
  const profile = readProfile();
  const user = ref<UserView | null>(profile?.user ?? null);
  const workspace = ref<WorkspaceView | null>(profile?.workspace ?? null);
  const signedIn = ref(false);
  /** Set when the server ended the session (refresh rejected), to explain the sign-in screen. */
  const endedReason = ref<string | null>(null);

  const tokens = new TokenStore({
    storage: localStorage,
    refresh: (refreshToken) => api.refresh(refreshToken),
    locks: browserLocks(),
    record: indexedDbTokenRecord(),
    onChange: (next: StoredTokens | null) => {
      signedIn.value = next !== null && user.value !== null;
      if (!next) {
        forgetProfile();
      }
    },
    onExpired: () => {
      endedReason.value = 'Your session has ended. Sign in again.';
    },
  });
  http.useTokenStore(tokens);
  signedIn.value = tokens.current !== null && user.value !== null;

  if (typeof window !== 'undefined') {
    window.addEventListener('storage', (event) => {
      if (event.key === PROFILE_STORAGE_KEY) {
        const next = readProfile();
        user.value = next?.user ?? null;
        workspace.value = next?.workspace ?? null;
      }
      tokens.handleStorageEvent(event);
    });
  }

  const isAdmin = computed(() => user.value?.role === 'owner' || user.value?.role === 'admin');

  function rememberProfile(): void {
    if (user.value && workspace.value) {
      localStorage.setItem(PROFILE_STORAGE_KEY, JSON.stringify({ user: user.value, workspace: workspace.value }));
    }
  }

  function forgetProfile(): void {
    user.value = null;
    workspace.value = null;
    localStorage.removeItem(PROFILE_STORAGE_KEY);
  }

  function adopt(response: AuthResponse): void {
    endedReason.value = null;
    user.value = response.user;
    workspace.value = response.workspace;
    rememberProfile();
    tokens.save(response);
    signedIn.value = true;
  }

  async function signIn(request: SigninRequest): Promise<void> {
    adopt(await api.signin(request));
  }

  async function signUp(request: SignupRequest): Promise<void> {
    adopt(await api.signup(request));
  }

  /** Ends the session on the server (best effort) and removes its tokens from every tab. */
  async function signOut(): Promise<void> {
    const refreshToken = tokens.current?.refreshToken;
    tokens.clear();
    if (refreshToken) {
      try {
        await api.logout(refreshToken);
      } catch (error) {
        console.warn('fechatter: logout request failed; the tokens are forgotten anyway', error);
      }
    }
  }

  /** Reloads the profile and workspace after a reload of the page. */
  async function refreshProfile(): Promise<void> {
    const [me, currentWorkspace] = await Promise.all([api.me(), api.workspace()]);
    user.value = me;
    workspace.value = currentWorkspace;
    rememberProfile();
  }

  function setUser(next: UserView): void {
    user.value = next;
    rememberProfile();
  }

  /** Stores the pair that a password change returns; every other session has ended. */
  function replaceTokens(pair: TokenPair): void {
    tokens.save(pair);
  }

  return {
    user,
    workspace,
    signedIn,
    endedReason,
    isAdmin,
    signIn,
    signUp,
    signOut,
    refreshProfile,
    setUser,
    replaceTokens,
  };
});
