// Mention syntax shared by the renderer and the composer; it follows the server's rules.

/** Characters that a username may contain (`^[A-Za-z0-9._-]{1,32}$` in the users table). */
export function isUsernameChar(char: string): boolean {
  return /^[A-Za-z0-9._-]$/.test(char);
}

/**
 * Returns the username that a run of username characters after `@` mentions. That is the longest
 * known name that prefixes the run case-insensitively and ends at the run's end or before `.`,
 * `_` or `-`. Without one it returns `all` for `@all`, else null.
 */
export function resolveMention(run: string, isKnownUsername: (name: string) => boolean): string | null {
  const candidates: string[] = [run];
  for (let index = run.length - 1; index > 0; index -= 1) {
    if ('._-'.includes(run[index]!)) {
      candidates.push(run.slice(0, index));
    }
  }
  for (const candidate of candidates) {
    if (isKnownUsername(candidate)) {
      return candidate;
    }
  }
  for (const candidate of candidates) {
    if (candidate.toLowerCase() === 'all') {
      return candidate;
    }
  }
  return null;
}

/** The `@query` being typed just before the caret, for the member picker. */
export interface MentionQuery {
  /** Index of the `@` in the text. */
  start: number;
  /** Characters typed after `@`. */
  query: string;
}

/** Finds the mention being typed at `caret`, or null when the caret is not inside one. */
export function mentionQueryAt(text: string, caret: number): MentionQuery | null {
  let index = caret;
  while (index > 0 && isUsernameChar(text[index - 1]!)) {
    index -= 1;
  }
  if (index === 0 || text[index - 1] !== '@') {
    return null;
  }
  const at = index - 1;
  const before = at > 0 ? text[at - 1]! : '';
  if (before && (isUsernameChar(before) || before === '@')) {
    return null;
  }
  return { start: at, query: text.slice(index, caret) };
}
