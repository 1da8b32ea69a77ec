package fr.cartable.agent;

import android.app.Notification;
import android.app.NotificationManager;
import android.app.Service;
import android.content.Context;
import android.content.Intent;
import android.content.pm.ApplicationInfo;
import android.os.Build;
import android.os.IBinder;
import android.util.Log;
import fr.cartable.agent.core.Agent;
import fr.cartable.agent.core.Http;
import fr.cartable.agent.core.SocketWebSocket;
import fr.cartable.agent.core.Store;
import java.io.File;

/**
 * The foreground service that keeps the agent's connection (protocol §10): a low-importance
 * notification says the tablet is managed and how the connection is. The protocol engine is
 * one per process and outlives the service's own restarts.
 */
public final class AgentService extends Service {
    private static final String CHANNEL = "connection";
    private static final int NOTIFICATION_ID = 1;
    /** NotificationManager.IMPORTANCE_LOW (API 24). */
    private static final int IMPORTANCE_LOW = 2;
    private static Agent agent;
    private static AndroidPlatform platform;

    static synchronized Agent agent(Context context) {
        if (agent == null) {
            Context app = context.getApplicationContext();
            File folder = new File(Compat.deviceProtected(app).getFilesDir(), "agent");
            // Only a development build (debuggable) accepts http:// servers (protocol §26).
            boolean development = (app.getApplicationInfo().flags & ApplicationInfo.FLAG_DEBUGGABLE) != 0;
            platform = new AndroidPlatform(app);
            agent = new Agent(platform, new Store(folder), new KeystoreKeys(), new SocketWebSocket(15000), new Http(30000), development);
        }
        return agent;
    }

    static void start(Context context) {
        Intent intent = new Intent(context, AgentService.class);
        if (Build.VERSION.SDK_INT >= 26) {
            Compat.call(context, "startForegroundService", new Class<?>[] {Intent.class}, intent);
        } else {
            context.startService(intent);
        }
    }

    @Override
    public void onCreate() {
        super.onCreate();
        createChannel(this);
        startForeground(NOTIFICATION_ID, notification(this, getString(R.string.notification_connecting)));
        Agent a = agent(this);
        platform.setService(this);
        a.start();
        // Lost mode outlives reboots: its screen comes back with the agent.
        org.json.JSONObject lost = a.lostModeParams();
        if (lost != null) MessageActivity.show(this, null, lost.optString("message"), true);
        Log.i(Compat.TAG, "agent started, enrolled: " + a.enrolled());
    }

    @Override
    public int onStartCommand(Intent intent, int flags, int startId) {
        agent(this).wake();
        return START_STICKY;
    }

    @Override
    public IBinder onBind(Intent intent) {
        return null;
    }

    void showState(String state) {
        int text = state.equals("connected") ? R.string.notification_connected
                : state.equals("enrolling") ? R.string.notification_enrolling
                : state.equals("stopped") ? R.string.notification_stopped : R.string.notification_connecting;
        NotificationManager nm = (NotificationManager) getSystemService(NOTIFICATION_SERVICE);
        nm.notify(NOTIFICATION_ID, notification(this, getString(text)));
    }

    private static void createChannel(Context context) {
        if (Build.VERSION.SDK_INT < 26) return;
        try {
            Class<?> channelClass = Class.forName("android.app.NotificationChannel");
            Object channel = channelClass.getConstructor(String.class, CharSequence.class, int.class)
                    .newInstance(CHANNEL, context.getString(R.string.channel_name), IMPORTANCE_LOW);
            NotificationManager nm = (NotificationManager) context.getSystemService(NOTIFICATION_SERVICE);
            Compat.call(nm, "createNotificationChannel", new Class<?>[] {channelClass}, channel);
        } catch (Exception e) {
            Log.w(Compat.TAG, "notification channel: " + e);
        }
    }

    @SuppressWarnings("deprecation")
    static Notification notification(Context context, String text) {
        Notification.Builder builder;
        if (Build.VERSION.SDK_INT >= 26) {
            try {
                builder = Notification.Builder.class.getConstructor(Context.class, String.class).newInstance(context, CHANNEL);
            } catch (Exception e) {
                builder = new Notification.Builder(context);
            }
        } else {
            builder = new Notification.Builder(context);
        }
        return builder.setSmallIcon(android.R.drawable.ic_lock_lock)
                .setContentTitle(context.getString(R.string.app_name))
                .setContentText(text)
                .setOngoing(true)
                .build();
    }
}
