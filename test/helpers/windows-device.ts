import { createHash, generateKeyPair, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { all, attr, buildXml, childrenOf, el, first, parseXml, path, tagOf, text, localName, type XNode } from '../../server/platforms/windows/xml';

const generateKeyPairAsync = promisify(generateKeyPair);

export type Transport = (method: 'GET' | 'POST', url: string, body: string | undefined, headers: Record<string, string>) => Promise<{ status: number; body: string; headers: Record<string, string> }>;

const NS = {
  s: 'http://www.w3.org/2003/05/soap-envelope',
  a: 'http://www.w3.org/2005/08/addressing',
  u: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd',
  wsse: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',
  wst: 'http://docs.oasis-open.org/ws-sx/ws-trust/200512',
  ac: 'http://schemas.xmlsoap.org/ws/2006/12/authorization',
};
const SOAP_TYPE = 'application/soap+xml; charset=utf-8';
const SYNCML_TYPE = 'application/vnd.syncml.dm+xml';

export interface Provisioned {
  caThumbprint: string;
  caDer: Buffer;
  certificatePem: string;
  certificateThumbprint: string;
  store: string;
  addr: string;
  providerId: string;
  digestUser: string;
  digestSecret: string;
  poll: Record<string, string>;
  xml: string;
}

/** A server command as the device saw it, and what it answered. */
export interface Executed {
  verb: string;
  cmdId: string;
  items: Array<{ locUri: string; data: string; format: string }>;
  code: number;
}

export interface SessionLog {
  messages: number;
  executed: Executed[];
  /** The SyncHdr status codes the server gave, in order. */
  headerCodes: number[];
  replies: string[];
}

const soapHeader = (action: string, to: string, extra: XNode[] = []) =>
  el('s:Header', [el('a:Action', action, { 's:mustUnderstand': '1' }), el('a:MessageID', `urn:uuid:${randomUUID()}`), el('a:ReplyTo', [el('a:Address', 'http://www.w3.org/2005/08/addressing/anonymous')]), el('a:To', to, { 's:mustUnderstand': '1' }), ...extra]);

/**
 * A Windows 10/11 tablet as its enrollment client and OMA-DM client behave on the wire (the
 * shapes of a real 19043 capture): Discovery GET and POST, GetPolicies and RequestSecurityToken
 * with a user name and password, a SHA-1 signed PKCS#10 with Windows' odd common name, then
 * management sessions with the MD5 digest the provisioning document gave.
 */
export class WindowsDevice {
  readonly windowsDeviceId = randomBytes(16).toString('hex').toUpperCase();
  readonly hwDevId = randomBytes(32).toString('hex').toUpperCase();
  sessionId = 0;
  provisioned: Provisioned | null = null;
  nonce: string | null = null;
  /** Values answered to Gets; a node not here answers 404. */
  nodes: Record<string, string> = {};
  /** Nodes that already exist: an Add on them answers 418. */
  existing = new Set<string>();
  /** Fetches an install's download URL; unset, the simulator installs without downloading. */
  download: ((url: string) => Promise<Buffer | null>) | null = null;
  /** Apps installed through EnterpriseDesktopAppManagement (ProductCode) and EnterpriseModernAppManagement (family name). */
  readonly installedApps = new Set<string>();
  /** Set to present the certificate's thumbprint as the TLS terminator would forward it. */
  thumbprintHeader: string | null = null;
  wiped = false;
  private policyUrl = '';
  private enrollmentUrl = '';

  constructor(
    private readonly transport: Transport,
    readonly baseUrl: string,
    readonly deviceName = `TABLETTE-${randomBytes(3).toString('hex').toUpperCase()}`,
  ) {}

  private pathOf(url: string): string {
    const u = new URL(url, this.baseUrl);
    return `${u.pathname}${u.search}`;
  }

  async discover(email = 'eleve@ecole.example.fr', version = '4.0'): Promise<{ status: number; body: string }> {
    const get = await this.transport('GET', '/EnrollmentServer/Discovery.svc', undefined, { 'user-agent': 'ENROLLClient' });
    if (get.status !== 200) return get;
    const to = `${this.baseUrl}/EnrollmentServer/Discovery.svc`;
    const body = buildXml([
      el('s:Envelope', [
        soapHeader('http://schemas.microsoft.com/windows/management/2012/01/enrollment/IDiscoveryService/Discover', to),
        el('s:Body', [
          el('Discover', [el('request', [el('EmailAddress', email), el('RequestVersion', version), el('DeviceType', 'CIMClient_Windows'), el('ApplicationVersion', '10.0.22631.2428'), el('OSEdition', '121'), el('AuthPolicies', [el('AuthPolicy', 'OnPremise'), el('AuthPolicy', 'Federated')])], { 'xmlns:i': 'http://www.w3.org/2001/XMLSchema-instance' })], { xmlns: 'http://schemas.microsoft.com/windows/management/2012/01/enrollment' }),
        ]),
      ], { 'xmlns:a': NS.a, 'xmlns:s': NS.s }),
    ]);
    const answer = await this.transport('POST', '/EnrollmentServer/Discovery.svc', body, { 'content-type': SOAP_TYPE, 'user-agent': 'ENROLLClient' });
    if (answer.status === 200) {
      const result = childrenOf(path(parseXml(answer.body), 'Envelope', 'Body', 'DiscoverResponse', 'DiscoverResult'));
      this.policyUrl = text(first(result, 'EnrollmentPolicyServiceUrl'));
      this.enrollmentUrl = text(first(result, 'EnrollmentServiceUrl'));
    }
    return answer;
  }

  private security(userName: string, password: string): XNode {
    return el('wsse:Security', [el('wsse:UsernameToken', [el('wsse:Username', userName), el('wsse:Password', password, { 'wsse:Type': 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText' })], { 'u:Id': `uuid-${randomUUID()}-4` })], { 's:mustUnderstand': '1' });
  }

  private envelopeAttrs() {
    return { 'xmlns:s': NS.s, 'xmlns:a': NS.a, 'xmlns:u': NS.u, 'xmlns:wsse': NS.wsse, 'xmlns:wst': NS.wst, 'xmlns:ac': NS.ac };
  }

  async getPolicies(userName: string, password: string): Promise<{ status: number; body: string }> {
    const body = buildXml([
      el('s:Envelope', [
        soapHeader('http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy/IPolicy/GetPolicies', this.policyUrl, [this.security(userName, password)]),
        el('s:Body', [el('GetPolicies', [el('client', [el('lastUpdate', [], { 'xsi:nil': 'true' }), el('preferredLanguage', [], { 'xsi:nil': 'true' })]), el('requestFilter', [], { 'xsi:nil': 'true' })], { xmlns: 'http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy' })], { 'xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', 'xmlns:xsd': 'http://www.w3.org/2001/XMLSchema' }),
      ], this.envelopeAttrs()),
    ]);
    return this.transport('POST', this.pathOf(this.policyUrl), body, { 'content-type': SOAP_TYPE, 'user-agent': 'ENROLLClient' });
  }

  /** Windows' request: CN "GUID!DeviceID" ending in a NUL, as a PrintableString, signed with SHA-1. */
  static async csr(windowsDeviceId: string): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
    const request = forge.pki.createCertificationRequest();
    request.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
    request.setSubject([{ name: 'commonName', value: `${randomUUID().toUpperCase().slice(0, 30)}!${windowsDeviceId}\u0000`, valueTagClass: forge.asn1.Type.PRINTABLESTRING as unknown as forge.asn1.Class }]);
    request.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }) as string), forge.md.sha1.create());
    return forge.util.encode64(forge.asn1.toDer(forge.pki.certificationRequestToAsn1(request)).getBytes());
  }

  async requestSecurityToken(userName: string, password: string, options: { csrB64?: string; enrollmentType?: 'Full' | 'Device' } = {}): Promise<{ status: number; body: string }> {
    const csr = options.csrB64 ?? (await WindowsDevice.csr(this.windowsDeviceId));
    const item = (name: string, value: string) => el('ac:ContextItem', [el('ac:Value', value)], { Name: name });
    const body = buildXml([
      el('s:Envelope', [
        soapHeader('http://schemas.microsoft.com/windows/pki/2009/01/enrollment/RST/wstep', this.enrollmentUrl, [this.security(userName, password)]),
        el('s:Body', [
          el('wst:RequestSecurityToken', [
            el('wst:TokenType', 'http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentToken'),
            el('wst:RequestType', 'http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue'),
            el('wsse:BinarySecurityToken', csr, { ValueType: 'http://schemas.microsoft.com/windows/pki/2009/01/enrollment#PKCS10', EncodingType: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd#base64binary' }),
            el('ac:AdditionalContext', [
              item('UXInitiated', 'true'),
              item('HWDevID', this.hwDevId),
              item('Locale', 'fr-FR'),
              item('TargetedUserLoggedIn', 'true'),
              item('OSEdition', '121'),
              item('DeviceName', this.deviceName),
              item('MAC', '00-0C-29-51-60-9D'),
              item('MAC', '1A-77-20-52-41-53'),
              item('DeviceID', this.windowsDeviceId),
              item('EnrollmentType', options.enrollmentType ?? 'Full'),
              item('DeviceType', 'CIMClient_Windows'),
              item('OSVersion', '10.0.22631.2428'),
              item('ApplicationVersion', '10.0.22631.2428'),
              item('NotInOobe', 'false'),
            ], { xmlns: NS.ac }),
          ]),
        ]),
      ], this.envelopeAttrs()),
    ]);
    const answer = await this.transport('POST', this.pathOf(this.enrollmentUrl), body, { 'content-type': SOAP_TYPE, 'user-agent': 'ENROLLClient' });
    if (answer.status === 200) this.provisioned = WindowsDevice.readProvisioning(answer.body);
    return answer;
  }

  /** Discovery, policy and enrollment in a row, as the Settings app runs them. */
  async enroll(userName: string, password: string): Promise<{ status: number; body: string }> {
    const discovered = await this.discover();
    if (discovered.status !== 200) return discovered;
    const policies = await this.getPolicies(userName, password);
    if (policies.status !== 200) return policies;
    return this.requestSecurityToken(userName, password);
  }

  /** What the enrollment client takes from the wap-provisioningdoc. */
  static readProvisioning(soap: string): Provisioned {
    const token = path(parseXml(soap), 'Envelope', 'Body', 'RequestSecurityTokenResponseCollection', 'RequestSecurityTokenResponse', 'RequestedSecurityToken', 'BinarySecurityToken');
    const xml = Buffer.from(text(token), 'base64').toString('utf8');
    const doc = childrenOf(first(parseXml(xml), 'wap-provisioningdoc'));
    const characteristic = (nodes: XNode[], type: string) => all(nodes, 'characteristic').find((c) => attr(c, 'type') === type);
    const parms = (node: XNode | undefined) => Object.fromEntries(all(childrenOf(node), 'parm').map((p) => [attr(p, 'name')!, attr(p, 'value') ?? '']));
    const certStore = childrenOf(characteristic(doc, 'CertificateStore'));
    const rootSystem = childrenOf(characteristic(childrenOf(characteristic(certStore, 'Root')), 'System'));
    const caNode = all(rootSystem, 'characteristic')[0]!;
    const my = childrenOf(characteristic(certStore, 'My'));
    const storeNode = all(my, 'characteristic').find((c) => attr(c, 'type') !== 'WSTEP')!;
    const certNode = all(childrenOf(storeNode), 'characteristic').find((c) => attr(c, 'type') !== 'PrivateKeyContainer')!;
    const der = Buffer.from(parms(certNode).EncodedCertificate!, 'base64');
    const application = characteristic(doc, 'APPLICATION');
    const appParms = parms(application);
    const appsrv = all(childrenOf(application), 'characteristic').map(parms).find((p) => p.AAUTHLEVEL === 'APPSRV')!;
    const provider = all(childrenOf(characteristic(childrenOf(characteristic(doc, 'DMClient')), 'Provider')), 'characteristic')[0]!;
    return {
      caThumbprint: attr(caNode, 'type')!,
      caDer: Buffer.from(parms(caNode).EncodedCertificate!, 'base64'),
      certificatePem: new X509Certificate(der).toString(),
      certificateThumbprint: attr(certNode, 'type')!,
      store: attr(storeNode, 'type')!,
      addr: appParms.ADDR!,
      providerId: attr(provider, 'type')!,
      digestUser: appsrv.AAUTHNAME!,
      digestSecret: appsrv.AAUTHSECRET!,
      poll: parms(characteristic(childrenOf(provider), 'Poll')),
      xml,
    };
  }

  /** auth-md5 as the OMA-DM client computes it: b64(md5(b64(md5(user:secret)) ":" nonce)). */
  credential(nonceB64: string, secret = this.provisioned!.digestSecret): string {
    const inner = createHash('md5').update(`${this.provisioned!.digestUser}:${secret}`).digest('base64');
    return createHash('md5').update(Buffer.concat([Buffer.from(`${inner}:`), Buffer.from(nonceB64, 'base64')])).digest('base64');
  }

  private header(msgId: number, cred: string | null, source = this.windowsDeviceId): XNode {
    return el('SyncHdr', [
      el('VerDTD', '1.2'),
      el('VerProto', 'DM/1.2'),
      el('SessionID', String(this.sessionId)),
      el('MsgID', String(msgId)),
      el('Target', [el('LocURI', this.provisioned!.addr)]),
      el('Source', [el('LocURI', source)]),
      cred ? el('Cred', [el('Meta', [el('Format', 'b64', { xmlns: 'syncml:metinf' }), el('Type', 'syncml:auth-md5', { xmlns: 'syncml:metinf' })]), el('Data', cred)]) : undefined,
    ]);
  }

  /** The first message of a session: 1201, the login status, DevInfo; and 1226 when the user removed the account. */
  private opening(unenroll: boolean): XNode[] {
    const info = (node: string, value: string) => el('Item', [el('Source', [el('LocURI', `./DevInfo/${node}`)]), el('Data', value)]);
    return [
      el('Alert', [el('CmdID', '2'), el('Data', '1201')]),
      el('Alert', [el('CmdID', '3'), el('Data', '1224'), el('Item', [el('Meta', [el('Type', 'com.microsoft/MDM/LoginStatus', { xmlns: 'syncml:metinf' })]), el('Data', 'user')])]),
      unenroll ? el('Alert', [el('CmdID', '4'), el('Data', '1226'), el('Item', [el('Meta', [el('Type', 'com.microsoft:mdm.unenrollment.userrequest', { xmlns: 'syncml:metinf' }), el('Format', 'int', { xmlns: 'syncml:metinf' })]), el('Data', '1')])]) : undefined,
      el('Replace', [el('CmdID', unenroll ? '5' : '4'), info('DevId', this.windowsDeviceId), info('Man', 'Microsoft Corporation'), info('Mod', 'Surface Go 3'), info('DmV', '1.3'), info('Lang', 'fr-FR')]),
    ].filter((n): n is XNode => n !== undefined);
  }

  async post(body: string): Promise<{ status: number; body: string }> {
    const headers: Record<string, string> = { 'content-type': SYNCML_TYPE, accept: 'application/vnd.syncml.dm+xml, application/vnd.syncml.dm+wbxml, application/octet-stream', 'user-agent': 'MSFT OMA DM Client/1.2.0.1' };
    if (this.thumbprintHeader) headers[this.thumbprintHeader] = this.provisioned!.certificateThumbprint;
    return this.transport('POST', `${this.pathOf(this.provisioned!.addr)}?mode=Maintenance&Platform=WoA`, body, headers);
  }

  /** One message with a given header and body, for tests that break the rules. */
  raw(msgId: number, bodyNodes: XNode[], options: { cred?: string | null; source?: string; verDtd?: string } = {}): string {
    const header = this.header(msgId, options.cred ?? null, options.source);
    if (options.verDtd) (childrenOf(header)[0]!.VerDTD as XNode[])[0]!['#text'] = options.verDtd;
    return buildXml([el('SyncML', [header, el('SyncBody', [...bodyNodes, el('Final', [])])], { xmlns: 'SYNCML:SYNCML1.2' })]);
  }

  /** Delete: 404 when nothing is there, as Windows answers; an app's node uninstalls it. */
  private async delete(locUris: string[]): Promise<number> {
    let found = false;
    for (const locUri of locUris) {
      // A node goes with everything under it.
      for (const node of [...this.existing]) if ((node === locUri || node.startsWith(`${locUri}/`)) && this.existing.delete(node)) found = true;
      const app = decodeURIComponent(locUri.split('/').pop() ?? '');
      if (/EnterpriseDesktopAppManagement\/MSI\/|EnterpriseModernAppManagement\/AppManagement\//.test(locUri) && this.installedApps.delete(app)) found = true;
    }
    return found ? 200 : 404;
  }

  /** Exec of an MSI DownloadInstall (the file downloaded and its SHA-256 checked) or an MSIX HostedInstall. */
  private async execInstall(item: { locUri: string; data: string }): Promise<number> {
    const msi = /EnterpriseDesktopAppManagement\/MSI\/([^/]+)\/DownloadInstall$/.exec(item.locUri);
    const msix = /EnterpriseModernAppManagement\/AppInstallation\/([^/]+)\/HostedInstall$/.exec(item.locUri);
    if (!msi && !msix) return 200;
    const job = parseXml(item.data);
    const url = msi ? text(path(job, 'MsiInstallJob', 'Product', 'Download', 'ContentURLList', 'ContentURL')) : (attr(job[0], 'PackageUri') ?? '');
    if (this.download) {
      const file = await this.download(url);
      if (!file) return 404;
      const hash = msi ? text(path(job, 'MsiInstallJob', 'Product', 'Validation', 'FileHash')) : null;
      // Windows refuses an MSI whose hash differs from the job's.
      if (hash && createHash('sha256').update(file).digest('hex').toUpperCase() !== hash.toUpperCase()) return 500;
    }
    this.installedApps.add(decodeURIComponent((msi ?? msix)![1]!));
    return 200;
  }

  /** A whole session: opening, the digest when asked, then answering commands until the server has none. */
  async session(options: { unenroll?: boolean; secret?: string; maxMessages?: number } = {}): Promise<SessionLog> {
    this.sessionId += 1;
    const log: SessionLog = { messages: 0, executed: [], headerCodes: [], replies: [] };
    let msgId = 1;
    let pending: XNode[] = this.opening(options.unenroll ?? false);
    let cred: string | null = this.nonce && !this.thumbprintHeader ? this.credential(this.nonce, options.secret) : null;
    for (let guard = 0; guard < (options.maxMessages ?? 20); guard++) {
      const answer = await this.post(this.raw(msgId, pending, { cred }));
      log.messages += 1;
      log.replies.push(answer.body);
      if (answer.status !== 200) throw Object.assign(new Error(`management answered HTTP ${answer.status}`), { status: answer.status });
      const body = childrenOf(path(parseXml(answer.body), 'SyncML', 'SyncBody'));
      const statuses: XNode[] = [];
      const results: XNode[] = [];
      const commands: XNode[] = [];
      let headerCode = 0;
      let challenge: string | null = null;
      for (const node of body) {
        const tag = localName(tagOf(node) ?? '');
        if (tag === 'Status') {
          const kids = childrenOf(node);
          if (text(first(kids, 'Cmd')) === 'SyncHdr') {
            headerCode = Number(text(first(kids, 'Data')));
            const next = text(path(kids, 'Chal', 'Meta', 'NextNonce'));
            if (next) challenge = next;
          }
        } else if (tag && tag !== 'Final') commands.push(node);
      }
      log.headerCodes.push(headerCode);
      if (challenge) this.nonce = challenge;
      if (headerCode === 407 || headerCode === 401) {
        // Asked for a digest: the same message again with credentials, once.
        if (headerCode === 401 && cred) return log;
        cred = this.credential(this.nonce!, options.secret);
        msgId += 1;
        continue;
      }
      if (headerCode !== 200 && headerCode !== 212) return log;
      cred = null;
      if (commands.length === 0) return log;
      let cmdId = 1;
      for (const command of commands) {
        const verb = localName(tagOf(command)!);
        const kids = childrenOf(command);
        const ref = text(first(kids, 'CmdID'));
        const items = all(kids, 'Item').map((item) => ({ locUri: text(path(childrenOf(item), 'Target', 'LocURI')), data: text(first(childrenOf(item), 'Data')), format: text(path(childrenOf(item), 'Meta', 'Format')) }));
        let code = 200;
        if (verb === 'Get') {
          const found = items.filter((i) => i.locUri in this.nodes);
          code = found.length === 0 ? 404 : 200;
          if (found.length > 0) results.push(el('Results', [el('CmdID', String(++cmdId)), el('MsgRef', String(msgId)), el('CmdRef', ref), ...found.map((i) => el('Item', [el('Source', [el('LocURI', i.locUri)]), el('Data', this.nodes[i.locUri]!)]))]));
        } else if (verb === 'Add') {
          code = items.some((i) => this.existing.has(i.locUri)) ? 418 : 200;
          if (code === 200) items.forEach((i) => this.existing.add(i.locUri));
        } else if (verb === 'Replace') items.forEach((i) => this.existing.add(i.locUri));
        else if (verb === 'Delete') code = await this.delete(items.map((i) => i.locUri));
        else if (verb === 'Exec' && items.some((i) => i.locUri.endsWith('/RemoteWipe/doWipe'))) this.wiped = true;
        else if (verb === 'Exec') code = await this.execInstall(items[0]!);
        log.executed.push({ verb, cmdId: ref, items, code });
        statuses.push(el('Status', [el('CmdID', String(++cmdId)), el('MsgRef', String(msgId)), el('CmdRef', ref), el('Cmd', verb), el('Data', String(code))]));
      }
      pending = [...statuses, ...results];
      msgId += 1;
    }
    return log;
  }
}
