import type { MessageView } from '@/api/types';

/**
 * Picks the later state of one message: a tombstone wins over text, and a later edit over an
 * earlier one, so a REST page fetched before a live update cannot undo it.
 */
export function laterVersion(current: MessageView, incoming: MessageView): MessageView {
  if (current.deleted_at && !incoming.deleted_at) {
    return current;
  }
  if (incoming.deleted_at && !current.deleted_at) {
    return incoming;
  }
  const currentEdit = current.edited_at ?? '';
  const incomingEdit = incoming.edited_at ?? '';
  if (incomingEdit !== currentEdit) {
    return incomingEdit > currentEdit ? incoming : current;
  }
  // Same version: keep the current object, so a replay changes nothing.
  return incoming.content === current.content ? current : incoming;
}

/**
 * Merges messages into a list sorted by ascending `seq` with one entry per message id. Returns
 * the same array when nothing changed. Appending and prepending, the common cases, skip the sort.
 */
export function mergeMessages(existing: MessageView[], incoming: MessageView[]): MessageView[] {
  if (incoming.length === 0) {
    return existing;
  }
  const sortedIncoming = [...incoming].sort((a, b) => a.seq - b.seq);
  const first = existing[0];
  const last = existing[existing.length - 1];
  if (!first || !last) {
    return dedupeSorted(sortedIncoming);
  }
  if (sortedIncoming[0]!.seq > last.seq) {
    return existing.concat(dedupeSorted(sortedIncoming));
  }
  if (sortedIncoming[sortedIncoming.length - 1]!.seq < first.seq) {
    return dedupeSorted(sortedIncoming).concat(existing);
  }

  const bySeq = new Map<number, MessageView>();
  for (const message of existing) {
    bySeq.set(message.seq, message);
  }
  let changed = false;
  for (const message of sortedIncoming) {
    const current = bySeq.get(message.seq);
    const next = current ? laterVersion(current, message) : message;
    if (next !== current) {
      bySeq.set(message.seq, next);
      changed = true;
    }
  }
  if (!changed) {
    return existing;
  }
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

function dedupeSorted(messages: MessageView[]): MessageView[] {
  const result: MessageView[] = [];
  for (const message of messages) {
    const previous = result[result.length - 1];
    if (previous && previous.seq === message.seq) {
      result[result.length - 1] = laterVersion(previous, message);
    } else {
      result.push(message);
    }
  }
  return result;
}

/** Normalizes content the way the server does before storing it: trimmed and NFC. */
export function normalizeContent(content: string): string {
  return content.trim().normalize('NFC');
}
