import { describe, expect, it, vi } from 'vitest';

import { EventStream, type EventSourceLike, type ReadyFrame } from '@/realtime/eventStream';

class FakeEventSource implements EventSourceLike {
  onerror: ((event: Event) => void) | null = null;
  closed = false;
  readonly listeners = new Map<string, Array<(event: MessageEvent<string>) => void>>();

  constructor(readonly url: string) {}

  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  close(): void {
    this.closed = true;
  }

  emit(type: string, data: unknown, lastEventId = ''): void {
    const event = { data: JSON.stringify(data), lastEventId } as MessageEvent<string>;
    for (const listener of this.listeners.get(type) ?? []) {
      listener(event);
    }
  }

  fail(): void {
    this.onerror?.(new Event('error'));
  }
}

function setup(tickets: Array<string | Error> = []) {
  const sources: FakeEventSource[] = [];
  const timers: Array<{ callback: () => void; delay: number }> = [];
  const ready: Array<{ frame: ReadyFrame; resumed: boolean }> = [];
  const events: Array<{ name: string; data: unknown; id: number | null }> = [];
  let ticketNumber = 0;
  const fetchTicket = vi.fn(async () => {
    const next = tickets.shift();
    if (next instanceof Error) {
      throw next;
    }
    ticketNumber += 1;
    return next ?? `t${ticketNumber}`;
  });
  const stream = new EventStream({
    url: '/events',
    fetchTicket,
    createEventSource: (url) => {
      const source = new FakeEventSource(url);
      sources.push(source);
      return source;
    },
    onReady: (frame, resumed) => ready.push({ frame, resumed }),
    onEvent: (name, data, id) => events.push({ name, data, id }),
    random: () => 0,
    setTimer: (callback, delay) => {
      timers.push({ callback, delay });
      return timers.length;
    },
    clearTimer: () => undefined,
  });
  return { stream, sources, timers, ready, events, fetchTicket };
}

async function flush(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 0));
}

describe('EventStream', () => {
  it('connects with a ticket and no position at first', async () => {
    const { stream, sources } = setup();
    stream.start();
    await flush();
    expect(sources).toHaveLength(1);
    expect(sources[0]!.url).toBe('/events?ticket=t1');
  });

  it('reports ready and takes the head as its position', async () => {
    const { stream, sources, ready } = setup();
    stream.start();
    await flush();
    sources[0]!.emit('ready', { last_event_id: 42, online: [7] });
    expect(ready).toEqual([{ frame: { last_event_id: 42, online: [7] }, resumed: false }]);
    expect(stream.lastEventId).toBe(42);
    expect(stream.status).toBe('open');
  });

  it('moves the position only on stored events', async () => {
    const { stream, sources, events } = setup();
    stream.start();
    await flush();
    const source = sources[0]!;
    source.emit('ready', { last_event_id: 1, online: [] });
    source.emit('message.created', { chat_id: 5, message: { id: 1 } }, '43');
    // The browser repeats the last id on frames without one; typing must not count as stored.
    source.emit('typing', { chat_id: 5, user_id: 2, expires_in_ms: 6000 }, '43');
    source.emit('message.created', { chat_id: 5, message: { id: 2 } }, '50');
    expect(stream.lastEventId).toBe(50);
    expect(events.map((event) => event.id)).toEqual([43, null, 50]);
  });

  it('reconnects with a new ticket and the last event id after a drop', async () => {
    const { stream, sources, timers, ready } = setup();
    stream.start();
    await flush();
    sources[0]!.emit('ready', { last_event_id: 10, online: [] });
    sources[0]!.emit('message.created', { chat_id: 1, message: { id: 9 } }, '12');
    sources[0]!.fail();
    expect(sources[0]!.closed).toBe(true);
    expect(stream.status).toBe('reconnecting');
    expect(timers).toHaveLength(1);
    expect(timers[0]!.delay).toBe(1_000);

    timers[0]!.callback();
    await flush();
    expect(sources).toHaveLength(2);
    expect(sources[1]!.url).toBe('/events?ticket=t2&last_event_id=12');
    sources[1]!.emit('ready', { last_event_id: 15, online: [] });
    expect(ready[1]!.resumed).toBe(true);
    // The server replays from 12, so the position stays until the replayed events arrive.
    expect(stream.lastEventId).toBe(12);
  });

  it('backs off exponentially while the server stays away', async () => {
    const { stream, sources, timers } = setup();
    stream.start();
    await flush();
    for (let attempt = 0; attempt < 6; attempt += 1) {
      sources[sources.length - 1]!.fail();
      timers[timers.length - 1]!.callback();
      await flush();
    }
    expect(timers.map((timer) => timer.delay)).toEqual([1_000, 2_000, 4_000, 8_000, 15_000, 15_000]);
  });

  it('retries when fetching a ticket fails', async () => {
    const { stream, sources, timers, fetchTicket } = setup([new Error('503')]);
    stream.start();
    await flush();
    expect(sources).toHaveLength(0);
    expect(timers).toHaveLength(1);
    timers[0]!.callback();
    await flush();
    expect(fetchTicket).toHaveBeenCalledTimes(2);
    expect(sources).toHaveLength(1);
  });

  it('ignores frames of a closed connection', async () => {
    const { stream, sources, events } = setup();
    stream.start();
    await flush();
    const first = sources[0]!;
    first.fail();
    first.emit('message.created', { chat_id: 1, message: { id: 1 } }, '99');
    expect(events).toHaveLength(0);
    expect(stream.lastEventId).toBeNull();
  });

  it('stops without reconnecting', async () => {
    const { stream, sources, timers } = setup();
    stream.start();
    await flush();
    stream.stop();
    expect(sources[0]!.closed).toBe(true);
    sources[0]!.fail();
    expect(timers).toHaveLength(0);
    expect(stream.status).toBe('stopped');
  });
});
