import { describe, expect, it } from 'vitest';

import { plainPreview } from '@/lib/preview';

describe('plainPreview', () => {
  it('drops emphasis and code markers', () => {
    expect(plainPreview('Build passed on **main** in `5` min, _really_')).toBe('Build passed on main in 5 min, really');
  });

  it('joins lines and drops quote markers', () => {
    expect(plainPreview('first\n> quoted\n- item')).toBe('first quoted item');
  });

  it('keeps link text', () => {
    expect(plainPreview('see [the docs](https://example.com)')).toBe('see the docs');
  });

  it('keeps snake_case words and lone asterisks', () => {
    expect(plainPreview('rename user_id to owner_id * 2')).toBe('rename user_id to owner_id * 2');
  });
});
