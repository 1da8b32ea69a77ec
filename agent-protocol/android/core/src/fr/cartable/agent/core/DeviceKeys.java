package fr.cartable.agent.core;

import java.security.GeneralSecurityException;

/**
 * The device's key pairs by alias: the Android Keystore on a tablet, files on the desktop.
 * Renewal rotates the key (§20.2), so there may be two for a while.
 */
public interface DeviceKeys {
    /** The key under this alias, generated (EC P-256) if there is none yet. */
    DeviceKey key(String alias) throws GeneralSecurityException;

    void delete(String alias);
}
