package fr.cartable.agent;

import android.app.admin.DevicePolicyManager;
import android.content.ComponentName;
import android.content.Context;
import android.net.wifi.WifiConfiguration;
import android.net.wifi.WifiManager;
import android.os.Build;
import fr.cartable.agent.core.Json;
import java.util.ArrayList;
import java.util.List;
import org.json.JSONArray;
import org.json.JSONObject;

/**
 * The desired state (protocol §27) through DevicePolicyManager, as device owner: what the policy
 * leaves out is left as it is. Returns what could not be applied as non-compliance entries.
 */
final class PolicyApplier {
    /** Policy booleans that are Android user restrictions (UserManager.DISALLOW_*). */
    private static final String[][] RESTRICTIONS = {
        {"installAppsDisabled", "no_install_apps"},
        {"uninstallAppsDisabled", "no_uninstall_apps"},
        {"modifyAccountsDisabled", "no_modify_accounts"},
        {"factoryResetDisabled", "no_factory_reset"},
        {"setWallpaperDisabled", "no_set_wallpaper"},
        {"adjustVolumeDisabled", "no_adjust_volume"},
    };

    private PolicyApplier() {}

    static JSONArray apply(Context context, DevicePolicyManager dpm, ComponentName admin, JSONObject policy) {
        JSONArray failures = new JSONArray();
        if (!dpm.isDeviceOwnerApp(context.getPackageName())) {
            failures.put(entry("", "MANAGEMENT_MODE"));
            return failures;
        }
        try {
            if (policy.has("cameraDisabled")) dpm.setCameraDisabled(admin, policy.optBoolean("cameraDisabled"));
            if (policy.has("screenCaptureDisabled")) dpm.setScreenCaptureDisabled(admin, policy.optBoolean("screenCaptureDisabled"));
            if (policy.has("maximumTimeToLock")) dpm.setMaximumTimeToLock(admin, policy.optLong("maximumTimeToLock"));
        } catch (SecurityException e) {
            failures.put(entry("/cameraDisabled", "MANAGEMENT_MODE"));
        }
        for (String[] r : RESTRICTIONS) {
            if (!policy.has(r[0])) continue;
            if (r[1].equals("no_set_wallpaper") && Build.VERSION.SDK_INT < 24) {
                failures.put(entry("/" + r[0], "API_LEVEL"));
                continue;
            }
            try {
                if (policy.optBoolean(r[0])) dpm.addUserRestriction(admin, r[1]);
                else dpm.clearUserRestriction(admin, r[1]);
            } catch (SecurityException e) {
                failures.put(entry("/" + r[0], "MANAGEMENT_MODE"));
            }
        }
        JSONObject lockScreen = policy.optJSONObject("deviceOwnerLockScreenInfo");
        if (lockScreen != null && Build.VERSION.SDK_INT >= 24) {
            Compat.call(dpm, "setDeviceOwnerLockScreenInfo", new Class<?>[] {ComponentName.class, CharSequence.class}, admin, lockScreen.optString("defaultMessage"));
        }
        kiosk(dpm, admin, policy.optJSONArray("applications"), failures);
        wifi(context, policy.optJSONObject("openNetworkConfiguration"), failures);
        return failures;
    }

    private static JSONObject entry(String fieldPath, String reason) {
        return Json.object("fieldPath", fieldPath, "reason", reason);
    }

    /** Apps with installType KIOSK may pin themselves (lock task). */
    private static void kiosk(DevicePolicyManager dpm, ComponentName admin, JSONArray apps, JSONArray failures) {
        if (apps == null) return;
        List<String> packages = new ArrayList<String>();
        for (int i = 0; i < apps.length(); i++) {
            JSONObject app = apps.optJSONObject(i);
            if (app != null && "KIOSK".equals(app.optString("installType"))) packages.add(app.optString("packageName"));
        }
        try {
            dpm.setLockTaskPackages(admin, packages.toArray(new String[0]));
        } catch (SecurityException e) {
            failures.put(entry("/applications", "MANAGEMENT_MODE"));
        }
    }

    /** WPA-PSK and open networks of the ONC configuration; others are reported as not applied. */
    @SuppressWarnings("deprecation")
    private static void wifi(Context context, JSONObject onc, JSONArray failures) {
        JSONArray networks = onc == null ? null : onc.optJSONArray("NetworkConfigurations");
        if (networks == null) return;
        WifiManager wm = (WifiManager) context.getApplicationContext().getSystemService(Context.WIFI_SERVICE);
        for (int i = 0; i < networks.length(); i++) {
            JSONObject n = networks.optJSONObject(i);
            JSONObject w = n == null ? null : n.optJSONObject("WiFi");
            if (w == null) continue;
            String security = w.optString("Security", "None");
            WifiConfiguration c = new WifiConfiguration();
            c.SSID = "\"" + w.optString("SSID") + "\"";
            c.hiddenSSID = w.optBoolean("HiddenSSID", false);
            if (security.equals("WPA-PSK")) {
                c.allowedKeyManagement.set(WifiConfiguration.KeyMgmt.WPA_PSK);
                c.preSharedKey = "\"" + w.optString("Passphrase") + "\"";
            } else if (security.equals("None")) {
                c.allowedKeyManagement.set(WifiConfiguration.KeyMgmt.NONE);
            } else {
                failures.put(entry("/openNetworkConfiguration/NetworkConfigurations/" + i, "UNSUPPORTED"));
                continue;
            }
            if (wm.addNetwork(c) < 0) failures.put(entry("/openNetworkConfiguration/NetworkConfigurations/" + i, "INVALID_VALUE"));
        }
    }
}
