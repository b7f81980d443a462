/** Maps field paths of a parsed YAML document back to 1-based line:column positions. */
import { type Document, isMap, isScalar, isSeq, type LineCounter, type Node } from 'yaml';

/** A 1-based source position. */
export interface Position {
  line: number;
  column: number;
}

/**
 * Position of the deepest node of `path` that exists in the document: the KEY of a mapping entry,
 * the start of a sequence item, or — when the path leaves the document (a missing field) — the
 * deepest ancestor found. Returns undefined for an empty document.
 */
export function locate(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
): Position | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined = rangeStart(node);
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => keyString(p.key) === String(seg));
      if (!pair) break;
      offset = rangeStart(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else break;
  }
  if (offset === undefined) return undefined;
  const pos = lineCounter.linePos(offset);
  return { line: pos.line, column: pos.col };
}

function keyString(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}
