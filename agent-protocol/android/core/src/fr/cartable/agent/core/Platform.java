package fr.cartable.agent.core;

import java.io.File;
import java.util.List;
import org.json.JSONArray;
import org.json.JSONObject;

/**
 * What the protocol core needs from the device: facts for reports and the execution of
 * commands. Android implements it with DevicePolicyManager and friends; the desktop test
 * harness with a recording fake. Called from the agent's threads, never the UI thread.
 */
public interface Platform {
    String packageName();

    String versionName();

    int versionCode();

    /** The capabilities this device can honour now (§5): fewer when not device owner, for example. */
    List<String> capabilities();

    /** Changes at every boot (§11.2). */
    String bootId();

    /** The enrollment request's hardware object (§7.2). */
    JSONObject hardware();

    JSONObject inventory();

    JSONObject apps();

    JSONObject status();

    /**
     * One fresh location fix (lat, lon, accuracyM, provider, fixTime…), or null when none came
     * within about 60 s. Called only for locate and while lost mode is on (§12.5).
     */
    JSONObject locate();

    /**
     * Executes a command the agent has checked (capability announced, not expired, not
     * cancelled). For wipe, reboot and shutdown the server already holds "executing".
     * install_app comes to installPackage instead.
     */
    Outcome execute(Command command);

    /** A folder for files the agent may lose, such as an APK being installed. */
    File cacheDir();

    /**
     * Installs an APK the core has downloaded for install_app (§24.2), whose size and SHA-256
     * are those of the command's params: checks that the archive is the params' packageName,
     * versionCode and signer, then installs it. The core deletes the file afterwards.
     */
    Outcome installPackage(JSONObject params, File apk);

    /**
     * Applies a desired state (§27.3); returns what could not be applied, as non-compliance
     * entries {fieldPath, reason} (reason: API_LEVEL, MANAGEMENT_MODE, INVALID_VALUE, UNSUPPORTED,
     * APP_NOT_INSTALLED); empty when everything applied.
     */
    JSONArray applyPolicy(int version, JSONObject policy);

    /** The connection state changed: "enrolling", "connecting", "connected", "stopped". */
    void onState(String state, String detail);

    void log(String message);
}
