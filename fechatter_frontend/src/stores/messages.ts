import { defineStore } from 'pinia';
import { ref, shallowRef, type Ref, type ShallowRef } from 'vue';

import { api } from '@/api/endpoints';
import { describeError } from '@/api/errors';
import type { MessageView } from '@/api/types';
import { mergeMessages, normalizeContent } from '@/lib/messageList';
import { randomUuid } from '@/lib/uuid';

import { useChatsStore } from './chats';
import { useSessionStore } from './session';

/** Messages fetched per page when scrolling up. */
export const OLDER_PAGE_SIZE = 100;
/** Messages fetched when a chat opens. */
export const LATEST_PAGE_SIZE = 50;

/** A message shown before the server confirmed it. */
export interface PendingMessage {
  /** The idempotency key, reused by every retry so the server creates the message once. */
  key: string;
  chatId: number;
  content: string;
  replyTo: number | null;
  status: 'sending' | 'failed';
  error: string | null;
  createdAt: string;
}

/** Loaded messages of one chat. */
export interface ChatMessages {
  items: ShallowRef<MessageView[]>;
  pending: Ref<PendingMessage[]>;
  hasOlder: Ref<boolean>;
  loadingOlder: Ref<boolean>;
  loaded: Ref<boolean>;
  error: Ref<string | null>;
  loading: Promise<void> | null;
}

function createChatMessages(): ChatMessages {
  return {
    items: shallowRef([]),
    pending: ref([]),
    hasOlder: ref(false),
    loadingOlder: ref(false),
    loaded: ref(false),
    error: ref(null),
    loading: null,
  };
}

/**
 * Messages of the chats opened in this tab. Live events and REST pages merge by message id, so a
 * message replayed after a reconnect, or seen both in a page and in an event, shows once.
 */
export const useMessagesStore = defineStore('messages', () => {
  const byChat = new Map<number, ChatMessages>();
  /** Increases when every chat was dropped after a `resync`, so open views load again. */
  const resetGeneration = ref(0);
  let waitForStream: () => Promise<void> = () => Promise.resolve();

  /** Sets what `open` waits for before its first REST load (the stream's `ready` frame). */
  function setStreamGate(wait: () => Promise<void>): void {
    waitForStream = wait;
  }

  function state(chatId: number): ChatMessages {
    let chat = byChat.get(chatId);
    if (!chat) {
      chat = createChatMessages();
      byChat.set(chatId, chat);
    }
    return chat;
  }

  function merge(chatId: number, incoming: MessageView[]): void {
    const chat = state(chatId);
    chat.items.value = mergeMessages(chat.items.value, incoming);
  }

  /** Loads the newest page of a chat once; later calls reuse it. */
  function open(chatId: number): Promise<void> {
    const chat = state(chatId);
    if (chat.loaded.value) {
      return Promise.resolve();
    }
    if (!chat.loading) {
      chat.loading = (async () => {
        try {
          await waitForStream();
          const page = await api.messages(chatId, { limit: LATEST_PAGE_SIZE });
          merge(chatId, page.items);
          chat.hasOlder.value = page.has_more;
          chat.loaded.value = true;
          chat.error.value = null;
        } catch (error) {
          chat.error.value = describeError(error);
          throw error;
        } finally {
          chat.loading = null;
        }
      })();
    }
    return chat.loading;
  }

  async function loadOlder(chatId: number): Promise<void> {
    const chat = state(chatId);
    const oldest = chat.items.value[0];
    if (!chat.loaded.value || !chat.hasOlder.value || chat.loadingOlder.value || !oldest) {
      return;
    }
    chat.loadingOlder.value = true;
    try {
      const page = await api.messages(chatId, { before: oldest.seq, limit: OLDER_PAGE_SIZE });
      merge(chatId, page.items);
      chat.hasOlder.value = page.has_more;
    } catch (error) {
      chat.error.value = describeError(error);
    } finally {
      chat.loadingOlder.value = false;
    }
  }

  /** Applies `message.created` from the stream. */
  function applyCreated(message: MessageView): void {
    const chat = byChat.get(message.chat_id);
    if (!chat) {
      return;
    }
    if (message.sender_id === useSessionStore().user?.id) {
      // The event can arrive before the send call returns; it confirms the matching pending copy.
      const content = message.content === null || message.content === undefined ? null : normalizeContent(message.content);
      const index = chat.pending.value.findIndex(
        (pending) => pending.status === 'sending' && normalizeContent(pending.content) === content,
      );
      if (index >= 0) {
        chat.pending.value = chat.pending.value.filter((_, position) => position !== index);
      }
    }
    merge(message.chat_id, [message]);
  }

  /** Applies `message.updated` and `message.deleted` from the stream. */
  function applyChanged(message: MessageView): void {
    if (byChat.has(message.chat_id)) {
      merge(message.chat_id, [message]);
    }
  }

  function send(chatId: number, content: string, replyTo: number | null): PendingMessage {
    const pending: PendingMessage = {
      key: randomUuid(),
      chatId,
      content,
      replyTo,
      status: 'sending',
      error: null,
      createdAt: new Date().toISOString(),
    };
    const chat = state(chatId);
    chat.pending.value = [...chat.pending.value, pending];
    void deliver(pending);
    return pending;
  }

  /** Sends a failed message again with its original idempotency key. */
  function retry(chatId: number, key: string): void {
    const chat = state(chatId);
    const pending = chat.pending.value.find((candidate) => candidate.key === key);
    if (!pending || pending.status !== 'failed') {
      return;
    }
    const next: PendingMessage = { ...pending, status: 'sending', error: null };
    chat.pending.value = chat.pending.value.map((candidate) => (candidate.key === key ? next : candidate));
    void deliver(next);
  }

  function discard(chatId: number, key: string): void {
    const chat = state(chatId);
    chat.pending.value = chat.pending.value.filter((candidate) => candidate.key !== key);
  }

  async function deliver(pending: PendingMessage): Promise<void> {
    const chat = state(pending.chatId);
    try {
      const message = await api.sendMessage(pending.chatId, {
        content: pending.content,
        idempotency_key: pending.key,
        reply_to: pending.replyTo,
      });
      chat.pending.value = chat.pending.value.filter((candidate) => candidate.key !== pending.key);
      merge(pending.chatId, [message]);
      useChatsStore().applyMessageCreated(message);
    } catch (error) {
      console.warn(`fechatter: sending message ${pending.key} to chat ${pending.chatId} failed`, error);
      chat.pending.value = chat.pending.value.map((candidate) =>
        candidate.key === pending.key ? { ...candidate, status: 'failed', error: describeError(error) } : candidate,
      );
    }
  }

  async function edit(chatId: number, messageId: number, content: string): Promise<void> {
    const message = await api.editMessage(chatId, messageId, content);
    merge(chatId, [message]);
  }

  async function remove(chatId: number, messageId: number): Promise<void> {
    await api.deleteMessage(chatId, messageId);
    const current = state(chatId).items.value.find((message) => message.id === messageId);
    if (current) {
      merge(chatId, [{ ...current, content: null, deleted_at: new Date().toISOString() }]);
    }
  }

  function find(chatId: number, messageId: number): MessageView | undefined {
    return byChat.get(chatId)?.items.value.find((message) => message.id === messageId);
  }

  /** Drops every loaded chat, keeping unsent messages, after the stream asked for a resync. */
  function resetAll(): void {
    for (const chat of byChat.values()) {
      chat.items.value = [];
      chat.loaded.value = false;
      chat.hasOlder.value = false;
    }
    resetGeneration.value += 1;
  }

  function clear(): void {
    byChat.clear();
    resetGeneration.value += 1;
  }

  return {
    resetGeneration,
    setStreamGate,
    state,
    open,
    loadOlder,
    applyCreated,
    applyChanged,
    send,
    retry,
    discard,
    edit,
    remove,
    find,
    resetAll,
    clear,
  };
});
