import type { Logger } from 'pino';
import { DomainError } from '../../../domain/errors';
import type { WindowsDevicesService } from '../../../modules/windows-mdm/windows-devices.service';
import { all, attr, childrenOf, el, first, path, text, type XNode } from '../xml';
import { ACTIONS, EnrollmentFault, envelope, faultEnvelope, NS, parseSoap, usernameToken, type SoapRequest } from './soap';
import { provisioningDoc, type PollSchedule } from './provisioning-doc';

export const PATHS = {
  discovery: '/EnrollmentServer/Discovery.svc',
  policy: '/EnrollmentServer/Policy.svc',
  enrollment: '/EnrollmentServer/Enrollment.svc',
  management: '/ManagementServer/MDM.svc',
} as const;

const PKCS10 = 'http://schemas.microsoft.com/windows/pki/2009/01/enrollment#PKCS10';
const ISSUE = 'http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue';
const DEVICE_TOKEN_TYPE = 'http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentToken';
const PROVISION_DOC = 'http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentProvisionDoc';
const BASE64 = `${NS.wsse}#base64binary`;
/** Enrollment versions Windows 10 and 11 ask for; the answer echoes the one asked. */
const ENROLLMENT_VERSIONS = new Set(['4.0', '5.0', '6.0', '7.0']);

export interface SoapAnswer {
  status: 200 | 400 | 500;
  body: string;
  refusal?: { code: string; message: string };
}

export interface EnrollmentDeps {
  devices: WindowsDevicesService;
  caCertPem(): string;
  publicUrl: string;
  poll: PollSchedule;
  log: Logger;
}

const ok = (body: string): SoapAnswer => ({ status: 200, body });
const nil = (name: string) => el(name, [], { 'xsi:nil': 'true' });

/** The enrollment's context items (AdditionalContext/ContextItem Name=… Value). */
function contextItems(body: XNode[]): Map<string, string[]> {
  const items = new Map<string, string[]>();
  const context = path(body, 'RequestSecurityToken', 'AdditionalContext');
  for (const item of all(childrenOf(context), 'ContextItem')) {
    const name = attr(item, 'Name');
    if (!name) continue;
    items.set(name, [...(items.get(name) ?? []), text(first(childrenOf(item), 'Value'))]);
  }
  return items;
}

/**
 * MS-MDE2 enrollment: Discovery names the policy and enrollment services, GetPolicies (MS-XCEP)
 * says what request to make, RequestSecurityToken (MS-WSTEP) turns a PKCS#10 into the device's
 * certificate and its provisioning document. OnPremise: user name and PIN in every request.
 */
export function createWindowsEnrollment(deps: EnrollmentDeps) {
  const url = (p: string) => `${deps.publicUrl.replace(/\/$/, '')}${p}`;

  function discover(request: SoapRequest): string {
    if (request.action !== ACTIONS.discover) throw new EnrollmentFault('messageformat', `unexpected action ${request.action}`);
    const discoverRequest = path(request.body, 'Discover', 'request');
    if (!discoverRequest) throw new EnrollmentFault('messageformat', 'Discover without its request');
    const asked = text(first(childrenOf(discoverRequest), 'RequestVersion')).trim() || '4.0';
    const version = ENROLLMENT_VERSIONS.has(asked) ? asked : '4.0';
    const policies = all(childrenOf(first(childrenOf(discoverRequest), 'AuthPolicies')), 'AuthPolicy').map((p) => text(p).trim());
    if (policies.length > 0 && !policies.includes('OnPremise')) throw new EnrollmentFault('authentication', 'this server enrolls with a user name and PIN (OnPremise) only');
    const result = el('DiscoverResult', [el('AuthPolicy', 'OnPremise'), el('EnrollmentVersion', version), el('EnrollmentPolicyServiceUrl', url(PATHS.policy)), el('EnrollmentServiceUrl', url(PATHS.enrollment))]);
    return envelope(`${ACTIONS.discover}Response`, request.messageId, [el('DiscoverResponse', [result], { xmlns: NS.enrollment })]);
  }

  async function credentials(request: SoapRequest): Promise<{ userName: string; password: string }> {
    const token = usernameToken(request.header);
    if (!token) throw new EnrollmentFault('authentication', 'a user name and an enrollment PIN are required');
    return token;
  }

  async function getPolicies(request: SoapRequest): Promise<string> {
    if (request.action !== ACTIONS.getPolicies) throw new EnrollmentFault('messageformat', `unexpected action ${request.action}`);
    const { userName, password } = await credentials(request);
    await deps.devices.checkCredentials(userName, password);
    const attributes = el('attributes', [
      el('commonName', 'CartableDevice'),
      el('policySchema', '3'),
      el('certificateValidity', [el('validityPeriodSeconds', '31536000'), el('renewalPeriodSeconds', '15552000')]),
      el('permission', [el('enroll', 'true'), el('autoEnroll', 'false')]),
      el('privateKeyAttributes', [el('minimalKeyLength', '2048'), nil('keySpec'), nil('keyUsageProperty'), nil('permissions'), nil('algorithmOIDReference'), el('cryptoProviders', [el('provider', 'Microsoft Platform Crypto Provider'), el('provider', 'Microsoft Software Key Storage Provider')])]),
      el('revision', [el('majorRevision', '101'), el('minorRevision', '0')]),
      nil('supersededPolicies'),
      nil('privateKeyFlags'),
      nil('subjectNameFlags'),
      nil('enrollmentFlags'),
      nil('generalFlags'),
      el('hashAlgorithmOIDReference', '0'),
      nil('rARequirements'),
      nil('keyArchivalAttributes'),
      nil('extensions'),
    ]);
    const response = el('GetPoliciesResponse', [
      el('response', [nil('policyFriendlyName'), nil('nextUpdateHours'), nil('policiesNotChanged'), el('policies', [el('policy', [el('policyOIDReference', '0'), nil('cAs'), attributes])])]),
      nil('cAs'),
      el('oIDs', [
        el('oID', [el('value', '2.16.840.1.101.3.4.2.1'), el('group', '4'), el('oIDReferenceID', '0'), el('defaultName', 'szOID_NIST_sha256')]),
        el('oID', [el('value', '1.2.840.113549.1.1.1'), el('group', '3'), el('oIDReferenceID', '1'), el('defaultName', 'szOID_RSA_RSA')]),
      ]),
    ], { xmlns: NS.policy, 'xmlns:xsi': NS.xsi });
    return envelope(`${ACTIONS.getPolicies}Response`, request.messageId, [response]);
  }

  async function requestSecurityToken(request: SoapRequest, sourceIp: string | null): Promise<string> {
    if (request.action !== ACTIONS.requestSecurityToken) throw new EnrollmentFault('messageformat', `unexpected action ${request.action}`);
    const { userName, password } = await credentials(request);
    const rst = first(request.body, 'RequestSecurityToken');
    if (!rst) throw new EnrollmentFault('messageformat', 'no RequestSecurityToken in the body');
    const requestType = text(first(childrenOf(rst), 'RequestType')).trim();
    if (requestType !== ISSUE) throw new EnrollmentFault('messageformat', `unsupported RequestType ${requestType}`);
    const bst = first(childrenOf(rst), 'BinarySecurityToken');
    if (!bst || attr(bst, 'ValueType') !== PKCS10) throw new EnrollmentFault('messageformat', 'a PKCS#10 BinarySecurityToken is required');
    const der = Buffer.from(text(bst).replace(/\s+/g, ''), 'base64');
    if (der.length === 0) throw new EnrollmentFault('certificaterequest', 'the certificate request is empty');
    const csrPem = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE REQUEST-----\n`;

    const items = contextItems(request.body);
    const item = (name: string) => items.get(name)?.[0]?.trim() || null;
    const windowsDeviceId = item('DeviceID');
    if (!windowsDeviceId || !/^[A-Za-z0-9{}-]{1,64}$/.test(windowsDeviceId)) throw new EnrollmentFault('messageformat', 'the DeviceID context item is missing or malformed', 'InvalidEnrollmentData');
    const enrollmentType = item('EnrollmentType') ?? 'Full';
    const osVersion = item('OSVersion') ?? item('ApplicationVersion') ?? 'unknown';
    const facts = { windows: { deviceId: windowsDeviceId, hwDevId: item('HWDevID'), deviceName: item('DeviceName'), osEdition: item('OSEdition'), enrollmentType, macs: items.get('MAC') ?? [], locale: item('Locale') } };

    let enrolled;
    try {
      enrolled = await deps.devices.enroll(
        userName,
        password,
        { platform: 'windows', csrPem, serial: null, imei: null, udid: null, manufacturer: 'unknown', model: item('DeviceName') ?? 'Windows', osVersion, agentVersion: null, managementMode: 'mdm', storageTotalBytes: null, facts, sourceIp },
        { windowsDeviceId, hwDevId: item('HWDevID'), enrollmentType },
      );
    } catch (error) {
      throw faultOf(error);
    }
    const doc = provisioningDoc({
      caCertPem: deps.caCertPem(),
      certificatePem: enrolled.certificatePem,
      store: enrollmentType === 'Device' ? 'System' : 'User',
      managementUrl: url(PATHS.management),
      deviceId: enrolled.deviceId,
      digestUser: enrolled.digestUser,
      digestSecret: enrolled.digestSecret,
      poll: deps.poll,
    });
    const now = Date.now();
    const security = el('o:Security', [el('u:Timestamp', [el('u:Created', new Date(now - 300_000).toISOString()), el('u:Expires', new Date(now + 300_000).toISOString())], { 'u:Id': '_0' })], { 's:mustUnderstand': '1', 'xmlns:o': NS.wsse });
    const response = el('RequestSecurityTokenResponseCollection', [
      el('RequestSecurityTokenResponse', [
        el('TokenType', DEVICE_TOKEN_TYPE),
        el('DispositionMessage', [], { xmlns: NS.wstep }),
        el('RequestedSecurityToken', [el('BinarySecurityToken', Buffer.from(doc).toString('base64'), { ValueType: PROVISION_DOC, EncodingType: BASE64, xmlns: NS.wsse })]),
        el('RequestID', '0', { xmlns: NS.wstep }),
      ]),
    ], { xmlns: NS.wstrust });
    return envelope('http://schemas.microsoft.com/windows/pki/2009/01/enrollment/RSTRC/wstep', request.messageId, [response], [security]);
  }

  /** Runs one SOAP exchange; every refusal is a fault with its MS-MDE2 code, and is logged. */
  async function answer(raw: string, handler: (request: SoapRequest) => Promise<string> | string): Promise<SoapAnswer> {
    let messageId = '';
    try {
      const request = parseSoap(raw);
      messageId = request.messageId;
      return ok(await handler(request));
    } catch (error) {
      const fault = error instanceof EnrollmentFault ? error : faultOf(error);
      if (fault.code === 'internalservicefault') deps.log.error({ err: error }, 'Windows enrollment failed');
      return { status: fault.code === 'internalservicefault' ? 500 : 400, body: faultEnvelope(fault, messageId), refusal: { code: fault.code, message: fault.message } };
    }
  }

  return {
    discover: (raw: string) => answer(raw, discover),
    getPolicies: (raw: string) => answer(raw, getPolicies),
    requestSecurityToken: (raw: string, sourceIp: string | null) => answer(raw, (request) => requestSecurityToken(request, sourceIp)),
  };
}

/** Domain refusals in MS-MDE2's words: credentials → authentication, the token's state → authorization, the request → certificaterequest. */
function faultOf(error: unknown): EnrollmentFault {
  if (error instanceof EnrollmentFault) return error;
  if (error instanceof DomainError) {
    if (error.kind === 'unauthenticated') return new EnrollmentFault('authentication', error.message);
    if (error.kind === 'forbidden') return new EnrollmentFault('authorization', error.message);
    if (error.code === 'csr_invalid' || error.code === 'csr_bad_signature') return new EnrollmentFault('certificaterequest', error.message);
    if (error.kind === 'invalid' || error.kind === 'conflict') return new EnrollmentFault('enrollmentserver', error.message, 'InvalidEnrollmentData');
    if (error.kind === 'unavailable' || error.kind === 'rate_limited') return new EnrollmentFault('enrollmentserver', error.message, 'InMaintenance');
  }
  return new EnrollmentFault('internalservicefault', 'the enrollment could not be completed');
}
