package fr.cartable.agent;

import android.app.admin.DeviceAdminReceiver;
import android.content.Context;
import android.content.Intent;

/**
 * The device-admin component the provisioning QR code names (fr.cartable.agent/.AdminReceiver).
 * Provisioning completes here on Android 7 and 8, which have no policy-compliance screen.
 */
public final class AdminReceiver extends DeviceAdminReceiver {
    @Override
    public void onProfileProvisioningComplete(Context context, Intent intent) {
        Provisioning.accept(context, intent);
        AgentService.start(context);
    }

    @Override
    public void onEnabled(Context context, Intent intent) {
        AgentService.start(context);
    }
}
