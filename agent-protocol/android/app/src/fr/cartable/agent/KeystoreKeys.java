package fr.cartable.agent;

import android.security.keystore.KeyGenParameterSpec;
import android.security.keystore.KeyProperties;
import android.util.Log;
import fr.cartable.agent.core.DeviceKey;
import fr.cartable.agent.core.DeviceKeys;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;

/**
 * The device keys: EC P-256 in the Android Keystore, never exportable, one per certificate
 * (renewal rotates them, protocol §20). No user authentication or unlocked-device
 * requirement, so they work before the first unlock (§25).
 */
final class KeystoreKeys implements DeviceKeys {
    private static final String PROVIDER = "AndroidKeyStore";

    private static KeyStore keyStore() throws GeneralSecurityException {
        try {
            KeyStore ks = KeyStore.getInstance(PROVIDER);
            ks.load(null);
            return ks;
        } catch (IOException e) {
            throw new GeneralSecurityException(e);
        }
    }

    @Override
    public synchronized DeviceKey key(final String alias) throws GeneralSecurityException {
        if (!keyStore().containsAlias(alias)) {
            KeyPairGenerator generator = KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_EC, PROVIDER);
            generator.initialize(new KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_SIGN)
                    .setAlgorithmParameterSpec(new ECGenParameterSpec("secp256r1"))
                    .setDigests(KeyProperties.DIGEST_SHA256)
                    .build());
            generator.generateKeyPair();
        }
        return new DeviceKey() {
            @Override
            public PublicKey publicKey() throws GeneralSecurityException {
                return keyStore().getCertificate(alias).getPublicKey();
            }

            @Override
            public byte[] sign(byte[] data) throws GeneralSecurityException {
                Signature s = Signature.getInstance("SHA256withECDSA");
                s.initSign((PrivateKey) keyStore().getKey(alias, null));
                s.update(data);
                return s.sign();
            }
        };
    }

    @Override
    public synchronized void delete(String alias) {
        try {
            keyStore().deleteEntry(alias);
        } catch (GeneralSecurityException e) {
            Log.w(Compat.TAG, "cannot delete key " + alias + ": " + e);
        }
    }
}
