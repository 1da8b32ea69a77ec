package fr.cartable.agent;

import android.content.BroadcastReceiver;
import android.content.Context;
import android.content.Intent;

/**
 * Starts the agent at boot, before the first unlock too (LOCKED_BOOT_COMPLETED, protocol §25),
 * and after an update of the agent itself.
 */
public final class BootReceiver extends BroadcastReceiver {
    @Override
    public void onReceive(Context context, Intent intent) {
        AgentService.start(context);
    }
}
