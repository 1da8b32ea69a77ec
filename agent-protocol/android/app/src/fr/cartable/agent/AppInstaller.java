package fr.cartable.agent;

import android.app.PendingIntent;
import android.content.BroadcastReceiver;
import android.content.Context;
import android.content.Intent;
import android.content.IntentFilter;
import android.content.IntentSender;
import android.content.pm.ApplicationInfo;
import android.content.pm.PackageInfo;
import android.content.pm.PackageInstaller;
import android.content.pm.PackageManager;
import android.content.pm.Signature;
import android.os.Build;
import fr.cartable.agent.core.AppInstall;
import fr.cartable.agent.core.Json;
import fr.cartable.agent.core.Outcome;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.json.JSONArray;
import org.json.JSONObject;

/**
 * install_app and remove_app as device owner, silently, through PackageInstaller sessions
 * (protocol §13.1, §24.2): the core has downloaded the APK from its signed URL and checked its
 * size and SHA-256; it is installed only if its package, version and signing certificate are the
 * ones the command names.
 */
final class AppInstaller {
    private static final String ACTION = "fr.cartable.agent.INSTALL_RESULT";
    /** PendingIntent.FLAG_MUTABLE (API 31): the installer fills in the status extras. */
    private static final int FLAG_MUTABLE = 0x02000000;
    private static final long RESULT_TIMEOUT_MS = 5 * 60 * 1000;

    private AppInstaller() {}

    /** Installs an APK the core downloaded and checked (size, SHA-256), if it is the package, version and signer named. */
    static Outcome install(Context context, JSONObject params, File apk) {
        String packageName = params.optString("packageName");
        int versionCode = params.optInt("versionCode", -1);
        PackageInfo info = context.getPackageManager().getPackageArchiveInfo(apk.getPath(), PackageManager.GET_SIGNATURES);
        if (info == null || !packageName.equals(info.packageName) || info.versionCode != versionCode) {
            return Outcome.failed("INVALID_VALUE", "The APK is not " + packageName + " version " + versionCode + ".");
        }
        if (!signedBy(info, params.optJSONArray("signingCertSha256"))) return Outcome.failed("INVALID_VALUE", "The APK is not signed by the expected certificate.");
        try {
            PackageInstaller installer = context.getPackageManager().getPackageInstaller();
            PackageInstaller.SessionParams sp = new PackageInstaller.SessionParams(PackageInstaller.SessionParams.MODE_FULL_INSTALL);
            sp.setAppPackageName(packageName);
            int sessionId = installer.createSession(sp);
            PackageInstaller.Session session = installer.openSession(sessionId);
            try {
                OutputStream out = session.openWrite("base.apk", 0, apk.length());
                copy(new FileInputStream(apk), out);
                session.fsync(out);
                out.close();
                Waiter waiter = new Waiter(context, sessionId);
                session.commit(waiter.sender());
                Outcome outcome = waiter.await();
                return outcome != null ? outcome : Outcome.succeeded(Json.object("versionCode", versionCode));
            } finally {
                session.close();
            }
        } catch (IOException e) {
            return Outcome.failed("UNKNOWN", "Installation failed: " + e.getMessage());
        }
    }

    static Outcome remove(Context context, JSONObject params) {
        String packageName = params.optString("packageName");
        if (packageName.isEmpty() || packageName.equals(context.getPackageName())) {
            return Outcome.failed("INVALID_VALUE", "The agent does not remove itself.");
        }
        ApplicationInfo app;
        try {
            app = context.getPackageManager().getApplicationInfo(packageName, 0);
        } catch (PackageManager.NameNotFoundException e) {
            return Outcome.succeeded();
        }
        if ((app.flags & ApplicationInfo.FLAG_SYSTEM) != 0) return Outcome.failed("INVALID_VALUE", packageName + " is a system package.");
        Waiter waiter = new Waiter(context, packageName.hashCode());
        context.getPackageManager().getPackageInstaller().uninstall(packageName, waiter.sender());
        Outcome outcome = waiter.await();
        return outcome != null ? outcome : Outcome.succeeded();
    }

    private static boolean signedBy(PackageInfo info, JSONArray expected) {
        if (expected == null || info.signatures == null || info.signatures.length == 0) return false;
        for (Signature s : info.signatures) {
            String hex = AppInstall.sha256Hex(s.toByteArray());
            boolean found = false;
            for (int i = 0; i < expected.length(); i++) found |= hex.equalsIgnoreCase(expected.optString(i));
            if (!found) return false;
        }
        return true;
    }

    private static void copy(InputStream in, OutputStream out) throws IOException {
        byte[] buffer = new byte[65536];
        for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) out.write(buffer, 0, n);
        in.close();
    }

    /** Waits for the installer's status broadcast; null means success. */
    private static final class Waiter extends BroadcastReceiver {
        private final Context context;
        private final int requestCode;
        private final CountDownLatch done = new CountDownLatch(1);
        private volatile Outcome outcome = Outcome.failed("UNKNOWN", "The installer did not answer in time.");

        Waiter(Context context, int requestCode) {
            this.context = context;
            this.requestCode = requestCode;
            context.registerReceiver(this, new IntentFilter(ACTION + "." + requestCode));
        }

        IntentSender sender() {
            Intent intent = new Intent(ACTION + "." + requestCode).setPackage(context.getPackageName());
            int flags = PendingIntent.FLAG_UPDATE_CURRENT | (Build.VERSION.SDK_INT >= 31 ? FLAG_MUTABLE : 0);
            return PendingIntent.getBroadcast(context, requestCode, intent, flags).getIntentSender();
        }

        @Override
        public void onReceive(Context c, Intent intent) {
            int status = intent.getIntExtra(PackageInstaller.EXTRA_STATUS, PackageInstaller.STATUS_FAILURE);
            if (status == PackageInstaller.STATUS_PENDING_USER_ACTION) return;
            outcome = status == PackageInstaller.STATUS_SUCCESS ? null
                    : Outcome.failed("UNKNOWN", "Installer status " + status + ": " + intent.getStringExtra(PackageInstaller.EXTRA_STATUS_MESSAGE));
            done.countDown();
        }

        Outcome await() {
            try {
                done.await(RESULT_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                context.unregisterReceiver(this);
            }
            return outcome;
        }
    }
}
