import { createHash, generateKeyPair, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import plist from 'plist';
import { bytesOf, children, contextTagged, fromPem, integer, nul, octets, oid, parseDer, seq, set, time, toDer, type Asn1 } from '../../server/infra/pki/der';
import { readCertificate } from '../../server/infra/pki/x509';

/**
 * A simulated iPad speaking Apple MDM (modelled on NanoMDM's test/enrollment and mdmb): its
 * identity key and certificate, check-ins, a detached CMS `Mdm-Signature` on every body, and
 * answers to commands the way iPadOS gives them.
 */

const generateKeyPairAsync = promisify(generateKeyPair);
const OID = { data: '1.2.840.113549.1.7.1', signedData: '1.2.840.113549.1.7.2', contentType: '1.2.840.113549.1.9.3', messageDigest: '1.2.840.113549.1.9.4', signingTime: '1.2.840.113549.1.9.5', rsa: '1.2.840.113549.1.1.1', sha1: '1.3.14.3.2.26', sha256: '2.16.840.1.101.3.4.2.1' };

export type Transport = (method: 'PUT' | 'POST', path: string, body: Buffer, headers: Record<string, string>) => Promise<{ status: number; body: string }>;
export type CommandPlist = { CommandUUID: string; Command: { RequestType: string } & Record<string, unknown> };

const attribute = (type: string, value: Asn1) => seq([oid(type), set([value])]);

/** A detached CMS SignedData over `body`, as iPads and mdmb make it (SHA-1 by default in mdmb; SHA-256 here unless asked). */
export function signDetached(body: Buffer, certPem: string, key: KeyObject, digest: 'sha1' | 'sha256' = 'sha256'): string {
  const certDer = fromPem('CERTIFICATE', certPem);
  const { issuer, serial } = readCertificate(certDer);
  const algorithm = seq([oid(digest === 'sha1' ? OID.sha1 : OID.sha256), nul()]);
  const attrs = [attribute(OID.contentType, oid(OID.data)), attribute(OID.signingTime, time(new Date())), attribute(OID.messageDigest, octets(createHash(digest).update(body).digest()))]
    .map(toDer)
    .sort(Buffer.compare)
    .map((d) => parseDer(d));
  const signature = sign(digest, toDer(set(attrs)), key);
  const signerInfo = seq([integer(Buffer.from([1])), seq([issuer, serial]), algorithm, contextTagged(0, attrs), seq([oid(OID.rsa), nul()]), octets(signature)]);
  const signedData = seq([integer(Buffer.from([1])), set([algorithm]), seq([oid(OID.data)]), contextTagged(0, [parseDer(certDer)]), set([signerInfo])]);
  return toDer(seq([oid(OID.signedData), contextTagged(0, [signedData])])).toString('base64');
}

/** The content of a CMS SignedData (a signed .mobileconfig), as the iPad reads it before checking the signature. */
export function signedContent(der: Buffer): string {
  const [, signedData] = children(parseDer(der), 2);
  const [, , encapsulated] = children(children(signedData, 1)[0], 3);
  const [, content] = children(encapsulated, 2);
  return bytesOf(children(content, 1)[0]).toString('utf8');
}

export async function newDeviceKey(): Promise<KeyObject> {
  return (await generateKeyPairAsync('rsa', { modulusLength: 2048 })).privateKey;
}

export class AppleDevice {
  readonly udid = randomUUID().toUpperCase();
  readonly serial = `DMP${randomBytes(5).toString('hex').toUpperCase()}`;
  readonly token = randomBytes(32);
  readonly pushMagic = randomUUID();
  /** RequestTypes answered NotNow (once each, unless `alwaysNotNow`). */
  readonly notNow = new Set<string>();
  alwaysNotNow = false;
  /** RequestTypes answered Error. */
  readonly failing = new Set<string>();
  readonly executed: CommandPlist[] = [];
  readonly apps = [
    { Identifier: 'com.apple.mobilesafari', Name: 'Safari', ShortVersion: '18.1' },
    { Identifier: 'fr.ecole.lecture', Name: 'Lecture CP', ShortVersion: '2.3.0' },
  ];
  /** Profiles installed by InstallProfile, by PayloadIdentifier. */
  readonly profiles = new Map<string, { PayloadIdentifier: string; PayloadDisplayName: string; PayloadUUID: string }>();
  /** What the App Store would install for a store id (the simulator has no store). */
  readonly store = new Map<number, { Identifier: string; Name: string; ShortVersion: string }>();
  supervised = true;
  locked = false;
  wiped = false;

  constructor(
    private readonly transport: Transport,
    readonly certPem: string,
    private readonly key: KeyObject,
    readonly topic: string,
  ) {}

  headers(body: Buffer, contentType: string): Record<string, string> {
    return { 'content-type': contentType, 'mdm-signature': signDetached(body, this.certPem, this.key) };
  }

  async checkin(message: Record<string, unknown>): Promise<{ status: number; body: string }> {
    const body = Buffer.from(plist.build(message as plist.PlistObject));
    return this.transport('PUT', '/apple/checkin', body, this.headers(body, 'application/x-apple-aspen-mdm-checkin'));
  }

  authenticate() {
    return this.checkin({ MessageType: 'Authenticate', Topic: this.topic, UDID: this.udid, SerialNumber: this.serial, OSVersion: '18.1', BuildVersion: '22B83', ProductName: 'iPad13,18', Model: 'MPQ03NF', DeviceName: 'iPad de la classe' });
  }

  tokenUpdate() {
    return this.checkin({ MessageType: 'TokenUpdate', Topic: this.topic, UDID: this.udid, Token: this.token, PushMagic: this.pushMagic, UnlockToken: randomBytes(64), AwaitingConfiguration: false });
  }

  checkOut() {
    return this.checkin({ MessageType: 'CheckOut', Topic: this.topic, UDID: this.udid });
  }

  async report(message: Record<string, unknown>): Promise<{ status: number; body: string }> {
    const body = Buffer.from(plist.build({ UDID: this.udid, ...message } as plist.PlistObject));
    return this.transport('PUT', '/apple/mdm', body, this.headers(body, 'application/x-apple-aspen-mdm'));
  }

  /** What an iPad answers to a command. */
  answer(command: CommandPlist): Record<string, unknown> {
    const type = command.Command.RequestType;
    const base = { CommandUUID: command.CommandUUID };
    if (this.alwaysNotNow || this.notNow.has(type)) {
      if (!this.alwaysNotNow) this.notNow.delete(type);
      return { ...base, Status: 'NotNow' };
    }
    if (this.failing.has(type)) {
      return { ...base, Status: 'Error', ErrorChain: [{ ErrorCode: 12021, ErrorDomain: 'MCMDMErrorDomain', LocalizedDescription: 'Commande inconnue', USEnglishDescription: 'Unknown command' }] };
    }
    this.executed.push(command);
    switch (type) {
      case 'DeviceInformation':
        return {
          ...base,
          Status: 'Acknowledged',
          QueryResponses: {
            UDID: this.udid,
            DeviceName: 'iPad de la classe',
            OSVersion: '18.1',
            BuildVersion: '22B83',
            ModelName: 'iPad',
            Model: 'MPQ03NF',
            ProductName: 'iPad13,18',
            SerialNumber: this.serial,
            DeviceCapacity: 64,
            AvailableDeviceCapacity: 40.5,
            BatteryLevel: 0.82,
            IsSupervised: this.supervised,
            WiFiMAC: 'a4:83:e7:00:00:01',
          },
        };
      case 'InstalledApplicationList':
        return { ...base, Status: 'Acknowledged', InstalledApplicationList: this.apps };
      case 'ProfileList':
        return { ...base, Status: 'Acknowledged', ProfileList: [...this.profiles.values()] };
      case 'InstallProfile': {
        const profile = plist.parse(signedContent(command.Command.Payload as Buffer)) as Record<string, string>;
        this.profiles.set(profile.PayloadIdentifier!, { PayloadIdentifier: profile.PayloadIdentifier!, PayloadDisplayName: profile.PayloadDisplayName!, PayloadUUID: profile.PayloadUUID! });
        return { ...base, Status: 'Acknowledged' };
      }
      case 'RemoveProfile':
        this.profiles.delete(String(command.Command.Identifier));
        return { ...base, Status: 'Acknowledged' };
      case 'InstallApplication': {
        const manifest = command.Command.ManifestURL;
        const app = typeof manifest === 'string' ? { Identifier: new URL(manifest).pathname.split('/').pop()!.replace(/\.plist$/, ''), Name: 'In-house', ShortVersion: '1.0' } : this.store.get(Number(command.Command.iTunesStoreID));
        if (!app) return { ...base, Status: 'Error', ErrorChain: [{ ErrorCode: 12024, ErrorDomain: 'MCMDMErrorDomain', USEnglishDescription: 'The app could not be found in the store' }] };
        this.apps.push(app);
        return { ...base, Status: 'Acknowledged', Identifier: app.Identifier, State: 'Installing' };
      }
      case 'RemoveApplication': {
        const at = this.apps.findIndex((a) => a.Identifier === command.Command.Identifier);
        if (at >= 0) this.apps.splice(at, 1);
        return { ...base, Status: 'Acknowledged' };
      }
      case 'DeviceLock':
        this.locked = true;
        return { ...base, Status: 'Acknowledged' };
      case 'EraseDevice':
        this.wiped = true;
        return { ...base, Status: 'Acknowledged' };
      case 'DeviceLocation':
        return { ...base, Status: 'Acknowledged', Latitude: 48.8566, Longitude: 2.3522, HorizontalAccuracy: 25 };
      default:
        return { ...base, Status: 'Acknowledged' };
    }
  }

  /** One connection: Idle, then every command the server hands out, until it answers an empty body. */
  async connect(): Promise<number[]> {
    const statuses: number[] = [];
    let reply = await this.report({ Status: 'Idle' });
    statuses.push(reply.status);
    for (let i = 0; i < 50 && reply.status === 200 && reply.body.length > 0; i++) {
      const command = plist.parse(reply.body) as unknown as CommandPlist;
      reply = await this.report(this.answer(command));
      statuses.push(reply.status);
    }
    return statuses;
  }
}
