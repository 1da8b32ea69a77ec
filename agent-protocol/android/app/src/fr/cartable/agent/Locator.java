package fr.cartable.agent;

import android.content.Context;
import android.location.Location;
import android.location.LocationListener;
import android.location.LocationManager;
import android.os.Bundle;
import android.os.HandlerThread;
import fr.cartable.agent.core.Json;
import fr.cartable.agent.core.Times;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.json.JSONObject;

/**
 * One fresh location fix, on demand only (locate, lost mode): the agent never tracks on its
 * own and keeps nothing (protocol §12.5).
 */
final class Locator {
    private Locator() {}

    /** The fix as the protocol's location object, or null after the timeout. */
    static JSONObject fix(Context context, long timeoutMs) {
        LocationManager lm = (LocationManager) context.getSystemService(Context.LOCATION_SERVICE);
        final Location[] best = new Location[1];
        final CountDownLatch got = new CountDownLatch(1);
        HandlerThread thread = new HandlerThread("cartable-locate");
        thread.start();
        LocationListener listener = new LocationListener() {
            @Override
            public void onLocationChanged(Location location) {
                best[0] = location;
                got.countDown();
            }

            @Override
            public void onStatusChanged(String provider, int status, Bundle extras) {}

            @Override
            public void onProviderEnabled(String provider) {}

            @Override
            public void onProviderDisabled(String provider) {}
        };
        try {
            for (String provider : new String[] {LocationManager.GPS_PROVIDER, LocationManager.NETWORK_PROVIDER}) {
                if (lm.isProviderEnabled(provider)) lm.requestSingleUpdate(provider, listener, thread.getLooper());
            }
            got.await(timeoutMs, TimeUnit.MILLISECONDS);
        } catch (SecurityException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            try {
                lm.removeUpdates(listener);
            } catch (SecurityException ignored) {
                // No permission: nothing was requested.
            }
            thread.quitSafely();
        }
        Location l = best[0];
        if (l == null) return null;
        JSONObject fix = Json.object("lat", l.getLatitude(), "lon", l.getLongitude(), "accuracyM", (double) l.getAccuracy(),
                "provider", l.getProvider(), "fixTime", Times.format(l.getTime()));
        if (l.hasAltitude()) Json.put(fix, "altitudeM", l.getAltitude());
        return fix;
    }
}
