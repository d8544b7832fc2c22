import { describe, expect, it } from 'vitest';

import type { MessageView } from '@/api/types';
import { laterVersion, mergeMessages, normalizeContent } from '@/lib/messageList';

function message(seq: number, fields: Partial<MessageView> = {}): MessageView {
  return {
    id: seq * 10,
    chat_id: 1,
    seq,
    sender_id: 1,
    content: `m${seq}`,
    mentions: [],
    created_at: '2026-01-01T00:00:00Z',
    ...fields,
  };
}

const seqs = (list: MessageView[]) => list.map((item) => item.seq);

describe('mergeMessages', () => {
  it('appends newer messages', () => {
    expect(seqs(mergeMessages([message(1), message(2)], [message(4), message(3)]))).toEqual([1, 2, 3, 4]);
  });

  it('prepends an older page', () => {
    expect(seqs(mergeMessages([message(5), message(6)], [message(3), message(4)]))).toEqual([3, 4, 5, 6]);
  });

  it('shows a replayed message once', () => {
    const existing = [message(1), message(2), message(3)];
    const merged = mergeMessages(existing, [message(2), message(3)]);
    expect(seqs(merged)).toEqual([1, 2, 3]);
    expect(merged).toBe(existing);
  });

  it('drops duplicates within one batch', () => {
    expect(seqs(mergeMessages([], [message(2), message(1), message(2)]))).toEqual([1, 2]);
  });

  it('fills a gap in the middle', () => {
    expect(seqs(mergeMessages([message(1), message(4)], [message(3), message(2)]))).toEqual([1, 2, 3, 4]);
  });

  it('applies an edit in place', () => {
    const edited = message(2, { content: 'changed', edited_at: '2026-01-01T00:01:00Z' });
    const merged = mergeMessages([message(1), message(2), message(3)], [edited]);
    expect(merged[1]!.content).toBe('changed');
  });
});

describe('laterVersion', () => {
  it('keeps a tombstone over older text', () => {
    const tombstone = message(1, { content: null, deleted_at: '2026-01-01T00:02:00Z' });
    expect(laterVersion(tombstone, message(1))).toBe(tombstone);
    expect(laterVersion(message(1), tombstone)).toBe(tombstone);
  });

  it('keeps the later edit', () => {
    const first = message(1, { content: 'a', edited_at: '2026-01-01T00:01:00Z' });
    const second = message(1, { content: 'b', edited_at: '2026-01-01T00:02:00Z' });
    expect(laterVersion(second, first)).toBe(second);
    expect(laterVersion(first, second)).toBe(second);
  });
});

describe('normalizeContent', () => {
  it('trims and composes to NFC', () => {
    expect(normalizeContent('  e\u0301  ')).toBe('\u00e9');
  });
});
