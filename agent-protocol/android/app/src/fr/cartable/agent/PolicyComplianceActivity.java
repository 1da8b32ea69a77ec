package fr.cartable.agent;

import android.app.Activity;
import android.os.Bundle;

/**
 * The last provisioning step on Android 10+ (ADMIN_POLICY_COMPLIANCE): the agent is device
 * owner; it starts and enrolls in the background, so setup can finish at once.
 */
public final class PolicyComplianceActivity extends Activity {
    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        Provisioning.accept(this, getIntent());
        AgentService.start(this);
        setResult(RESULT_OK);
        finish();
    }
}
