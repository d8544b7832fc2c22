import DOMPurify from 'dompurify';
import MarkdownIt from 'markdown-it';
import type StateCore from 'markdown-it/lib/rules_core/state_core.mjs';
import type Token from 'markdown-it/lib/token.mjs';

import { isUsernameChar, resolveMention } from './mentions';

/** Options of one render call. */
export interface RenderOptions {
  /** Whether a username belongs to the workspace; only those (and `@all`) are highlighted. */
  isKnownUsername?: (name: string) => boolean;
}

// Raw HTML in the source stays text (`html: false`), and DOMPurify cleans the output again, so
// neither a crafted Markdown construct nor a markdown-it bug can inject markup or script.
const markdown = new MarkdownIt({ html: false, linkify: true, breaks: true });
// Remote images would let a sender track who reads a message; image syntax stays plain text.
markdown.disable('image');

const ALLOWED_TAGS = [
  'a', 'blockquote', 'br', 'code', 'del', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'li',
  'ol', 'p', 'pre', 's', 'span', 'strong', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul',
];
const ALLOWED_ATTR = ['href', 'title', 'class', 'start', 'data-username'];

let hooksInstalled = false;

function installHooks(): void {
  if (hooksInstalled) {
    return;
  }
  hooksInstalled = true;
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A') {
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer nofollow');
    }
  });
}

/** Splits text tokens at `@username` mentions into `mention` tokens, outside links and code. */
function mentionRule(state: StateCore): void {
  const isKnownUsername = (state.env as RenderOptions).isKnownUsername ?? (() => false);
  for (const blockToken of state.tokens) {
    if (blockToken.type !== 'inline' || !blockToken.children) {
      continue;
    }
    const children: Token[] = [];
    let linkDepth = 0;
    for (const token of blockToken.children) {
      if (token.type === 'link_open') {
        linkDepth += 1;
      } else if (token.type === 'link_close') {
        linkDepth -= 1;
      }
      if (token.type !== 'text' || linkDepth > 0 || !token.content.includes('@')) {
        children.push(token);
        continue;
      }
      children.push(...splitMentions(state, token.content, isKnownUsername));
    }
    blockToken.children = children;
  }
}

function splitMentions(state: StateCore, text: string, isKnownUsername: (name: string) => boolean): Token[] {
  const tokens: Token[] = [];
  let plainStart = 0;
  let index = 0;
  while (index < text.length) {
    const previous = index > 0 ? text[index - 1]! : '';
    const atBoundary = !previous || (!isUsernameChar(previous) && previous !== '@');
    if (text[index] !== '@' || !atBoundary) {
      index += 1;
      continue;
    }
    let end = index + 1;
    while (end < text.length && isUsernameChar(text[end]!)) {
      end += 1;
    }
    const name = resolveMention(text.slice(index + 1, end), isKnownUsername);
    if (!name) {
      index += 1;
      continue;
    }
    if (index > plainStart) {
      const plain = new state.Token('text', '', 0);
      plain.content = text.slice(plainStart, index);
      tokens.push(plain);
    }
    const mention = new state.Token('mention', '', 0);
    mention.content = name;
    tokens.push(mention);
    index += 1 + name.length;
    plainStart = index;
  }
  if (plainStart < text.length) {
    const plain = new state.Token('text', '', 0);
    plain.content = text.slice(plainStart);
    tokens.push(plain);
  }
  return tokens;
}

markdown.core.ruler.push('mention', mentionRule);
markdown.renderer.rules.mention = (tokens, index) => {
  const name = markdown.utils.escapeHtml(tokens[index]!.content);
  return `<span class="mention" data-username="${name}">@${name}</span>`;
};

/** Renders message Markdown to sanitized HTML that is safe to assign to innerHTML. */
export function renderMarkdown(source: string, options: RenderOptions = {}): string {
  installHooks();
  const html = markdown.render(source, { ...options });
  return DOMPurify.sanitize(html, { ALLOWED_TAGS, ALLOWED_ATTR, ALLOWED_URI_REGEXP: /^(?:https?|mailto):/i });
}

const cache = new Map<string, string>();
const CACHE_LIMIT = 2_000;
let cacheGeneration = 0;

/** Renders like renderMarkdown and keeps recent results, so scrolling re-renders nothing. */
export function renderMarkdownCached(source: string, generation: number, options: RenderOptions): string {
  if (generation !== cacheGeneration) {
    cache.clear();
    cacheGeneration = generation;
  }
  const cached = cache.get(source);
  if (cached !== undefined) {
    return cached;
  }
  const html = renderMarkdown(source, options);
  if (cache.size >= CACHE_LIMIT) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) {
      cache.delete(oldest);
    }
  }
  cache.set(source, html);
  return html;
}
