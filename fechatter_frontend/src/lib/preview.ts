/**
 * Turns message Markdown into one line of plain text for the chat list: emphasis, code and quote
 * markers are dropped and whitespace collapses. Unlike the full renderer it needs no Markdown
 * parser, so the chat list does not load one.
 */
export function plainPreview(markdown: string): string {
  return markdown
    .replace(/^\s{0,3}(?:>\s?|#{1,6}\s+|[-*+]\s+|\d+[.)]\s+)/gm, '')
    .replace(/(\*\*|__|~~|`+)(.+?)\1/g, '$2')
    .replace(/(^|[^\w*])[*_]([^*_\s][^*_]*?)[*_](?=$|[^\w*])/g, '$1$2')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
}
