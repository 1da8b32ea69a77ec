package fr.cartable.agent.desktop;

import fr.cartable.agent.core.AppInstall;
import fr.cartable.agent.core.Command;
import fr.cartable.agent.core.Json;
import fr.cartable.agent.core.Outcome;
import fr.cartable.agent.core.Platform;
import fr.cartable.agent.core.Times;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.json.JSONArray;
import org.json.JSONObject;

/**
 * A tablet as the desktop can fake it: fixed facts, and commands that are recorded instead of
 * done. Everything it sees is printed as one JSON line on stdout for the test to read. Apps
 * installed or removed by commands change its app list for as long as the process lives.
 */
final class DesktopPlatform implements Platform {
    private final List<String> capabilities;
    private final String bootId;
    private final long holdMs;
    private final File cacheDir;
    private final List<String> failingPolicyFields;
    /** The apps by package name, the agent first. */
    private final Map<String, JSONObject> apps = new LinkedHashMap<String, JSONObject>();

    /**
     * holdMs: how long a message command takes, so that a test can act while it runs;
     * failingPolicyFields: the policy fields this tablet cannot apply, reported as API_LEVEL.
     */
    DesktopPlatform(List<String> capabilities, String bootId, long holdMs, File cacheDir, List<String> failingPolicyFields) {
        this.capabilities = capabilities;
        this.bootId = bootId;
        this.holdMs = holdMs;
        this.cacheDir = cacheDir;
        this.failingPolicyFields = failingPolicyFields;
        apps.put(packageName(), Json.object("packageName", packageName(), "versionName", versionName(), "versionCode", versionCode(), "system", false));
        apps.put("org.example.lecture", Json.object("packageName", "org.example.lecture", "versionName", "2.3", "versionCode", 23, "system", false, "label", "Lecture"));
    }

    static synchronized void emit(JSONObject line) {
        System.out.println(line.toString());
        System.out.flush();
    }

    @Override
    public String packageName() {
        return "fr.cartable.agent";
    }

    @Override
    public String versionName() {
        return "1.1.0";
    }

    @Override
    public int versionCode() {
        return 10100;
    }

    @Override
    public List<String> capabilities() {
        return capabilities;
    }

    @Override
    public String bootId() {
        return bootId;
    }

    @Override
    public JSONObject hardware() {
        return Json.object("serial", "JVM-" + Integer.toHexString(System.identityHashCode(this)) + Long.toHexString(System.nanoTime()), "manufacturer", "OpenJDK",
                "model", "Desktop JVM", "brand", "cartable", "androidVersion", "7.0", "sdkInt", 24, "totalStorageBytes", 32000000000L, "totalRamBytes", 3000000000L);
    }

    @Override
    public JSONObject inventory() {
        JSONObject hardware = hardware();
        hardware.remove("totalStorageBytes");
        return Json.object("hardware", hardware,
                "software", Json.object("androidVersion", "7.0", "sdkInt", 24, "securityPatch", "2026-11-01", "agentVersionName", versionName(), "agentVersionCode", versionCode()),
                "storage", Json.object("totalBytes", 32000000000L, "freeBytes", 20000000000L), "memory", Json.object("totalBytes", 3000000000L),
                "network", Json.object("ipAddresses", new JSONArray().put("127.0.0.1")), "management", Json.object("deviceOwner", true, "kioskActive", false));
    }

    @Override
    public synchronized JSONObject apps() {
        JSONArray list = new JSONArray();
        for (JSONObject app : this.apps.values()) list.put(app);
        return Json.object("full", true, "apps", list);
    }

    @Override
    public JSONObject status() {
        return Json.object("batteryLevel", 81, "charging", "usb", "storageFreeBytes", 20000000000L, "screenOn", true);
    }

    @Override
    public JSONObject locate() {
        emit(Json.object("event", "located"));
        return Json.object("lat", 45.1885, "lon", 5.7245, "accuracyM", 12.5, "provider", "fused", "fixTime", Times.format(System.currentTimeMillis()));
    }

    @Override
    public Outcome execute(Command command) {
        emit(Json.object("event", "executed", "kind", command.kind, "commandId", command.commandId, "params", command.params));
        if (command.kind.equals("message") && holdMs > 0) {
            try {
                Thread.sleep(holdMs);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            emit(Json.object("event", "done", "commandId", command.commandId));
        }
        if (command.destructive()) return Outcome.executing();
        if (command.kind.equals("remove_app")) return remove(command.params.optString("packageName"));
        return Outcome.succeeded();
    }

    private synchronized Outcome remove(String packageName) {
        if (packageName.equals(packageName())) return Outcome.failed("INVALID_VALUE", "The agent does not remove itself.");
        apps.remove(packageName);
        return Outcome.succeeded();
    }

    @Override
    public File cacheDir() {
        return cacheDir;
    }

    /** Takes the archive's identity from the params (reading an APK is PackageManager's job): records the file it was given. */
    @Override
    public synchronized Outcome installPackage(JSONObject params, File apk) {
        String packageName = params.optString("packageName");
        int versionCode = params.optInt("versionCode");
        emit(Json.object("event", "installed", "packageName", packageName, "versionCode", versionCode, "sizeBytes", apk.length(), "sha256", AppInstall.sha256Hex(read(apk))));
        apps.put(packageName, Json.object("packageName", packageName, "versionName", String.valueOf(versionCode), "versionCode", versionCode, "system", false, "installer", packageName()));
        return Outcome.succeeded(Json.object("versionCode", versionCode));
    }

    private static byte[] read(File f) {
        try {
            return SoftwareKeys.read(f);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public JSONArray applyPolicy(int version, JSONObject policy) {
        emit(Json.object("event", "policy", "version", version, "policy", policy));
        JSONArray nonCompliance = new JSONArray();
        for (String field : failingPolicyFields) {
            if (policy.has(field)) nonCompliance.put(Json.object("fieldPath", "/" + field, "reason", "API_LEVEL"));
        }
        return nonCompliance;
    }

    @Override
    public void onState(String state, String detail) {
        emit(Json.object("event", "state", "state", state, "detail", detail == null ? JSONObject.NULL : detail));
    }

    @Override
    public void log(String message) {
        emit(Json.object("event", "log", "message", message));
    }

    static List<String> list(String csv) {
        return csv.isEmpty() ? new ArrayList<String>() : new ArrayList<String>(Arrays.asList(csv.split(",")));
    }
}
