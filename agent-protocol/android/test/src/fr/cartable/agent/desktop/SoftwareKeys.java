package fr.cartable.agent.desktop;

import fr.cartable.agent.core.DeviceKey;
import fr.cartable.agent.core.DeviceKeys;
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

/** EC P-256 keys in files, one pair per alias, standing in for the Android Keystore on the desktop. */
final class SoftwareKeys implements DeviceKeys {
    private final File folder;

    SoftwareKeys(File folder) {
        this.folder = folder;
    }

    @Override
    public synchronized DeviceKey key(String alias) throws GeneralSecurityException {
        File priv = new File(folder, alias + ".pk8");
        File pub = new File(folder, alias + ".spki");
        try {
            if (!priv.exists()) {
                KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
                generator.initialize(new ECGenParameterSpec("secp256r1"));
                KeyPair pair = generator.generateKeyPair();
                write(pub, pair.getPublic().getEncoded());
                write(priv, pair.getPrivate().getEncoded());
            }
            KeyFactory factory = KeyFactory.getInstance("EC");
            final PrivateKey privateKey = factory.generatePrivate(new PKCS8EncodedKeySpec(read(priv)));
            final PublicKey publicKey = factory.generatePublic(new X509EncodedKeySpec(read(pub)));
            return new DeviceKey() {
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
            };
        } catch (IOException e) {
            throw new GeneralSecurityException(e);
        }
    }

    @Override
    public synchronized void delete(String alias) {
        new File(folder, alias + ".pk8").delete();
        new File(folder, alias + ".spki").delete();
        DesktopPlatform.emit(fr.cartable.agent.core.Json.object("event", "key-deleted", "alias", alias));
    }

    private static void write(File f, byte[] data) throws IOException {
        FileOutputStream out = new FileOutputStream(f);
        try {
            out.write(data);
        } finally {
            out.close();
        }
    }

    static byte[] read(File f) throws IOException {
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
