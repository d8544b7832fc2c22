import { describe, expect, it } from 'vitest';

import { mentionQueryAt, resolveMention } from '@/lib/mentions';

describe('mentionQueryAt', () => {
  it('finds the query before the caret', () => {
    expect(mentionQueryAt('hello @bo', 9)).toEqual({ start: 6, query: 'bo' });
  });

  it('opens on a bare at sign', () => {
    expect(mentionQueryAt('@', 1)).toEqual({ start: 0, query: '' });
  });

  it('ignores an email address', () => {
    expect(mentionQueryAt('mail bob@exa', 12)).toBeNull();
  });

  it('ends at whitespace', () => {
    expect(mentionQueryAt('@bob hi', 7)).toBeNull();
  });
});

describe('resolveMention', () => {
  const known = new Set(['ann', 'ann.lee']);
  const isKnown = (name: string) => known.has(name.toLowerCase());

  it('prefers the longest known username', () => {
    expect(resolveMention('ann.lee', isKnown)).toBe('ann.lee');
  });

  it('stops before trailing punctuation', () => {
    expect(resolveMention('ann.', isKnown)).toBe('ann');
  });

  it('recognizes all', () => {
    expect(resolveMention('all', isKnown)).toBe('all');
  });

  it('rejects unknown names', () => {
    expect(resolveMention('zed', isKnown)).toBeNull();
  });
});
