package fr.cartable.agent;

import android.app.Activity;
import android.content.Intent;
import android.os.Bundle;
import android.os.PersistableBundle;

/**
 * Android 10+ asks the agent which mode to provision (GET_PROVISIONING_MODE): always a fully
 * managed device; the admin extras are kept now, in case policy compliance comes late.
 */
public final class ProvisioningModeActivity extends Activity {
    /** DevicePolicyManager.PROVISIONING_MODE_FULLY_MANAGED_DEVICE (API 29). */
    private static final int FULLY_MANAGED_DEVICE = 1;

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        Provisioning.accept(this, getIntent());
        Intent result = new Intent();
        result.putExtra("android.app.extra.PROVISIONING_MODE", FULLY_MANAGED_DEVICE);
        PersistableBundle extras = Provisioning.extras(getIntent());
        if (extras != null) {
            result.putExtra(Provisioning.EXTRAS, extras);
            if ("true".equals(extras.getString(Provisioning.SKIP_EDUCATION_SCREENS))) {
                result.putExtra("android.app.extra.PROVISIONING_SKIP_EDUCATION_SCREENS", true);
            }
        }
        setResult(RESULT_OK, result);
        finish();
    }
}
