import { createSecureServer, type Http2SecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import forge from 'node-forge';

/** A push APNs received: the device token from the path, the JSON body, and who sent it. */
export interface RecordedPush {
  tokenHex: string;
  body: Record<string, unknown>;
  topic: string | undefined;
  /** The subject of the TLS client certificate: the MDM push certificate. */
  clientSubject: string | null;
}

const UID = '0.9.2342.19200300.100.1.1';

function selfSigned(attrs: forge.pki.CertificateField[], extensions: object[], keys = forge.pki.rsa.generateKeyPair(2048)) {
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(8))}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 24 * 3600 * 1000);
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions(extensions);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

/** Apple's part in a push certificate: signs the CSR Cartable generated, naming the topic in the subject's UID. */
export function signPushCsr(csrPem: string, topic: string, validDays = 365): string {
  const csr = forge.pki.certificationRequestFromPem(csrPem);
  const issuerKeys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = csr.publicKey!;
  cert.serialNumber = `02${forge.util.bytesToHex(forge.random.getBytesSync(8))}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + validDays * 24 * 3600 * 1000);
  cert.setSubject([{ type: UID, value: topic } as forge.pki.CertificateField, { name: 'commonName', value: `APSP:${topic.split('.').pop()}` }]);
  cert.setIssuer([{ name: 'commonName', value: 'Apple Application Integration 2 Certification Authority (test)' }]);
  cert.sign(issuerKeys.privateKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/**
 * A local HTTP/2 TLS server standing in for APNs: it records pushes, answers 410 for tokens
 * declared gone, and tells listeners (simulated iPads) they were woken.
 */
export class FakeApns {
  readonly pushes: RecordedPush[] = [];
  readonly gone = new Set<string>();
  private readonly listeners = new Map<string, () => void>();
  private server!: Http2SecureServer;
  readonly tls = selfSigned([{ name: 'commonName', value: '127.0.0.1' }], [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }]);
  url = '';

  async start(): Promise<void> {
    this.server = createSecureServer({ key: this.tls.keyPem, cert: this.tls.certPem, requestCert: true, rejectUnauthorized: false }, (request, response) => {
      const match = /^\/3\/device\/([0-9a-f]+)$/.exec(request.url);
      let raw = '';
      request.setEncoding('utf8');
      request.on('data', (c: string) => (raw += c));
      request.on('end', () => {
        if (request.method !== 'POST' || !match) {
          response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ reason: 'BadPath' }));
          return;
        }
        const peer = (request.socket as TLSSocket).getPeerCertificate?.();
        const tokenHex = match[1]!;
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          /* recorded as empty */
        }
        this.pushes.push({ tokenHex, body, topic: request.headers['apns-topic'] as string | undefined, clientSubject: peer && peer.subject ? JSON.stringify(peer.subject) : null });
        if (this.gone.has(tokenHex)) {
          response.writeHead(410, { 'content-type': 'application/json' }).end(JSON.stringify({ reason: 'Unregistered', timestamp: Date.now() }));
          return;
        }
        response.writeHead(200, { 'apns-id': crypto.randomUUID() }).end();
        const listener = this.listeners.get(tokenHex);
        if (listener) setImmediate(listener);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The simulated iPad with this token wakes up when pushed. */
  onPush(tokenHex: string, wake: () => void): void {
    this.listeners.set(tokenHex, wake);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
