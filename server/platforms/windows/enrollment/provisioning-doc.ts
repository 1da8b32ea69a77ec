import { X509Certificate } from 'node:crypto';
import { buildXml, el, type XNode } from '../xml';

/** The DMClient provider Cartable registers as: APPLICATION/PROVIDER-ID and DMClient/Provider must agree. */
export const PROVIDER_ID = 'Cartable';

/**
 * The poll schedule: every 3 minutes for the first half hour after enrollment (the first
 * inventory and profiles arrive quickly), every 15 minutes for the next hours, then at the
 * configured interval, and at each sign-in.
 */
export interface PollSchedule {
  firstIntervalMin: number;
  firstRetries: number;
  secondIntervalMin: number;
  secondRetries: number;
  remainingIntervalMin: number;
}

export interface ProvisioningInput {
  caCertPem: string;
  certificatePem: string;
  /** System for a device enrollment, User when Windows enrolled for the signed-in user. */
  store: 'System' | 'User';
  managementUrl: string;
  deviceId: string;
  digestUser: string;
  digestSecret: string;
  poll: PollSchedule;
}

const thumbprint = (pem: string) => new X509Certificate(pem).fingerprint.replaceAll(':', '').toUpperCase();
const der64 = (pem: string) => new X509Certificate(pem).raw.toString('base64');

const parm = (name: string, value?: string, datatype?: 'integer' | 'boolean' | 'string'): XNode =>
  el('parm', [], { name, ...(value === undefined ? {} : { value }), ...(datatype ? { datatype } : {}) });
const characteristic = (type: string, children: XNode[]) => el('characteristic', children, { type });

/**
 * The wap-provisioningdoc of the enrollment answer (MS-MDE2 §3.4.5.1.2.1): our CA trusted
 * machine-wide, the device's certificate, the DM account with its management address and MD5
 * digest credentials, and the poll schedule. Compact XML: it travels base64-encoded.
 */
export function provisioningDoc(input: ProvisioningInput): string {
  const { poll } = input;
  const doc = el(
    'wap-provisioningdoc',
    [
      characteristic('CertificateStore', [
        characteristic('Root', [characteristic('System', [characteristic(thumbprint(input.caCertPem), [parm('EncodedCertificate', der64(input.caCertPem))])])]),
        characteristic('My', [
          characteristic(input.store, [characteristic(thumbprint(input.certificatePem), [parm('EncodedCertificate', der64(input.certificatePem))]), characteristic('PrivateKeyContainer', [])]),
          characteristic('WSTEP', [characteristic('Renew', [parm('ROBOSupport', 'true', 'boolean'), parm('RenewPeriod', '60', 'integer'), parm('RetryInterval', '4', 'integer')])]),
        ]),
      ]),
      characteristic('APPLICATION', [
        parm('APPID', 'w7'),
        parm('PROVIDER-ID', PROVIDER_ID),
        parm('NAME', 'Cartable'),
        parm('ADDR', input.managementUrl),
        parm('CONNRETRYFREQ', '6'),
        parm('INITIALBACKOFFTIME', '30000'),
        parm('MAXBACKOFFTIME', '120000'),
        parm('BACKCOMPATRETRYDISABLED'),
        parm('DEFAULTENCODING', 'application/vnd.syncml.dm+xml'),
        parm('SSLCLIENTCERTSEARCHCRITERIA', `Subject=CN%3d${input.deviceId}&Stores=My%5C${input.store}`),
        characteristic('APPAUTH', [parm('AAUTHLEVEL', 'CLIENT'), parm('AAUTHTYPE', 'DIGEST'), parm('AAUTHSECRET', input.digestSecret), parm('AAUTHDATA', Buffer.from(input.deviceId).toString('base64'))]),
        characteristic('APPAUTH', [parm('AAUTHLEVEL', 'APPSRV'), parm('AAUTHTYPE', 'DIGEST'), parm('AAUTHNAME', input.digestUser), parm('AAUTHSECRET', input.digestSecret), parm('AAUTHDATA', Buffer.from('nonce').toString('base64'))]),
      ]),
      characteristic('DMClient', [
        characteristic('Provider', [
          characteristic(PROVIDER_ID, [
            parm('EntDMID', input.deviceId, 'string'),
            characteristic('Poll', [
              parm('NumberOfFirstRetries', String(poll.firstRetries), 'integer'),
              parm('IntervalForFirstSetOfRetries', String(poll.firstIntervalMin), 'integer'),
              parm('NumberOfSecondRetries', String(poll.secondRetries), 'integer'),
              parm('IntervalForSecondSetOfRetries', String(poll.secondIntervalMin), 'integer'),
              parm('NumberOfRemainingScheduledRetries', '0', 'integer'),
              parm('IntervalForRemainingScheduledRetries', String(poll.remainingIntervalMin), 'integer'),
              parm('PollOnLogin', 'true', 'boolean'),
              parm('AllUsersPollOnFirstLogin', 'true', 'boolean'),
            ]),
          ]),
        ]),
      ]),
    ],
    { version: '1.1' },
  );
  return buildXml([doc]);
}
