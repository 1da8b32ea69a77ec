package fr.cartable.agent.core;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.json.JSONArray;
import org.json.JSONObject;

/**
 * Commands as §13.2 orders it: persist, (the session acks), deduplicate, check expiry, check
 * support, check cancellation, execute, report through the outbox. Commands run one at a
 * time, in the order received, on their own thread.
 */
final class CommandRunner {
    private static final int RECENT = 100;
    /** How long a destructive command waits for the server's ack of "executing" (§13.2). */
    private static final long EXECUTING_ACK_WAIT_MS = 10000;

    private final Agent agent;
    private final ExecutorService worker = Executors.newSingleThreadExecutor();
    private final Object ackLock = new Object();
    private String awaitedAck;
    private boolean bootMarkerChecked;

    CommandRunner(Agent agent) {
        this.agent = agent;
    }

    void shutdown() {
        worker.shutdownNow();
    }

    private JSONObject records() {
        return agent.store.object("commands");
    }

    void receive(final Command command) {
        JSONObject resend = null;
        boolean duplicate;
        synchronized (agent.store) {
            JSONObject existing = records().optJSONObject(command.commandId);
            duplicate = existing != null;
            if (duplicate) {
                resend = existing.optJSONObject("result");
            } else {
                Json.put(records(), command.commandId, Json.object("kind", command.kind, "state", "received"));
                remember(command.commandId);
                agent.store.save();
            }
        }
        if (duplicate) {
            // A re-send (the session acked it): resend the result the server may have lost, if any.
            if (resend != null) agent.requeue(resend);
            return;
        }
        worker.execute(new Runnable() {
            @Override
            public void run() {
                execute(command);
            }
        });
    }

    /** Newest first, bounded: what hello's lastCommandIds announces, and what the store keeps. */
    private void remember(String commandId) {
        JSONArray recent = agent.store.array("recentCommandIds");
        JSONArray updated = new JSONArray();
        updated.put(commandId);
        for (int i = 0; i < recent.length() && updated.length() < RECENT; i++) {
            if (!commandId.equals(recent.optString(i))) updated.put(recent.optString(i));
        }
        Json.put(agent.store.get(), "recentCommandIds", updated);
        JSONObject all = records();
        if (all.length() > 2 * RECENT) {
            JSONObject kept = new JSONObject();
            for (int i = 0; i < updated.length(); i++) {
                JSONObject r = all.optJSONObject(updated.optString(i));
                if (r != null) Json.put(kept, updated.optString(i), r);
            }
            Json.put(agent.store.get(), "commands", kept);
        }
    }

    void cancel(String commandId) {
        synchronized (agent.store) {
            String id = commandId.toLowerCase(java.util.Locale.ROOT);
            JSONObject record = records().optJSONObject(id);
            if (record == null) {
                // The cancel overtook its command: remember it, so the command never runs.
                record = Json.object("state", "cancelled");
                Json.put(records(), id, record);
                remember(id);
            } else if ("received".equals(record.optString("state"))) {
                Json.put(record, "state", "cancelled");
            }
            agent.store.save();
        }
    }

    private boolean startIfNotCancelled(Command command) {
        synchronized (agent.store) {
            JSONObject record = records().optJSONObject(command.commandId);
            if (record == null || !"received".equals(record.optString("state"))) return false;
            Json.put(record, "state", "executing");
            agent.store.save();
            return true;
        }
    }

    private void execute(Command command) {
        if (!startIfNotCancelled(command)) {
            agent.platform.log("command " + command.commandId + " cancelled: not executed");
            return;
        }
        if (command.expiresAt < 0 || agent.serverNow() > command.expiresAt) {
            finish(command, Outcome.of("expired"));
            return;
        }
        String capability = Command.capabilityOf(command.kind);
        if (capability == null || !agent.platform.capabilities().contains(capability)) {
            finish(command, Outcome.failed("UNSUPPORTED", "This agent does not support " + command.kind + " on this device."));
            return;
        }
        String invalid = invalidParams(command);
        if (invalid != null) {
            finish(command, Outcome.failed("INVALID_VALUE", invalid));
            return;
        }
        agent.platform.log("executing " + command.kind + " " + command.commandId);
        if (command.destructive()) {
            executeDestructive(command);
            return;
        }
        Outcome outcome;
        try {
            if (command.kind.equals("refresh_inventory")) {
                agent.sendFullReports();
                outcome = Outcome.succeeded();
            } else if (command.kind.equals("refresh_apps")) {
                agent.queue("report.apps", Json.put(agent.platform.apps(), "full", true));
                outcome = Outcome.succeeded();
            } else if (command.kind.equals("lost_mode_sound") && agent.lostMode.current() == null) {
                outcome = Outcome.failed("INVALID_VALUE", "The device is not in lost mode.");
            } else if (command.kind.equals("locate")) {
                JSONObject fix = agent.platform.locate();
                outcome = fix == null ? Outcome.failed("UNKNOWN", "No location fix within 60 s (location off, or no signal).") : Outcome.succeeded(Json.object("location", fix));
            } else if (command.kind.equals("apply_policy")) {
                applyDesiredState(command.params);
                outcome = Outcome.succeeded();
            } else if (command.kind.equals("install_app")) {
                outcome = new AppInstall(agent).run(command.params);
            } else {
                outcome = agent.platform.execute(command);
            }
        } catch (RuntimeException e) {
            outcome = Outcome.failed("UNKNOWN", String.valueOf(e));
        }
        if (command.kind.equals("lost_mode_off") && "succeeded".equals(outcome.status)) agent.lostMode.off();
        // The new app list before the result: once the server holds the result, it shows the apps too.
        if ((command.kind.equals("install_app") || command.kind.equals("remove_app")) && "succeeded".equals(outcome.status)) {
            agent.queue("report.apps", Json.put(agent.platform.apps(), "full", true));
        }
        finish(command, outcome);
        // Locations only after the result, so the server knows lost mode is on when they arrive.
        if (command.kind.equals("lost_mode_on") && "succeeded".equals(outcome.status)) agent.lostMode.on(command);
    }

    /** The params a kind cannot do without (§13.1); the server checks them all, this guards the platform. */
    private static String invalidParams(Command command) {
        JSONObject p = command.params;
        if (command.kind.equals("message") && p.optString("text").isEmpty()) return "message needs a text";
        if (command.kind.equals("lost_mode_on") && p.optString("message").isEmpty()) return "lost_mode_on needs a message";
        if ((command.kind.equals("install_app") || command.kind.equals("remove_app")) && p.optString("packageName").isEmpty()) return command.kind + " needs a packageName";
        if (command.kind.equals("apply_policy") && (p.optJSONObject("policy") == null || !p.has("version"))) return "apply_policy needs a version and a policy";
        return null;
    }

    /** "executing" first, acted on once the server has it or after 10 s (§13.2). */
    private void executeDestructive(Command command) {
        agent.store.set("bootMarker", Json.object("commandId", command.commandId, "kind", command.kind, "bootId", agent.platform.bootId()));
        JSONObject executing = finish(command, Outcome.of("executing"));
        synchronized (ackLock) {
            awaitedAck = executing.optString("id");
            long until = System.currentTimeMillis() + EXECUTING_ACK_WAIT_MS;
            try {
                for (long left = EXECUTING_ACK_WAIT_MS; awaitedAck != null && left > 0; left = until - System.currentTimeMillis()) ackLock.wait(left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            awaitedAck = null;
        }
        Outcome outcome = agent.platform.execute(command);
        if (!"executing".equals(outcome.status)) {
            // The platform could not act (not device owner, API level): the marker is moot.
            agent.store.set("bootMarker", null);
            finish(command, outcome);
        }
    }

    void acked(String ref) {
        synchronized (ackLock) {
            if (ref.equalsIgnoreCase(awaitedAck)) {
                awaitedAck = null;
                ackLock.notifyAll();
            }
        }
    }

    /** Once per process, at the first welcome: did the reboot or shutdown we started happen? */
    void afterWelcome() {
        if (bootMarkerChecked) return;
        bootMarkerChecked = true;
        JSONObject marker = agent.store.get().optJSONObject("bootMarker");
        if (marker == null) return;
        agent.store.set("bootMarker", null);
        String commandId = marker.optString("commandId");
        if ("wipe".equals(marker.optString("kind"))) return;
        boolean restarted = !marker.optString("bootId").equals(agent.platform.bootId());
        Outcome outcome = restarted ? Outcome.succeeded() : Outcome.failed("UNKNOWN", "The device did not restart.");
        JSONObject result = agent.queue("command.result", outcome.body(commandId));
        synchronized (agent.store) {
            JSONObject record = records().optJSONObject(commandId);
            if (record != null) Json.put(record, "result", result);
            agent.store.save();
        }
    }

    private JSONObject finish(Command command, Outcome outcome) {
        JSONObject result = agent.queue("command.result", outcome.body(command.commandId));
        synchronized (agent.store) {
            JSONObject record = records().optJSONObject(command.commandId);
            if (record != null) {
                Json.put(record, "state", "done");
                Json.put(record, "result", result);
            }
            agent.store.save();
        }
        agent.platform.log("command " + command.kind + " " + command.commandId + ": " + outcome.status);
        return result;
    }

    void reportRequest(final JSONObject body) {
        worker.execute(new Runnable() {
            @Override
            public void run() {
                JSONArray kinds = body.optJSONArray("kinds");
                if (kinds == null) {
                    agent.sendFullReports();
                    return;
                }
                for (int i = 0; i < kinds.length(); i++) {
                    String kind = kinds.optString(i);
                    if (kind.equals("inventory")) agent.queue("report.inventory", agent.platform.inventory());
                    else if (kind.equals("apps")) agent.queue("report.apps", Json.put(agent.platform.apps(), "full", true));
                    else if (kind.equals("status")) agent.sendStatus();
                }
            }
        });
    }

    /** Applies {version, policy} unless it is not newer than the applied one (§27.3). */
    void applyDesiredState(JSONObject desired) {
        int version = desired.optInt("version", 0);
        if (agent.store.get().has("appliedStateVersion") && version <= agent.store.get().optInt("appliedStateVersion")) return;
        JSONObject policy = desired.optJSONObject("policy");
        if (policy == null) policy = new JSONObject();
        JSONArray nonCompliance = agent.platform.applyPolicy(version, policy);
        agent.store.set("appliedStateVersion", version);
        agent.store.set("policy", policy);
        agent.event("policy_applied", Json.object("version", version, "nonCompliance", nonCompliance));
    }
}
