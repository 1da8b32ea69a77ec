package fr.cartable.agent.core;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.json.JSONObject;

/**
 * Lost mode's location reports (§12.5): from a successful lost_mode_on until lost_mode_off,
 * across restarts, one fix per interval (5 minutes; at least one a minute) sent as
 * report.location with the lost_mode_on commandId. Location is collected at no other time.
 */
final class LostMode {
    static final long DEFAULT_INTERVAL_MS = 5 * 60 * 1000;

    private final Agent agent;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(new ThreadFactory() {
        @Override
        public Thread newThread(Runnable r) {
            Thread t = new Thread(r, "cartable-lost-mode");
            t.setDaemon(true);
            return t;
        }
    });
    private long intervalMs = DEFAULT_INTERVAL_MS;
    private ScheduledFuture<?> reporting;

    LostMode(Agent agent) {
        this.agent = agent;
    }

    void setIntervalMs(long ms) {
        intervalMs = Math.max(1000, ms);
    }

    /** The lost_mode_on command in force, or null. */
    JSONObject current() {
        return agent.store.get().optJSONObject("lostMode");
    }

    synchronized void on(Command command) {
        agent.store.set("lostMode", Json.object("commandId", command.commandId, "params", command.params));
        resume();
    }

    synchronized void off() {
        synchronized (agent.store) {
            agent.store.get().remove("lostMode");
            agent.store.save();
        }
        if (reporting != null) reporting.cancel(false);
        reporting = null;
    }

    /** At start: lost mode survives restarts and reboots. */
    synchronized void resume() {
        if (current() == null || (reporting != null && !reporting.isDone())) return;
        reporting = timer.scheduleWithFixedDelay(new Runnable() {
            @Override
            public void run() {
                report();
            }
        }, 0, intervalMs, TimeUnit.MILLISECONDS);
    }

    private void report() {
        JSONObject lost = current();
        if (lost == null) return;
        JSONObject fix = agent.platform.locate();
        // Checked again: lost mode may have been turned off while the fix was awaited.
        if (fix == null || current() == null) return;
        Json.put(fix, "commandId", lost.optString("commandId"));
        agent.queue("report.location", fix);
    }

    void shutdown() {
        timer.shutdownNow();
    }
}
