package fr.cartable.agent.desktop;

import fr.cartable.agent.core.Command;
import fr.cartable.agent.core.Json;
import fr.cartable.agent.core.Outcome;
import fr.cartable.agent.core.Platform;
import fr.cartable.agent.core.Times;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.json.JSONArray;
import org.json.JSONObject;

/**
 * A tablet as the desktop can fake it: fixed facts, and commands that are recorded instead of
 * done. Everything it sees is printed as one JSON line on stdout for the test to read.
 */
final class DesktopPlatform implements Platform {
    private final List<String> capabilities;
    private final String bootId;
    private final long holdMs;

    /** holdMs: how long a message command takes, so that a test can act while it runs. */
    DesktopPlatform(List<String> capabilities, String bootId, long holdMs) {
        this.capabilities = capabilities;
        this.bootId = bootId;
        this.holdMs = holdMs;
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
    public JSONObject apps() {
        JSONArray apps = new JSONArray();
        apps.put(Json.object("packageName", "fr.cartable.agent", "versionName", versionName(), "versionCode", versionCode(), "system", false));
        apps.put(Json.object("packageName", "org.example.lecture", "versionName", "2.3", "versionCode", 23, "system", false, "label", "Lecture"));
        return Json.object("full", true, "apps", apps);
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
        return Outcome.succeeded();
    }

    @Override
    public JSONArray applyPolicy(int version, JSONObject policy) {
        emit(Json.object("event", "policy", "version", version, "policy", policy));
        return new JSONArray();
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
        return new ArrayList<String>(Arrays.asList(csv.split(",")));
    }
}
