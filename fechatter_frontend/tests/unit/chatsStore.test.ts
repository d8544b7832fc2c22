import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it, vi } from 'vitest';

import type { ChatSummary, MessageView } from '@/api/types';

const chats = vi.fn();

vi.mock('@/api/endpoints', () => ({
  api: { chats: (...args: unknown[]) => chats(...args) },
  fetchAllPages: vi.fn(async () => []),
}));

const { useChatsStore } = await import('@/stores/chats');
const { useSessionStore } = await import('@/stores/session');

const ME = 1;
const PEER = 2;

function message(seq: number, fields: Partial<MessageView> = {}): MessageView {
  return {
    id: 100 + seq,
    chat_id: 7,
    seq,
    sender_id: PEER,
    content: `m${seq}`,
    mentions: [],
    created_at: `2026-01-01T00:00:${String(seq).padStart(2, '0')}Z`,
    ...fields,
  };
}

function summary(fields: Partial<ChatSummary> = {}): ChatSummary {
  return {
    id: 7,
    workspace_id: 1,
    chat_type: 'group',
    name: 'team',
    created_by: ME,
    created_at: '2026-01-01T00:00:00Z',
    archived: false,
    members: [ME, PEER, 3],
    role: 'owner',
    unread_count: 0,
    mention_count: 0,
    last_read_seq: 5,
    last_activity_at: '2026-01-01T00:00:05Z',
    last_message: message(5),
    ...fields,
  };
}

describe('chats store', () => {
  beforeEach(async () => {
    localStorage.clear();
    setActivePinia(createPinia());
    useSessionStore().setUser({
      id: ME,
      username: 'ann',
      fullname: 'Ann Lee',
      email: 'ann@example.com',
      workspace_id: 1,
      role: 'owner',
      status: 'active',
      created_at: '2026-01-01T00:00:00Z',
    });
    chats.mockResolvedValue({ items: [summary()] });
    await useChatsStore().load();
  });

  it('counts a new message of another member once', () => {
    const store = useChatsStore();
    store.applyMessageCreated(message(6));
    store.applyMessageCreated(message(6));
    const chat = store.chats.get(7)!;
    expect(chat.unread_count).toBe(1);
    expect(chat.last_message?.seq).toBe(6);
  });

  it('counts a mention of the reader', () => {
    const store = useChatsStore();
    store.applyMessageCreated(message(6, { mentions: [ME] }));
    expect(store.chats.get(7)!.mention_count).toBe(1);
    expect(store.chats.get(7)!.unread_count).toBe(1);
  });

  it('ignores a replayed message older than the list', () => {
    const store = useChatsStore();
    store.applyMessageCreated(message(4));
    expect(store.chats.get(7)!.unread_count).toBe(0);
    expect(store.chats.get(7)!.last_message?.seq).toBe(5);
  });

  it('clears the counts when the reader sends', () => {
    const store = useChatsStore();
    store.applyMessageCreated(message(6, { mentions: [ME] }));
    store.applyMessageCreated(message(7, { sender_id: ME }));
    const chat = store.chats.get(7)!;
    expect(chat.unread_count).toBe(0);
    expect(chat.mention_count).toBe(0);
    expect(chat.last_read_seq).toBe(7);
  });

  it('clears the counts when read to the end', () => {
    const store = useChatsStore();
    store.applyMessageCreated(message(6));
    store.applyMessageCreated(message(7));
    store.applyRead(7, 7);
    expect(store.chats.get(7)!.unread_count).toBe(0);
    expect(store.chats.get(7)!.last_read_seq).toBe(7);
  });

  it('sorts by latest activity', async () => {
    chats.mockResolvedValue({
      items: [
        summary({ id: 7, last_activity_at: '2026-01-01T00:00:05Z' }),
        summary({ id: 8, name: 'newer', last_activity_at: '2026-01-02T00:00:00Z' }),
      ],
    });
    const store = useChatsStore();
    await store.load();
    expect(store.sorted.map((chat) => chat.id)).toEqual([8, 7]);
    store.applyMessageCreated(message(6, { created_at: '2026-01-03T00:00:00Z' }));
    expect(store.sorted.map((chat) => chat.id)).toEqual([7, 8]);
  });

  it('names a chat without a name after its other members', () => {
    const store = useChatsStore();
    expect(store.title({ chat_type: 'single', name: null, members: [ME, PEER] })).toBe('User 2');
    expect(store.directPeer({ chat_type: 'single', members: [ME, PEER] })).toBe(PEER);
    expect(store.directPeer({ chat_type: 'group', members: [ME, PEER] })).toBeNull();
  });
});
