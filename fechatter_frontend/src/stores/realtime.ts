import { defineStore } from 'pinia';
import { ref, shallowRef } from 'vue';

import { api } from '@/api/endpoints';
import type { ChatView, MessageView } from '@/api/types';
import { EventStream, type ReadyFrame, type StreamStatus } from '@/realtime/eventStream';

import { useChatsStore } from './chats';
import { useDirectoryStore } from './directory';
import { useMessagesStore } from './messages';
import { useSessionStore } from './session';

/** How long `whenReady` waits for the stream before REST loads go ahead without it. */
const READY_WAIT_MS = 5_000;

interface MessageEventData {
  chat_id: number;
  message: MessageView;
}

interface ChatEventData {
  chat_id?: number;
  chat?: ChatView;
  user_id?: number;
  seq?: number;
}

interface TypingData {
  chat_id: number;
  user_id: number;
  expires_in_ms: number;
}

interface PresenceData {
  user_id: number;
  status: 'online' | 'offline';
}

/** Store of the event stream, online presence and typing indicators. */
export const useRealtimeStore = defineStore('realtime', () => {
  const status = ref<StreamStatus>('idle');
  const online = shallowRef(new Set<number>());
  /** Chat id → user id → time (ms since epoch) when that person's typing indicator expires. */
  const typing = shallowRef(new Map<number, Map<number, number>>());
  /** Whether the chat list and directory loaded after a `ready` frame. */
  const bootstrapped = ref(false);
  let stream: EventStream | null = null;
  let typingTimer: ReturnType<typeof setTimeout> | null = null;
  let readyWaiters: Array<() => void> = [];
  let sawReady = false;
  let fallbackTimer: ReturnType<typeof setTimeout> | null = null;

  /** Resolves after the first `ready` frame, or after 5 s at the latest, so REST loads do not wait on a stream that is down. */
  function whenReady(): Promise<void> {
    if (sawReady) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      readyWaiters.push(resolve);
      setTimeout(resolve, READY_WAIT_MS);
    });
  }

  async function loadState(): Promise<void> {
    const chats = useChatsStore();
    const directory = useDirectoryStore();
    try {
      await Promise.all([chats.load(), directory.load(), useSessionStore().refreshProfile()]);
      bootstrapped.value = true;
    } catch (error) {
      chats.loadError = 'Loading your chats failed; it is retried when the connection returns.';
      console.warn('fechatter: loading the chat list failed', error);
    }
  }

  function handleReady(frame: ReadyFrame, resumed: boolean): void {
    online.value = new Set(frame.online);
    sawReady = true;
    const waiters = readyWaiters;
    readyWaiters = [];
    waiters.forEach((resolve) => resolve());
    // A resumed stream replays what was missed, so the state in memory stays valid.
    if (!resumed || !bootstrapped.value) {
      void loadState();
    }
  }

  function handleEvent(name: string, data: unknown): void {
    const chats = useChatsStore();
    const messages = useMessagesStore();
    const myId = useSessionStore().user?.id;
    switch (name) {
      case 'message.created': {
        const { message } = data as MessageEventData;
        clearTyping(message.chat_id, message.sender_id);
        useDirectoryStore().ensureKnown([message.sender_id]);
        messages.applyCreated(message);
        chats.applyMessageCreated(message);
        break;
      }
      case 'message.updated':
      case 'message.deleted': {
        const { message } = data as MessageEventData;
        messages.applyChanged(message);
        chats.applyMessageChanged(message);
        break;
      }
      case 'chat.read': {
        const event = data as ChatEventData;
        if (event.user_id === myId && event.chat_id !== undefined && event.seq !== undefined) {
          chats.applyRead(event.chat_id, event.seq);
        }
        break;
      }
      case 'chat.member_left': {
        const event = data as ChatEventData;
        if (event.user_id === myId && event.chat_id !== undefined) {
          chats.remove(event.chat_id);
        } else {
          chats.reloadSoon();
        }
        break;
      }
      case 'chat.created':
      case 'chat.updated':
      case 'chat.archived':
      case 'chat.member_joined':
      case 'chat.member_role_changed': {
        chats.reloadSoon();
        const chatId = (data as ChatEventData).chat_id ?? (data as ChatEventData).chat?.id;
        if (chatId !== undefined && chats.members.has(chatId)) {
          void chats.loadMembers(chatId).catch(() => undefined);
        }
        break;
      }
      case 'typing': {
        const event = data as TypingData;
        setTyping(event.chat_id, event.user_id, Date.now() + event.expires_in_ms);
        break;
      }
      case 'presence': {
        const event = data as PresenceData;
        const next = new Set(online.value);
        if (event.status === 'online') {
          next.add(event.user_id);
        } else {
          next.delete(event.user_id);
        }
        online.value = next;
        break;
      }
      case 'resync': {
        console.warn('fechatter: the server asked for a resync; reloading chats and messages');
        messages.resetAll();
        void loadState();
        break;
      }
      default:
        break;
    }
  }

  function setTyping(chatId: number, userId: number, expiresAt: number): void {
    const next = new Map(typing.value);
    const users = new Map(next.get(chatId) ?? []);
    users.set(userId, expiresAt);
    next.set(chatId, users);
    typing.value = next;
    scheduleTypingExpiry();
  }

  function clearTyping(chatId: number, userId: number): void {
    const users = typing.value.get(chatId);
    if (!users?.has(userId)) {
      return;
    }
    const next = new Map(typing.value);
    const remaining = new Map(users);
    remaining.delete(userId);
    next.set(chatId, remaining);
    typing.value = next;
  }

  function scheduleTypingExpiry(): void {
    if (typingTimer) {
      clearTimeout(typingTimer);
      typingTimer = null;
    }
    let nearest = Infinity;
    for (const users of typing.value.values()) {
      for (const expiresAt of users.values()) {
        nearest = Math.min(nearest, expiresAt);
      }
    }
    if (nearest === Infinity) {
      return;
    }
    typingTimer = setTimeout(pruneTyping, Math.max(0, nearest - Date.now()) + 50);
  }

  function pruneTyping(): void {
    const now = Date.now();
    const next = new Map<number, Map<number, number>>();
    for (const [chatId, users] of typing.value) {
      const remaining = new Map([...users].filter(([, expiresAt]) => expiresAt > now));
      if (remaining.size > 0) {
        next.set(chatId, remaining);
      }
    }
    typing.value = next;
    scheduleTypingExpiry();
  }

  function typingUserIds(chatId: number): number[] {
    const now = Date.now();
    return [...(typing.value.get(chatId) ?? [])]
      .filter(([, expiresAt]) => expiresAt > now)
      .map(([userId]) => userId);
  }

  function start(): void {
    if (stream) {
      return;
    }
    useMessagesStore().setStreamGate(whenReady);
    stream = new EventStream({
      fetchTicket: async () => (await api.eventTicket()).ticket,
      onReady: handleReady,
      onEvent: (name, data) => handleEvent(name, data),
      onStatus: (next) => {
        status.value = next;
      },
    });
    stream.start();
    window.addEventListener('online', reconnectNow);
    // Without the stream (notify_server down), REST still works: load the state anyway, and
    // again once the first `ready` arrives.
    fallbackTimer = setTimeout(() => {
      fallbackTimer = null;
      if (!sawReady && !bootstrapped.value) {
        console.warn('fechatter: the event stream is not ready; loading chats without it');
        void loadState();
      }
    }, READY_WAIT_MS);
  }

  function reconnectNow(): void {
    stream?.reconnectNow();
  }

  function stop(): void {
    if (fallbackTimer) {
      clearTimeout(fallbackTimer);
      fallbackTimer = null;
    }
    stream?.stop();
    stream = null;
    window.removeEventListener('online', reconnectNow);
    sawReady = false;
    bootstrapped.value = false;
    online.value = new Set();
    typing.value = new Map();
    status.value = 'idle';
  }

  // handleEvent is exposed so that tests can feed frames without an EventSource.
  return { status, online, typing, bootstrapped, whenReady, typingUserIds, start, stop, loadState, handleEvent };
});
