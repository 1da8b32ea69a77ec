package fr.cartable.agent;

import android.content.Context;
import android.os.Build;
import android.util.Log;
import java.lang.reflect.Method;

/**
 * Android APIs newer than the API 23 the agent compiles against, called by reflection and
 * only where Build.VERSION.SDK_INT says they exist.
 */
final class Compat {
    static final String TAG = "CartableAgent";

    private Compat() {}

    /** Calls target.name(args) with the given parameter types; returns null when it cannot. */
    static Object call(Object target, String name, Class<?>[] types, Object... args) {
        try {
            Method m = target.getClass().getMethod(name, types);
            return m.invoke(target, args);
        } catch (Exception e) {
            Log.w(TAG, name + " failed: " + e);
            return null;
        }
    }

    /** Device-protected storage (Android 7+): readable before the first unlock after a boot (protocol §25). */
    static Context deviceProtected(Context context) {
        if (Build.VERSION.SDK_INT >= 24) {
            Object c = call(context, "createDeviceProtectedStorageContext", new Class<?>[0]);
            if (c != null) return (Context) c;
        }
        return context;
    }
}
