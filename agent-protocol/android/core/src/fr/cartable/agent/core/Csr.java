package fr.cartable.agent.core;

import java.io.ByteArrayOutputStream;
import java.nio.charset.Charset;
import java.security.GeneralSecurityException;
import java.security.PublicKey;

/**
 * A PKCS#10 certificate signing request (RFC 2986) built with the device key, in plain Java:
 * the platform key never leaves the Keystore, only its signature is needed. The subject is
 * ignored by the server (protocol §7.1).
 */
public final class Csr {
    private static final byte[] OID_COMMON_NAME = {0x06, 0x03, 0x55, 0x04, 0x03};
    private static final byte[] OID_ECDSA_SHA256 = {0x06, 0x08, 0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x04, 0x03, 0x02};
    private static final byte[] OID_RSA_SHA256 = {0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x01, 0x0b};
    private static final byte[] DER_NULL = {0x05, 0x00};

    private Csr() {}

    public static String pem(DeviceKey key, String commonName) throws GeneralSecurityException {
        PublicKey publicKey = key.publicKey();
        byte[] subject = der(0x30, der(0x31, der(0x30, OID_COMMON_NAME, der(0x0c, commonName.getBytes(Charset.forName("UTF-8"))))));
        byte[] info = der(0x30, new byte[] {0x02, 0x01, 0x00}, subject, publicKey.getEncoded(), new byte[] {(byte) 0xa0, 0x00});
        boolean rsa = "RSA".equals(publicKey.getAlgorithm());
        byte[] algorithm = rsa ? der(0x30, OID_RSA_SHA256, DER_NULL) : der(0x30, OID_ECDSA_SHA256);
        byte[] signature = key.sign(info);
        byte[] bitString = new byte[signature.length + 1];
        System.arraycopy(signature, 0, bitString, 1, signature.length);
        byte[] request = der(0x30, info, algorithm, der(0x03, bitString));
        return pemBlock("CERTIFICATE REQUEST", request);
    }

    static String pemBlock(String label, byte[] der) {
        String b64 = Base64.encode(der);
        StringBuilder out = new StringBuilder("-----BEGIN ").append(label).append("-----\n");
        for (int i = 0; i < b64.length(); i += 64) out.append(b64, i, Math.min(b64.length(), i + 64)).append('\n');
        return out.append("-----END ").append(label).append("-----\n").toString();
    }

    /** One DER element: tag, definite length, then the concatenated contents. */
    static byte[] der(int tag, byte[]... parts) {
        ByteArrayOutputStream content = new ByteArrayOutputStream();
        for (byte[] part : parts) content.write(part, 0, part.length);
        int length = content.size();
        ByteArrayOutputStream out = new ByteArrayOutputStream(length + 6);
        out.write(tag);
        if (length < 0x80) {
            out.write(length);
        } else {
            int bytes = length > 0xffffff ? 4 : length > 0xffff ? 3 : length > 0xff ? 2 : 1;
            out.write(0x80 | bytes);
            for (int i = bytes - 1; i >= 0; i--) out.write((length >> (8 * i)) & 0xff);
        }
        byte[] body = content.toByteArray();
        out.write(body, 0, body.length);
        return out.toByteArray();
    }
}
