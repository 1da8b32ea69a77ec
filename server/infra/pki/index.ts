/** Internal certificate authority: device identity certificates from agent CSRs (DESIGN.md §8). */
export { createCa, decryptKey, encryptKey, type CreateCaInput } from './ca';
export { createCsr, CsrError, parseCsr, type CsrFailure, type ParsedCsr } from './csr';
export { signCms, type CmsSigner } from './cms';
export { issueDeviceCertificate, issueDeviceCertificateOffLoop, issueSigningCertificate, type IssueDeviceCertificateInput, type IssuedCertificate } from './issue';
export type { KeyType } from './signature';
export {
  verifyChallengeSignature,
  verifyDeviceCertificate,
  type DeviceCertificateCheck,
  type DeviceCertificateFailure,
  type VerifyDeviceCertificateInput,
} from './verify';
