package fr.cartable.agent.core;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;
import org.json.JSONArray;
import org.json.JSONObject;

/**
 * install_app up to the point where only Android can go on (§24.2 steps 1 to 3): the version
 * against the installed one, the download from the signed URL within sizeBytes, and the file's
 * SHA-256. The platform then reads the archive's own package, version and signer, and installs.
 * Kept in the core so that the desktop test harness downloads and checks exactly as a tablet does.
 */
public final class AppInstall {
    private static final int TIMEOUT_MS = 60000;

    private final Agent agent;

    AppInstall(Agent agent) {
        this.agent = agent;
    }

    Outcome run(JSONObject params) {
        String packageName = params.optString("packageName");
        int versionCode = params.optInt("versionCode", -1);
        String url = params.optString("url");
        String sha256 = params.optString("sha256").toLowerCase(Locale.ROOT);
        JSONArray certs = params.optJSONArray("signingCertSha256");
        if (versionCode < 0 || url.isEmpty() || !sha256.matches("[0-9a-f]{64}") || certs == null || certs.length() == 0) {
            return Outcome.failed("INVALID_VALUE", "install_app needs packageName, versionCode, url, sha256 and signingCertSha256");
        }
        if (packageName.equals(agent.platform.packageName())) {
            return Outcome.failed("UNSUPPORTED", "Self-update is not implemented by this agent version.");
        }
        int installed = installedVersion(packageName);
        if (installed == versionCode) return Outcome.succeeded(Json.object("versionCode", versionCode));
        if (installed > versionCode) return Outcome.failed("INVALID_VALUE", "Installed versionCode " + installed + " is higher than " + versionCode + ": no downgrades.");
        try {
            agent.requireSecure(url);
        } catch (Agent.RefusedException e) {
            return Outcome.failed("INVALID_VALUE", "The APK's address is not secure: " + url);
        }
        File folder = agent.platform.cacheDir();
        folder.mkdirs();
        File apk = new File(folder, "install.apk");
        try {
            Outcome refused = download(url, params.has("sizeBytes") ? params.optLong("sizeBytes") : -1, sha256, apk);
            return refused != null ? refused : agent.platform.installPackage(params, apk);
        } catch (IOException e) {
            return Outcome.failed("UNKNOWN", "Download failed: " + e.getMessage());
        } finally {
            apk.delete();
        }
    }

    /** The installed versionCode of a package, or -1. */
    private int installedVersion(String packageName) {
        JSONArray apps = agent.platform.apps().optJSONArray("apps");
        for (int i = 0; apps != null && i < apps.length(); i++) {
            JSONObject app = apps.optJSONObject(i);
            if (app != null && packageName.equals(app.optString("packageName"))) return app.optInt("versionCode", -1);
        }
        return -1;
    }

    /** Null when the file is the one the command names; else why not (the file is then deleted by the caller). */
    private static Outcome download(String url, long sizeBytes, String sha256, File to) throws IOException {
        HttpURLConnection c = (HttpURLConnection) new URL(url).openConnection();
        c.setConnectTimeout(TIMEOUT_MS);
        c.setReadTimeout(TIMEOUT_MS);
        try {
            if (c.getResponseCode() != 200) return Outcome.failed("UNKNOWN", "Download refused: HTTP " + c.getResponseCode());
            MessageDigest md = sha256();
            long size = 0;
            InputStream in = c.getInputStream();
            OutputStream out = new FileOutputStream(to);
            try {
                byte[] buffer = new byte[65536];
                for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
                    size += n;
                    if (sizeBytes >= 0 && size > sizeBytes) return Outcome.failed("INVALID_VALUE", "The download is larger than the " + sizeBytes + " bytes announced.");
                    md.update(buffer, 0, n);
                    out.write(buffer, 0, n);
                }
            } finally {
                out.close();
                in.close();
            }
            if (sizeBytes >= 0 && size != sizeBytes) return Outcome.failed("INVALID_VALUE", "The download is " + size + " bytes, " + sizeBytes + " were announced.");
            String digest = hex(md.digest());
            return digest.equals(sha256) ? null : Outcome.failed("INVALID_VALUE", "SHA-256 mismatch: got " + digest + ", expected " + sha256 + ".");
        } finally {
            c.disconnect();
        }
    }

    /** The SHA-256 of some bytes in lower-case hex, as the protocol writes file and certificate digests. */
    public static String sha256Hex(byte[] data) {
        return hex(sha256().digest(data));
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String hex(byte[] data) {
        StringBuilder s = new StringBuilder(data.length * 2);
        for (byte b : data) s.append(String.format(Locale.ROOT, "%02x", b & 0xff));
        return s.toString();
    }
}
