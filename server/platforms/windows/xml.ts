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

export const localName = (name: string) => name.slice(name.indexOf(':') + 1);

/** The element's tag, or undefined for text and comments. */
export function tagOf(node: XNode): string | undefined {
  return Object.keys(node).find((k) => k !== ':@' && k !== '#text');
}

export function childrenOf(node: XNode | undefined): XNode[] {
  if (!node) return [];
  const tag = tagOf(node);
  return tag ? ((node[tag] as XNode[] | undefined) ?? []) : [];
}

export function attr(node: XNode | undefined, name: string): string | undefined {
  const attributes = node?.[':@'] as Record<string, string> | undefined;
  if (!attributes) return undefined;
  const key = Object.keys(attributes).find((k) => localName(k.slice(1)) === name);
  return key ? attributes[key] : undefined;
}

/** Children of `nodes` named `name` (local name). */
export function all(nodes: XNode[], name: string): XNode[] {
  return nodes.filter((n) => {
    const tag = tagOf(n);
    return tag !== undefined && localName(tag) === name;
  });
}

export function first(nodes: XNode[], name: string): XNode | undefined {
  return all(nodes, name)[0];
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
  return childrenOf(node)
    .filter((c) => '#text' in c)
    .map((c) => String(c['#text']))
    .join('');
}

/** An element; string children become its text (escaped by the builder). */
export function el(name: string, children: Array<XNode | undefined> | string = [], attributes?: Record<string, string>): XNode {
  const kids = typeof children === 'string' ? [{ '#text': children }] : children.filter((c): c is XNode => c !== undefined);
  const node: XNode = { [name]: kids };
  if (attributes) node[':@'] = Object.fromEntries(Object.entries(attributes).map(([k, v]) => [`@${k}`, v]));
  return node;
}
