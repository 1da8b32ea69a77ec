package fr.cartable.agent.core;

import java.security.GeneralSecurityException;
import java.security.PublicKey;

/** The device's key pair: in the Android Keystore on a tablet, a software key on the desktop. */
public interface DeviceKey {
    PublicKey publicKey() throws GeneralSecurityException;

    /** SHA-256 signature with the private key (DER ECDSA-Sig-Value for EC, PKCS#1 v1.5 for RSA). */
    byte[] sign(byte[] data) throws GeneralSecurityException;
}
