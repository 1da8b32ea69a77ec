import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';

/**
 * Ordered XML for SOAP and SyncML: fast-xml-parser in `preserveOrder` mode, so commands keep the
 * order the device wrote them in and our answers keep the order the protocols require.
 * Names are matched by local name: devices and servers choose their own namespace prefixes.
 */
export type XNode = Record<string, unknown>;

// `jPath: false`: no callback here reads the element's path, so the parser need not spell it out for each element (a fifth of a parse).
const parser = new XMLParser({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, parseAttributeValue: false, trimValues: true, processEntities: true, jPath: false });
const builder = new XMLBuilder({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '@', suppressEmptyNode: true });

export class XmlError extends Error {}

/** The document's nodes; throws XmlError when it is not well-formed XML. */
export function parseXml(text: string): XNode[] {
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new XmlError(`not well-formed XML: ${valid.err.msg}`);
  return parser.parse(text) as XNode[];
}

/** Compact XML: Windows is given no indentation (the provisioning document is base64 of it). */
export function buildXml(nodes: XNode[]): string {
  return builder.build(nodes) as string;
}

/** Text escaped exactly as the builder escapes it, for answers written from a fixed template. */
export const escapeText = (value: string): string => (builder as unknown as { replaceEntitiesValue(text: string): string }).replaceEntitiesValue(value);

export const localName = (name: string) => name.slice(name.indexOf(':') + 1);

// The helpers below run for every element of every message: plain loops, no intermediate arrays.

/** Whether `tag` (maybe prefixed) has the local name `name`, without slicing it. */
function named(tag: string, name: string): boolean {
  const colon = tag.indexOf(':');
  return colon < 0 ? tag === name : tag.length - colon - 1 === name.length && tag.endsWith(name);
}

/** The element's tag, or undefined for text and comments. */
export function tagOf(node: XNode): string | undefined {
  for (const key in node) if (key !== ':@' && key !== '#text') return key;
  return undefined;
}

export function childrenOf(node: XNode | undefined): XNode[] {
  if (!node) return [];
  const tag = tagOf(node);
  return tag ? ((node[tag] as XNode[] | undefined) ?? []) : [];
}

export function attr(node: XNode | undefined, name: string): string | undefined {
  const attributes = node?.[':@'] as Record<string, string> | undefined;
  if (!attributes) return undefined;
  for (const key in attributes) if (named(key.slice(1), name)) return attributes[key];
  return undefined;
}

/** Children of `nodes` named `name` (local name). */
export function all(nodes: XNode[], name: string): XNode[] {
  const found: XNode[] = [];
  for (const n of nodes) {
    const tag = tagOf(n);
    if (tag !== undefined && named(tag, name)) found.push(n);
  }
  return found;
}

export function first(nodes: XNode[], name: string): XNode | undefined {
  for (const n of nodes) {
    const tag = tagOf(n);
    if (tag !== undefined && named(tag, name)) return n;
  }
  return undefined;
}

/** Follows a path of local names from `nodes`. */
export function path(nodes: XNode[], ...names: string[]): XNode | undefined {
  let current: XNode | undefined;
  let level = nodes;
  for (const name of names) {
    current = first(level, name);
    if (!current) return undefined;
    level = childrenOf(current);
  }
  return current;
}

/** The element's text content (its text children joined), '' when empty. */
export function text(node: XNode | undefined): string {
  let joined = '';
  for (const c of childrenOf(node)) if ('#text' in c) joined += String(c['#text']);
  return joined;
}

/** An element; string children become its text (escaped by the builder). */
export function el(name: string, children: Array<XNode | undefined> | string = [], attributes?: Record<string, string>): XNode {
  let kids: XNode[];
  if (typeof children === 'string') kids = [{ '#text': children }];
  else {
    kids = [];
    for (const c of children) if (c !== undefined) kids.push(c);
  }
  const node: XNode = { [name]: kids };
  if (attributes) {
    const prefixed: Record<string, string> = {};
    for (const key in attributes) prefixed[`@${key}`] = attributes[key]!;
    node[':@'] = prefixed;
  }
  return node;
}
