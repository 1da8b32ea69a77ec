package fr.cartable.agent;

import android.security.keystore.KeyGenParameterSpec;
import android.security.keystore.KeyProperties;
import fr.cartable.agent.core.DeviceKey;
import java.security.GeneralSecurityException;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;

/**
 * The device key: EC P-256 in the Android Keystore, never exportable, made once and reused for
 * enrollment retries (protocol §7.1). No user authentication or unlocked-device requirement, so
 * it works before the first unlock (§25).
 */
final class KeystoreKey implements DeviceKey {
    private static final String ALIAS = "cartable-device";
    private static final String PROVIDER = "AndroidKeyStore";

    private KeyStore keyStore() throws GeneralSecurityException {
        try {
            KeyStore ks = KeyStore.getInstance(PROVIDER);
            ks.load(null);
            return ks;
        } catch (java.io.IOException e) {
            throw new GeneralSecurityException(e);
        }
    }

    private synchronized void ensure() throws GeneralSecurityException {
        if (keyStore().containsAlias(ALIAS)) return;
        KeyPairGenerator generator = KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_EC, PROVIDER);
        generator.initialize(new KeyGenParameterSpec.Builder(ALIAS, KeyProperties.PURPOSE_SIGN)
                .setAlgorithmParameterSpec(new ECGenParameterSpec("secp256r1"))
                .setDigests(KeyProperties.DIGEST_SHA256)
                .build());
        generator.generateKeyPair();
    }

    @Override
    public PublicKey publicKey() throws GeneralSecurityException {
        ensure();
        return keyStore().getCertificate(ALIAS).getPublicKey();
    }

    @Override
    public byte[] sign(byte[] data) throws GeneralSecurityException {
        ensure();
        Signature s = Signature.getInstance("SHA256withECDSA");
        s.initSign((PrivateKey) keyStore().getKey(ALIAS, null));
        s.update(data);
        return s.sign();
    }
}
