package fr.cartable.agent;

import android.content.Context;
import android.content.Intent;
import android.os.PersistableBundle;
import android.util.Log;

/** The admin extras of the provisioning QR code (protocol §6): server URL and enrollment token. */
final class Provisioning {
    static final String EXTRAS = "android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE";
    static final String SERVER_URL = "fr.cartable.agent.SERVER_URL";
    static final String ENROLLMENT_TOKEN = "fr.cartable.agent.ENROLLMENT_TOKEN";
    static final String SKIP_EDUCATION_SCREENS = "fr.cartable.agent.SKIP_EDUCATION_SCREENS";

    private Provisioning() {}

    static PersistableBundle extras(Intent intent) {
        return intent == null ? null : (PersistableBundle) intent.getParcelableExtra(EXTRAS);
    }

    /** Stores the server URL and token if the intent carries them; true when it did. */
    static boolean accept(Context context, Intent intent) {
        PersistableBundle extras = extras(intent);
        if (extras == null) return false;
        String url = extras.getString(SERVER_URL);
        String token = extras.getString(ENROLLMENT_TOKEN);
        if (url == null || token == null) {
            Log.e(Compat.TAG, "provisioning extras without " + (url == null ? SERVER_URL : ENROLLMENT_TOKEN));
            return false;
        }
        AgentService.agent(context).configure(url, token);
        Log.i(Compat.TAG, "provisioned for " + url);
        return true;
    }
}
