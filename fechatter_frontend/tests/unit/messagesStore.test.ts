import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it, vi } from 'vitest';

import { ApiError } from '@/api/errors';
import type { MessageView } from '@/api/types';

const sendMessage = vi.fn();
const messages = vi.fn();

vi.mock('@/api/endpoints', () => ({
  api: {
    sendMessage: (...args: unknown[]) => sendMessage(...args),
    messages: (...args: unknown[]) => messages(...args),
  },
  fetchAllPages: vi.fn(),
}));

const { useMessagesStore } = await import('@/stores/messages');
const { useSessionStore } = await import('@/stores/session');

function message(seq: number, fields: Partial<MessageView> = {}): MessageView {
  return {
    id: 100 + seq,
    chat_id: 7,
    seq,
    sender_id: 1,
    content: `m${seq}`,
    mentions: [],
    created_at: '2026-01-01T00:00:00Z',
    ...fields,
  };
}

async function flush(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 0));
}

describe('messages store', () => {
  beforeEach(() => {
    localStorage.clear();
    setActivePinia(createPinia());
    sendMessage.mockReset();
    messages.mockReset();
    useSessionStore().setUser({
      id: 1,
      username: 'ann',
      fullname: 'Ann Lee',
      email: 'ann@example.com',
      workspace_id: 1,
      role: 'owner',
      status: 'active',
      created_at: '2026-01-01T00:00:00Z',
    });
  });

  it('loads the newest page when a chat opens', async () => {
    messages.mockResolvedValue({ items: [message(1), message(2)], has_more: true });
    const store = useMessagesStore();
    await store.open(7);
    const state = store.state(7);
    expect(state.items.value.map((item) => item.seq)).toEqual([1, 2]);
    expect(state.hasOlder.value).toBe(true);
    expect(messages).toHaveBeenCalledWith(7, { limit: 50 });
  });

  it('shows a sent message at once and confirms it', async () => {
    let resolve: (value: MessageView) => void = () => undefined;
    sendMessage.mockReturnValue(new Promise((done) => (resolve = done)));
    const store = useMessagesStore();
    const pending = store.send(7, 'hello', null);
    const state = store.state(7);
    expect(state.pending.value).toHaveLength(1);
    expect(state.pending.value[0]!.status).toBe('sending');
    expect(sendMessage).toHaveBeenCalledWith(7, { content: 'hello', idempotency_key: pending.key, reply_to: null });

    resolve(message(3, { content: 'hello' }));
    await flush();
    expect(state.pending.value).toHaveLength(0);
    expect(state.items.value.map((item) => item.content)).toEqual(['hello']);
  });

  it('marks a failed send and retries with the same key', async () => {
    sendMessage.mockRejectedValueOnce(new ApiError(0, 'network_error', 'offline'));
    const store = useMessagesStore();
    const pending = store.send(7, 'hello', null);
    await flush();
    const state = store.state(7);
    expect(state.pending.value[0]!.status).toBe('failed');

    sendMessage.mockResolvedValueOnce(message(3, { content: 'hello' }));
    store.retry(7, pending.key);
    await flush();
    expect(sendMessage).toHaveBeenCalledTimes(2);
    expect(sendMessage.mock.calls[1]![1].idempotency_key).toBe(pending.key);
    expect(state.pending.value).toHaveLength(0);
    expect(state.items.value).toHaveLength(1);
  });

  it('shows an own message once when its event beats the response', async () => {
    let resolve: (value: MessageView) => void = () => undefined;
    sendMessage.mockReturnValue(new Promise((done) => (resolve = done)));
    messages.mockResolvedValue({ items: [], has_more: false });
    const store = useMessagesStore();
    await store.open(7);
    store.send(7, ' hello ', null);
    const state = store.state(7);

    store.applyCreated(message(3, { content: 'hello' }));
    expect(state.pending.value).toHaveLength(0);
    expect(state.items.value).toHaveLength(1);

    resolve(message(3, { content: 'hello' }));
    await flush();
    expect(state.items.value).toHaveLength(1);
  });

  it('ignores a replayed event it already has', async () => {
    messages.mockResolvedValue({ items: [message(1), message(2)], has_more: false });
    const store = useMessagesStore();
    await store.open(7);
    store.applyCreated(message(2, { sender_id: 2 }));
    store.applyCreated(message(3, { sender_id: 2 }));
    store.applyCreated(message(3, { sender_id: 2 }));
    expect(store.state(7).items.value.map((item) => item.seq)).toEqual([1, 2, 3]);
  });

  it('replaces a message with its tombstone', async () => {
    messages.mockResolvedValue({ items: [message(1)], has_more: false });
    const store = useMessagesStore();
    await store.open(7);
    store.applyChanged(message(1, { content: null, deleted_at: '2026-01-01T00:05:00Z' }));
    expect(store.state(7).items.value[0]!.content).toBeNull();
  });
});
