package fr.cartable.agent;

import android.app.ActivityManager;
import android.app.admin.DevicePolicyManager;
import android.content.ComponentName;
import android.content.Context;
import android.content.Intent;
import android.content.IntentFilter;
import android.content.pm.ApplicationInfo;
import android.content.pm.PackageInfo;
import android.content.pm.PackageManager;
import android.net.wifi.WifiInfo;
import android.net.wifi.WifiManager;
import android.os.BatteryManager;
import android.os.Build;
import android.os.Environment;
import android.os.PowerManager;
import android.os.StatFs;
import android.os.SystemClock;
import android.util.Log;
import fr.cartable.agent.core.Command;
import fr.cartable.agent.core.Json;
import fr.cartable.agent.core.Outcome;
import fr.cartable.agent.core.Platform;
import java.io.BufferedReader;
import java.io.File;
import java.io.FileReader;
import java.io.IOException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.json.JSONArray;
import org.json.JSONObject;

/** The protocol core's view of an Android tablet, as device owner. */
final class AndroidPlatform implements Platform {
    private static final long LOCATE_TIMEOUT_MS = 60000;
    private final Context context;
    private final DevicePolicyManager dpm;
    private final ComponentName admin;
    private volatile AgentService service;

    AndroidPlatform(Context context) {
        this.context = context;
        this.dpm = (DevicePolicyManager) context.getSystemService(Context.DEVICE_POLICY_SERVICE);
        this.admin = new ComponentName(context, AdminReceiver.class);
        if (deviceOwner()) {
            // As device owner the agent grants itself location; it uses it only for locate and lost mode.
            for (String p : new String[] {"android.permission.ACCESS_FINE_LOCATION", "android.permission.ACCESS_COARSE_LOCATION", "android.permission.POST_NOTIFICATIONS"}) {
                dpm.setPermissionGrantState(admin, context.getPackageName(), p, DevicePolicyManager.PERMISSION_GRANT_STATE_GRANTED);
            }
        }
    }

    void setService(AgentService service) {
        this.service = service;
    }

    private boolean deviceOwner() {
        return dpm.isDeviceOwnerApp(context.getPackageName());
    }

    @Override
    public String packageName() {
        return context.getPackageName();
    }

    private PackageInfo self() {
        try {
            return context.getPackageManager().getPackageInfo(context.getPackageName(), 0);
        } catch (PackageManager.NameNotFoundException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String versionName() {
        return self().versionName;
    }

    @Override
    public int versionCode() {
        return self().versionCode;
    }

    /** What this tablet can do now: without device owner, only what a device admin may (§5). */
    @Override
    public List<String> capabilities() {
        List<String> caps = new ArrayList<String>();
        if (dpm.isAdminActive(admin)) caps.add("lock");
        if (deviceOwner()) {
            caps.add("wipe");
            if (Build.VERSION.SDK_INT >= 24) caps.add("reboot");
            caps.add("locate");
            caps.add("lost_mode");
            caps.add("lost_mode_sound");
            caps.add("install_app");
            caps.add("remove_app");
            caps.add("policy");
        }
        caps.add("message");
        caps.add("refresh_inventory");
        caps.add("refresh_apps");
        caps.add("report_request");
        return caps;
    }

    @Override
    public String bootId() {
        try {
            BufferedReader r = new BufferedReader(new FileReader("/proc/sys/kernel/random/boot_id"));
            try {
                return r.readLine().trim();
            } finally {
                r.close();
            }
        } catch (IOException e) {
            return "boot-" + (System.currentTimeMillis() - SystemClock.elapsedRealtime()) / 10000;
        }
    }

    private String serial() {
        if (Build.VERSION.SDK_INT >= 26) {
            Object s = Compat.call(Build.class, "getSerial", new Class<?>[0]);
            if (s instanceof String) return (String) s;
        }
        @SuppressWarnings("deprecation")
        String legacy = Build.SERIAL;
        return legacy == null || legacy.isEmpty() ? "unknown" : legacy;
    }

    @Override
    public JSONObject hardware() {
        return Json.object("serial", serial(), "manufacturer", Build.MANUFACTURER, "model", Build.MODEL, "brand", Build.BRAND,
                "androidVersion", Build.VERSION.RELEASE, "sdkInt", Build.VERSION.SDK_INT, "securityPatch", Build.VERSION.SECURITY_PATCH,
                "totalStorageBytes", storage(true), "totalRamBytes", memory().totalMem);
    }

    private long storage(boolean total) {
        StatFs fs = new StatFs(Environment.getDataDirectory().getPath());
        return total ? fs.getTotalBytes() : fs.getAvailableBytes();
    }

    private ActivityManager.MemoryInfo memory() {
        ActivityManager.MemoryInfo info = new ActivityManager.MemoryInfo();
        ((ActivityManager) context.getSystemService(Context.ACTIVITY_SERVICE)).getMemoryInfo(info);
        return info;
    }

    @Override
    public JSONObject inventory() {
        JSONObject hardware = hardware();
        hardware.remove("totalStorageBytes");
        JSONArray addresses = new JSONArray();
        try {
            for (NetworkInterface ni : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                for (InetAddress a : Collections.list(ni.getInetAddresses())) if (!a.isLoopbackAddress()) addresses.put(a.getHostAddress().replaceFirst("%.*$", ""));
            }
        } catch (IOException | RuntimeException ignored) {
            // No network interfaces readable: the list stays empty.
        }
        return Json.object("hardware", hardware,
                "software", Json.object("androidVersion", Build.VERSION.RELEASE, "sdkInt", Build.VERSION.SDK_INT, "securityPatch", Build.VERSION.SECURITY_PATCH,
                        "agentVersionName", versionName(), "agentVersionCode", versionCode(), "bootloader", Build.BOOTLOADER),
                "storage", Json.object("totalBytes", storage(true), "freeBytes", storage(false)),
                "memory", Json.object("totalBytes", memory().totalMem),
                "network", Json.object("ipAddresses", addresses),
                "management", Json.object("deviceOwner", deviceOwner(), "kioskActive", lockTaskActive()));
    }

    private boolean lockTaskActive() {
        return ((ActivityManager) context.getSystemService(Context.ACTIVITY_SERVICE)).getLockTaskModeState() != ActivityManager.LOCK_TASK_MODE_NONE;
    }

    @Override
    public JSONObject apps() {
        JSONArray apps = new JSONArray();
        PackageManager pm = context.getPackageManager();
        for (PackageInfo p : pm.getInstalledPackages(0)) {
            ApplicationInfo a = p.applicationInfo;
            apps.put(Json.object("packageName", p.packageName, "versionName", p.versionName == null ? "" : p.versionName, "versionCode", p.versionCode,
                    "label", String.valueOf(pm.getApplicationLabel(a)), "system", (a.flags & ApplicationInfo.FLAG_SYSTEM) != 0, "enabled", a.enabled));
        }
        return Json.object("full", true, "apps", apps);
    }

    @Override
    public JSONObject status() {
        Intent battery = context.registerReceiver(null, new IntentFilter(Intent.ACTION_BATTERY_CHANGED));
        int level = 0;
        String charging = "none";
        String health = "unknown";
        if (battery != null) {
            int scale = battery.getIntExtra(BatteryManager.EXTRA_SCALE, 100);
            level = Math.max(0, Math.min(100, battery.getIntExtra(BatteryManager.EXTRA_LEVEL, 0) * 100 / Math.max(1, scale)));
            int plugged = battery.getIntExtra(BatteryManager.EXTRA_PLUGGED, 0);
            charging = plugged == BatteryManager.BATTERY_PLUGGED_AC ? "ac" : plugged == BatteryManager.BATTERY_PLUGGED_USB ? "usb"
                    : plugged == BatteryManager.BATTERY_PLUGGED_WIRELESS ? "wireless" : "none";
            int h = battery.getIntExtra(BatteryManager.EXTRA_HEALTH, 0);
            health = h == BatteryManager.BATTERY_HEALTH_GOOD ? "good" : h == BatteryManager.BATTERY_HEALTH_OVERHEAT ? "overheat"
                    : h == BatteryManager.BATTERY_HEALTH_DEAD ? "dead" : h == BatteryManager.BATTERY_HEALTH_COLD ? "cold" : "unknown";
        }
        JSONObject status = Json.object("batteryLevel", level, "charging", charging, "batteryHealth", health, "storageFreeBytes", storage(false),
                "ramFreeBytes", memory().availMem, "screenOn", ((PowerManager) context.getSystemService(Context.POWER_SERVICE)).isInteractive(),
                "uptimeSec", SystemClock.elapsedRealtime() / 1000);
        WifiInfo wifi = ((WifiManager) context.getApplicationContext().getSystemService(Context.WIFI_SERVICE)).getConnectionInfo();
        if (wifi != null && wifi.getNetworkId() != -1) {
            String ssid = wifi.getSSID() == null ? "" : wifi.getSSID().replaceAll("^\"|\"$", "");
            // Android hides the SSID without location on (§12.6); the agent does not turn location on for it.
            JSONObject w = Json.object("ssid", ssid.equals("<unknown ssid>") ? "" : ssid, "rssi", wifi.getRssi());
            if (ssid.equals("<unknown ssid>")) Json.put(w, "ssidUnavailable", "location_off");
            Json.put(status, "wifi", w);
        }
        return status;
    }

    @Override
    public JSONObject locate() {
        return Locator.fix(context, LOCATE_TIMEOUT_MS);
    }

    @Override
    public Outcome execute(Command command) {
        String kind = command.kind;
        JSONObject p = command.params;
        if (kind.equals("lock")) {
            if (!dpm.isAdminActive(admin)) return Outcome.failed("MANAGEMENT_MODE", "The agent is not a device administrator.");
            String info = join(p.optString("message", null), p.optString("phone", null));
            if (info != null && deviceOwner() && Build.VERSION.SDK_INT >= 24) lockScreenInfo(info);
            dpm.lockNow();
            return Outcome.succeeded();
        }
        if (kind.equals("message")) {
            MessageActivity.show(context, p.optString("title", null), p.optString("text"), false);
            return Outcome.succeeded();
        }
        if (kind.equals("wipe")) {
            int flags = (p.optBoolean("wipeExternalStorage") ? DevicePolicyManager.WIPE_EXTERNAL_STORAGE : 0)
                    | (p.optBoolean("preserveFactoryResetProtection") ? 0 : DevicePolicyManager.WIPE_RESET_PROTECTION_DATA);
            Log.w(Compat.TAG, "wiping the tablet: " + p.optString("reason"));
            dpm.wipeData(flags);
            return Outcome.executing();
        }
        if (kind.equals("reboot")) {
            if (Build.VERSION.SDK_INT < 24) return Outcome.failed("API_LEVEL", "Reboot needs Android 7.");
            Compat.call(dpm, "reboot", new Class<?>[] {ComponentName.class}, admin);
            return Outcome.executing();
        }
        if (kind.equals("lost_mode_on")) {
            lockScreenInfo(join(p.optString("message"), join(p.optString("phone", null), p.optString("footnote", null))));
            MessageActivity.show(context, null, join(p.optString("message"), p.optString("phone", null)), true);
            dpm.lockNow();
            return Outcome.succeeded();
        }
        if (kind.equals("lost_mode_off")) {
            lockScreenInfo(null);
            MessageActivity.close(context);
            return Outcome.succeeded();
        }
        if (kind.equals("lost_mode_sound")) return LostModeSound.play(context);
        if (kind.equals("remove_app")) return AppInstaller.remove(context, p);
        return Outcome.failed("UNSUPPORTED", kind + " is not supported on Android.");
    }

    @Override
    public File cacheDir() {
        return context.getCacheDir();
    }

    @Override
    public Outcome installPackage(JSONObject params, File apk) {
        return AppInstaller.install(context, params, apk);
    }

    private void lockScreenInfo(String text) {
        if (Build.VERSION.SDK_INT >= 24) Compat.call(dpm, "setDeviceOwnerLockScreenInfo", new Class<?>[] {ComponentName.class, CharSequence.class}, admin, text);
    }

    private static String join(String a, String b) {
        if (a == null || a.isEmpty()) return b == null || b.isEmpty() ? null : b;
        return b == null || b.isEmpty() ? a : a + "\n" + b;
    }

    @Override
    public JSONArray applyPolicy(int version, JSONObject policy) {
        return PolicyApplier.apply(context, dpm, admin, policy);
    }

    @Override
    public void onState(String state, String detail) {
        Log.i(Compat.TAG, "state " + state + (detail == null ? "" : ": " + detail));
        AgentService s = service;
        if (s != null) s.showState(state);
    }

    @Override
    public void log(String message) {
        Log.i(Compat.TAG, message);
    }
}
