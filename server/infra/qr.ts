import QRCode from 'qrcode';

/** Error correction M: a provisioning payload is a few hundred bytes and must stay scannable from paper. */
export async function renderQr(text: string, format: 'png' | 'svg'): Promise<Buffer | string> {
  if (format === 'svg') return QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 4 });
  return QRCode.toBuffer(text, { type: 'png', errorCorrectionLevel: 'M', margin: 4, scale: 6 });
}
