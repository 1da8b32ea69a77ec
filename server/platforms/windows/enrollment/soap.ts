import { randomUUID } from 'node:crypto';
import { all, attr, buildXml, childrenOf, el, first, parseXml, path, text, XmlError, type XNode } from '../xml';

export const NS = {
  soap: 'http://www.w3.org/2003/05/soap-envelope',
  addressing: 'http://www.w3.org/2005/08/addressing',
  wsse: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',
  wsu: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd',
  enrollment: 'http://schemas.microsoft.com/windows/management/2012/01/enrollment',
  policy: 'http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy',
  wstrust: 'http://docs.oasis-open.org/ws-sx/ws-trust/200512',
  wstep: 'http://schemas.microsoft.com/windows/pki/2009/01/enrollment',
  diagnostics: 'http://schemas.microsoft.com/2004/09/ServiceModel/Diagnostics',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
} as const;

export const ACTIONS = {
  discover: `${NS.enrollment}/IDiscoveryService/Discover`,
  getPolicies: `${NS.policy}/IPolicy/GetPolicies`,
  requestSecurityToken: `${NS.wstep}/RST/wstep`,
} as const;

/** MS-MDE2 fault subcodes (s: the SOAP namespace; invalidsecurity is WS-Addressing's). */
export type FaultCode = 'messageformat' | 'authentication' | 'authorization' | 'certificaterequest' | 'enrollmentserver' | 'internalservicefault' | 'invalidsecurity';

/** A refusal that becomes a SOAP fault; `errorType` fills deviceenrollmentserviceerror. */
export class EnrollmentFault extends Error {
  constructor(
    readonly code: FaultCode,
    message: string,
    readonly errorType?: 'DeviceCapReached' | 'DeviceNotSupported' | 'NotEligibleToRenew' | 'InMaintenance' | 'InvalidEnrollmentData',
  ) {
    super(message);
  }
}

export interface SoapRequest {
  action: string;
  messageId: string;
  header: XNode[];
  body: XNode[];
}

/** The envelope's addressing headers and body; a fault when it is not a SOAP 1.2 envelope. */
export function parseSoap(raw: string): SoapRequest {
  let nodes: XNode[];
  try {
    nodes = parseXml(raw);
  } catch (error) {
    if (error instanceof XmlError) throw new EnrollmentFault('messageformat', error.message);
    throw error;
  }
  const envelope = first(nodes, 'Envelope');
  if (!envelope) throw new EnrollmentFault('messageformat', 'the body is not a SOAP envelope');
  const header = childrenOf(first(childrenOf(envelope), 'Header'));
  const body = first(childrenOf(envelope), 'Body');
  if (!body) throw new EnrollmentFault('messageformat', 'the SOAP envelope has no Body');
  return { action: text(first(header, 'Action')).trim(), messageId: text(first(header, 'MessageID')).trim(), header, body: childrenOf(body) };
}

/** OnPremise credentials: wsse:Security/UsernameToken, as Windows sends them with GetPolicies and RST. */
export function usernameToken(header: XNode[]): { userName: string; password: string } | null {
  const token = path(header, 'Security', 'UsernameToken');
  if (!token) return null;
  const userName = text(first(childrenOf(token), 'Username')).trim();
  const password = text(first(childrenOf(token), 'Password'));
  return userName && password ? { userName, password } : null;
}

export const values = (nodes: XNode[], name: string) => all(nodes, name).map((n) => text(n));
export { attr };

/** An answer envelope: Action and RelatesTo, then the given extra headers, then the body. */
export function envelope(action: string, relatesTo: string, body: XNode[], extraHeader: XNode[] = []): string {
  const header = [
    el('a:Action', `${action}`, { 's:mustUnderstand': '1' }),
    el('ActivityId', randomUUID(), { CorrelationId: randomUUID(), xmlns: NS.diagnostics }),
    relatesTo ? el('a:RelatesTo', relatesTo) : undefined,
    ...extraHeader,
  ];
  return buildXml([el('s:Envelope', [el('s:Header', header), el('s:Body', body)], { 'xmlns:s': NS.soap, 'xmlns:a': NS.addressing, 'xmlns:u': NS.wsu })]);
}

/** A SOAP 1.2 fault as MS-MDE2 describes it: receiver, a subcode, a reason, and the error type when there is one. */
export function faultEnvelope(fault: EnrollmentFault, relatesTo: string): string {
  const subcode = fault.code === 'invalidsecurity' ? 'a:invalidsecurity' : `s:${fault.code}`;
  const body = el('s:Fault', [
    el('s:Code', [el('s:Value', 's:Receiver'), el('s:Subcode', [el('s:Value', subcode)])]),
    el('s:Reason', [el('s:Text', fault.message, { 'xml:lang': 'en-US' })]),
    fault.errorType ? el('s:Detail', [el('DeviceEnrollmentServiceError', [el('ErrorType', fault.errorType), el('Message', fault.message)], { xmlns: 'http://schemas.microsoft.com/windows/pki/2009/01/enrollment' })]) : undefined,
  ]);
  return envelope(`${NS.addressing}/fault`, relatesTo, [body]);
}
