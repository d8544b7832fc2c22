import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';

import { api, fetchAllPages } from '@/api/endpoints';
import type { ChatSummary, ChatView, CreateChatRequest, MemberRole, MemberView, MessageView } from '@/api/types';

import { useDirectoryStore } from './directory';
import { useSessionStore } from './session';

/** Highest message seq known for a chat, from the list or from events. */
function knownLatestSeq(chat: ChatSummary): number {
  return Math.max(chat.last_message?.seq ?? 0, chat.last_read_seq);
}

/** Store of the caller's chats with their unread and mention counts, kept current by stream events. */
export const useChatsStore = defineStore('chats', () => {
  const chats = shallowRef(new Map<number, ChatSummary>());
  const loaded = ref(false);
  const loadError = ref<string | null>(null);
  const members = shallowRef(new Map<number, MemberView[]>());
  /** Highest seq seen per chat; a created event at or below it was already counted. */
  const latestSeq = new Map<number, number>();
  let reloadTimer: ReturnType<typeof setTimeout> | null = null;

  const sorted = computed(() =>
    [...chats.value.values()].sort((a, b) => b.last_activity_at.localeCompare(a.last_activity_at)),
  );

  function commit(next: Map<number, ChatSummary>): void {
    chats.value = next;
  }

  function put(chat: ChatSummary): void {
    const next = new Map(chats.value);
    next.set(chat.id, chat);
    commit(next);
  }

  async function load(): Promise<void> {
    const response = await api.chats();
    const next = new Map<number, ChatSummary>();
    for (const chat of response.items) {
      next.set(chat.id, chat);
      latestSeq.set(chat.id, Math.max(latestSeq.get(chat.id) ?? 0, knownLatestSeq(chat)));
    }
    commit(next);
    loaded.value = true;
    loadError.value = null;
    useDirectoryStore().ensureKnown(response.items.flatMap((chat) => chat.members));
  }

  /** Reloads the list shortly, merging bursts of events into one request. */
  function reloadSoon(): void {
    if (reloadTimer) {
      clearTimeout(reloadTimer);
    }
    reloadTimer = setTimeout(() => {
      reloadTimer = null;
      load().catch((error) => console.warn('fechatter: reloading the chat list failed', error));
    }, 300);
  }

  function title(chat: Pick<ChatView, 'chat_type' | 'name' | 'members'>): string {
    if (chat.name) {
      return chat.name;
    }
    const directory = useDirectoryStore();
    const myId = useSessionStore().user?.id;
    const others = chat.members.filter((id) => id !== myId);
    if (others.length === 0) {
      return 'Just you';
    }
    return others.map((id) => directory.displayName(id)).join(', ');
  }

  /** Returns the other person of a direct message, or null for other chat types. */
  function directPeer(chat: Pick<ChatView, 'chat_type' | 'members'>): number | null {
    if (chat.chat_type !== 'single') {
      return null;
    }
    const myId = useSessionStore().user?.id;
    return chat.members.find((id) => id !== myId) ?? null;
  }

  /** Applies a new message from the stream or from this client's own send. */
  function applyMessageCreated(message: MessageView): void {
    const chat = chats.value.get(message.chat_id);
    if (!chat) {
      reloadSoon();
      return;
    }
    const myId = useSessionStore().user?.id;
    const previousLatest = latestSeq.get(chat.id) ?? knownLatestSeq(chat);
    const isNew = message.seq > previousLatest;
    if (isNew) {
      latestSeq.set(chat.id, message.seq);
    }
    const updated: ChatSummary = { ...chat };
    if (!chat.last_message || message.seq >= chat.last_message.seq) {
      updated.last_message = message;
      updated.last_activity_at = message.created_at;
    }
    if (message.sender_id === myId) {
      // Sending moves the sender's own read cursor to the new message, past everything before it.
      updated.last_read_seq = Math.max(chat.last_read_seq, message.seq);
      if (message.seq >= previousLatest) {
        updated.unread_count = 0;
        updated.mention_count = 0;
      }
    } else if (isNew && message.seq > chat.last_read_seq) {
      updated.unread_count = chat.unread_count + 1;
      if (myId !== undefined && message.mentions.includes(myId)) {
        updated.mention_count = chat.mention_count + 1;
      }
    }
    put(updated);
  }

  function applyMessageChanged(message: MessageView): void {
    const chat = chats.value.get(message.chat_id);
    if (!chat) {
      return;
    }
    if (chat.last_message?.id === message.id || message.content === null) {
      // A deleted message leaves the counts and may change the last visible message.
      reloadSoon();
    }
    if (chat.last_message?.id === message.id && message.content !== null) {
      put({ ...chat, last_message: message });
    }
  }

  /** Moves the caller's read cursor locally after a read call or a `chat.read` event. */
  function applyRead(chatId: number, seq: number): void {
    const chat = chats.value.get(chatId);
    if (!chat || seq <= chat.last_read_seq) {
      return;
    }
    const latest = latestSeq.get(chatId) ?? knownLatestSeq(chat);
    if (seq >= latest) {
      put({ ...chat, last_read_seq: seq, unread_count: 0, mention_count: 0 });
    } else {
      // The client cannot count which of the remaining messages are from others, so it reloads the list.
      put({ ...chat, last_read_seq: seq });
      reloadSoon();
    }
  }

  function remove(chatId: number): void {
    const next = new Map(chats.value);
    next.delete(chatId);
    commit(next);
    latestSeq.delete(chatId);
  }

  async function create(request: CreateChatRequest): Promise<ChatView> {
    const chat = await api.createChat(request);
    await load();
    return chat;
  }

  async function join(chatId: number): Promise<void> {
    await api.joinChat(chatId);
    await load();
  }

  async function leave(chatId: number): Promise<void> {
    await api.leaveChat(chatId);
    remove(chatId);
  }

  async function loadMembers(chatId: number): Promise<MemberView[]> {
    const list = await fetchAllPages((cursor) => api.members(chatId, cursor));
    const next = new Map(members.value);
    next.set(chatId, list);
    members.value = next;
    return list;
  }

  async function addMembers(chatId: number, userIds: number[]): Promise<void> {
    await api.addMembers(chatId, userIds);
    await loadMembers(chatId);
  }

  async function removeMember(chatId: number, userId: number): Promise<void> {
    await api.removeMember(chatId, userId);
    await loadMembers(chatId);
  }

  async function setMemberRole(chatId: number, userId: number, role: MemberRole): Promise<void> {
    await api.setMemberRole(chatId, userId, role);
    await loadMembers(chatId);
  }

  function clear(): void {
    commit(new Map());
    members.value = new Map();
    latestSeq.clear();
    loaded.value = false;
  }

  return {
    chats,
    sorted,
    loaded,
    loadError,
    members,
    load,
    reloadSoon,
    title,
    directPeer,
    applyMessageCreated,
    applyMessageChanged,
    applyRead,
    remove,
    create,
    join,
    leave,
    loadMembers,
    addMembers,
    removeMember,
    setMemberRole,
    clear,
  };
});
