import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it, vi } from 'vitest';

import type { MessageView } from '@/api/types';

const api = {
  chats: vi.fn(async () => ({ items: [] })),
  messages: vi.fn(),
  me: vi.fn(async () => ({ id: 1, username: 'ann', fullname: 'Ann Lee' })),
  workspace: vi.fn(async () => ({ id: 1, name: 'Acme', owner_id: 1, created_at: '2026-01-01T00:00:00Z' })),
};

vi.mock('@/api/endpoints', () => ({
  api,
  fetchAllPages: vi.fn(async () => []),
}));

const { useMessagesStore } = await import('@/stores/messages');
const { useRealtimeStore } = await import('@/stores/realtime');

function message(seq: number, senderId = 2): MessageView {
  return {
    id: 100 + seq,
    chat_id: 7,
    seq,
    sender_id: senderId,
    content: `m${seq}`,
    mentions: [],
    created_at: '2026-01-01T00:00:00Z',
  };
}

describe('realtime store', () => {
  beforeEach(() => {
    localStorage.clear();
    setActivePinia(createPinia());
    vi.clearAllMocks();
  });

  it('drops loaded messages and reloads on resync', async () => {
    api.messages.mockResolvedValue({ items: [message(1), message(2)], has_more: false });
    const messages = useMessagesStore();
    await messages.open(7);
    const generation = messages.resetGeneration;

    useRealtimeStore().handleEvent('resync', { reason: 'position older than retention' });
    const state = messages.state(7);
    expect(state.items.value).toEqual([]);
    expect(state.loaded.value).toBe(false);
    expect(messages.resetGeneration).toBe(generation + 1);
    expect(api.chats).toHaveBeenCalledTimes(1);

    await messages.open(7);
    expect(api.messages).toHaveBeenCalledTimes(2);
    expect(state.items.value.map((item) => item.seq)).toEqual([1, 2]);
  });

  it('shows a typing indicator until that person’s message arrives', async () => {
    api.messages.mockResolvedValue({ items: [], has_more: false });
    await useMessagesStore().open(7);
    const realtime = useRealtimeStore();
    realtime.handleEvent('typing', { chat_id: 7, user_id: 2, expires_in_ms: 6000 });
    expect(realtime.typingUserIds(7)).toEqual([2]);
    realtime.handleEvent('message.created', { chat_id: 7, message: message(1) });
    expect(realtime.typingUserIds(7)).toEqual([]);
  });

  it('expires a typing indicator', () => {
    vi.useFakeTimers();
    try {
      const realtime = useRealtimeStore();
      realtime.handleEvent('typing', { chat_id: 7, user_id: 3, expires_in_ms: 3000 });
      expect(realtime.typingUserIds(7)).toEqual([3]);
      vi.advanceTimersByTime(3_100);
      expect(realtime.typingUserIds(7)).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('tracks presence changes', () => {
    const realtime = useRealtimeStore();
    realtime.handleEvent('presence', { user_id: 5, status: 'online' });
    expect(realtime.online.has(5)).toBe(true);
    realtime.handleEvent('presence', { user_id: 5, status: 'offline' });
    expect(realtime.online.has(5)).toBe(false);
  });
});
