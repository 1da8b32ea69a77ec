package fr.cartable.agent.desktop;

import fr.cartable.agent.core.DeviceKey;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;

/** An EC P-256 key in files, standing in for the Android Keystore on the desktop. */
final class SoftwareKey implements DeviceKey {
    private final PrivateKey privateKey;
    private final PublicKey publicKey;

    SoftwareKey(File folder) throws IOException, GeneralSecurityException {
        File priv = new File(folder, "device-key.pk8");
        File pub = new File(folder, "device-key.spki");
        KeyFactory factory = KeyFactory.getInstance("EC");
        if (!priv.exists()) {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair pair = generator.generateKeyPair();
            write(priv, pair.getPrivate().getEncoded());
            write(pub, pair.getPublic().getEncoded());
        }
        privateKey = factory.generatePrivate(new PKCS8EncodedKeySpec(read(priv)));
        publicKey = factory.generatePublic(new X509EncodedKeySpec(read(pub)));
    }

    @Override
    public PublicKey publicKey() {
        return publicKey;
    }

    @Override
    public byte[] sign(byte[] data) throws GeneralSecurityException {
        Signature s = Signature.getInstance("SHA256withECDSA");
        s.initSign(privateKey);
        s.update(data);
        return s.sign();
    }

    private static void write(File f, byte[] data) throws IOException {
        FileOutputStream out = new FileOutputStream(f);
        try {
            out.write(data);
        } finally {
            out.close();
        }
    }

    private static byte[] read(File f) throws IOException {
        RandomAccessFile in = new RandomAccessFile(f, "r");
        try {
            byte[] data = new byte[(int) in.length()];
            in.readFully(data);
            return data;
        } finally {
            in.close();
        }
    }
}
