import { CsrError, parseCsr } from '../../../infra/pki';
import { fromPem, toPem } from '../../../infra/pki/der';
import type { Logger } from '../../../infra/logger';
import type { AppleEnrollmentService } from '../../../modules/apple-enrollment/apple-enrollment.service';
import type { PkiStore } from '../../../modules/pki-store/pki-store.service';
import { buildCertRep, type CertRepOutcome } from './cert-rep';
import { openEnvelope, readPkiMessage, ScepMessageError } from './pki-message';
import { MESSAGE_TYPE } from './scep-oids';

/**
 * The SCEP responder (RFC 8894): decodes a PKCSReq, has the enrollment service decide on the
 * challenge and issue the identity, and encodes the CertRep. A message it cannot use throws
 * ScepMessageError (an HTTP 400); a well-formed request that is refused gets a CertRep FAILURE.
 */

/** RFC 8894 §3.5.2. No Renewal: an iPad gets a new identity by being sent a new enrollment profile. */
export const CA_CAPABILITIES = ['POSTPKIOperation', 'SHA-256', 'AES', 'SCEPStandard'] as const;

export interface ScepResponderDeps {
  enrollment: AppleEnrollmentService;
  pki: PkiStore;
  log: Logger;
}

export interface PkiOperationResult {
  /** The DER CertRep. */
  body: Buffer;
  outcome: 'issued' | 'reissued' | 'refused';
}

export function createScepResponder(deps: ScepResponderDeps) {
  const { enrollment, pki, log } = deps;

  return {
    caCaps: (): string => CA_CAPABILITIES.join('\n'),

    caCertDer: (): Buffer => pki.caCertDer(),

    async pkiOperation(message: Buffer, sourceIp: string | null): Promise<PkiOperationResult> {
      const request = await readPkiMessage(message);
      if (request.messageType !== MESSAGE_TYPE.PKCSReq) throw new ScepMessageError(`unsupported messageType ${request.messageType}: only PKCSReq (19) is served`);
      const opened = openEnvelope(request.envelope, (key) => pki.decryptWithCaKey(key));

      let outcome: CertRepOutcome;
      let result: PkiOperationResult['outcome'];
      try {
        // SHA-1 allowed here only: SCEP clients of some vintages still sign their CSR with it.
        const csr = parseCsr(toPem('CERTIFICATE REQUEST', opened.content), { allowSha1: true });
        const decision = await enrollment.issueIdentity({
          publicKeyDer: csr.publicKeyDer,
          keyType: csr.keyType,
          challenge: csr.challengePassword,
          label: csr.subject.CN ?? null,
          sourceIp,
          transactionId: request.transactionId,
        });
        if (decision.outcome === 'refused') {
          log.warn({ transactionId: request.transactionId, reason: decision.reason, ip: sourceIp }, 'SCEP request refused');
          outcome = { status: 'failure', failInfo: 'badRequest' };
        } else {
          log.info({ transactionId: request.transactionId, outcome: decision.outcome, deviceId: decision.deviceId }, 'SCEP identity certificate issued');
          outcome = { status: 'success', certDer: fromPem('CERTIFICATE', decision.certPem), contentEncryptionOid: opened.contentEncryptionOid };
        }
        result = decision.outcome;
      } catch (error) {
        if (!(error instanceof CsrError)) throw error;
        if (error.reason !== 'unsupported_key') throw new ScepMessageError(`the certification request is unusable: ${error.message}`);
        log.warn({ transactionId: request.transactionId, reason: error.message, ip: sourceIp }, 'SCEP request refused');
        outcome = { status: 'failure', failInfo: 'badAlg' };
        result = 'refused';
      }
      return { body: buildCertRep(request, outcome, { caCertDer: pki.caCertDer(), sign: (data) => pki.sign(data) }), outcome: result };
    },
  };
}
export type ScepResponder = ReturnType<typeof createScepResponder>;
