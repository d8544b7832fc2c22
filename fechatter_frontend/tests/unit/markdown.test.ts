import { describe, expect, it } from 'vitest';

import { renderMarkdown } from '@/lib/markdown';

function toFragment(html: string): HTMLElement {
  const container = document.createElement('div');
  container.innerHTML = html;
  return container;
}

describe('renderMarkdown', () => {
  it('escapes an HTML and script payload as text', () => {
    const payload = '<img src=x onerror="alert(1)"><script>alert(2)</script>';
    const fragment = toFragment(renderMarkdown(payload));
    expect(fragment.querySelector('img')).toBeNull();
    expect(fragment.querySelector('script')).toBeNull();
    expect(fragment.textContent?.trim()).toBe(payload);
  });

  it('drops javascript links', () => {
    const fragment = toFragment(renderMarkdown('[click](javascript:alert(1))'));
    const link = fragment.querySelector('a');
    expect(link?.getAttribute('href') ?? null).toBeNull();
  });

  it('opens links in a new tab without referrer', () => {
    const link = toFragment(renderMarkdown('see https://example.com/docs')).querySelector('a');
    expect(link?.getAttribute('href')).toBe('https://example.com/docs');
    expect(link?.getAttribute('target')).toBe('_blank');
    expect(link?.getAttribute('rel')).toBe('noopener noreferrer nofollow');
  });

  it('renders emphasis, code and quotes', () => {
    const fragment = toFragment(renderMarkdown('**bold** and `code`\n\n> quoted'));
    expect(fragment.querySelector('strong')?.textContent).toBe('bold');
    expect(fragment.querySelector('code')?.textContent).toBe('code');
    expect(fragment.querySelector('blockquote')?.textContent?.trim()).toBe('quoted');
  });

  it('keeps image syntax as text', () => {
    const fragment = toFragment(renderMarkdown('![tracker](https://example.com/pixel.png)'));
    expect(fragment.querySelector('img')).toBeNull();
  });

  it('highlights mentions of known usernames only', () => {
    const known = new Set(['bob', 'ann.lee']);
    const html = renderMarkdown('hi @bob and @nobody, cc @ann.lee. and @all', {
      isKnownUsername: (name) => known.has(name.toLowerCase()),
    });
    const mentions = [...toFragment(html).querySelectorAll('.mention')].map((node) => node.textContent);
    expect(mentions).toEqual(['@bob', '@ann.lee', '@all']);
  });

  it('ignores the at sign of an email address and code', () => {
    const html = renderMarkdown('mail bob@example.com or `@bob`', { isKnownUsername: () => true });
    expect(toFragment(html).querySelectorAll('.mention')).toHaveLength(0);
  });

  it('escapes a crafted username in mention markup', () => {
    const html = renderMarkdown('@a"b', { isKnownUsername: () => true });
    const fragment = toFragment(html);
    expect(fragment.querySelector('.mention')?.textContent).toBe('@a');
    expect(fragment.textContent?.trim()).toBe('@a"b');
  });
});
