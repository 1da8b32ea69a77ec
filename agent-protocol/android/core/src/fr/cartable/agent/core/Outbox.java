package fr.cartable.agent.core;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.json.JSONArray;
import org.json.JSONObject;

/**
 * Messages that must reach the server (reports, command results), kept in the store until the
 * server acks them, so they survive a lost connection, a restart of the agent or a reboot
 * (§14.3). Bounded: beyond {@link #MAX} messages the oldest report is dropped, never a command
 * result; a newer report.status replaces a queued one. It shares the store's lock, since the
 * store writes the whole state, outbox included.
 */
final class Outbox {
    static final int MAX = 500;
    private final Store store;

    Outbox(Store store) {
        this.store = store;
    }

    /** Queues a new message; numbered (§14.5) unless it is a report.status. */
    JSONObject add(String type, JSONObject body) {
        synchronized (store) {
            return addLocked(type, body);
        }
    }

    private JSONObject addLocked(String type, JSONObject body) {
        JSONArray queue = store.array("outbox");
        JSONObject message = Json.object("type", type, "id", UUID.randomUUID().toString(), "body", body);
        if (type.equals("report.status")) {
            for (int i = queue.length() - 1; i >= 0; i--) {
                if ("report.status".equals(queue.optJSONObject(i).optString("type"))) queue.remove(i);
            }
        } else {
            long seq = store.get().optLong("nextSeq", 1);
            Json.put(message, "seq", seq);
            Json.put(store.get(), "nextSeq", seq + 1);
        }
        queue.put(message);
        for (int i = 0; queue.length() > MAX && i < queue.length(); ) {
            if ("command.result".equals(queue.optJSONObject(i).optString("type"))) i++;
            else queue.remove(i);
        }
        store.save();
        return message;
    }

    /** Puts back a message already sent once (a stored command result), with its own id. */
    void requeue(JSONObject message) {
        synchronized (store) {
            if (contains(message.optString("id"))) return;
            store.array("outbox").put(message);
            store.save();
        }
    }

    boolean acked(String ref) {
        synchronized (store) {
            JSONArray queue = store.array("outbox");
            for (int i = 0; i < queue.length(); i++) {
                if (queue.optJSONObject(i).optString("id").equalsIgnoreCase(ref)) {
                    queue.remove(i);
                    store.save();
                    return true;
                }
            }
            return false;
        }
    }

    boolean contains(String id) {
        synchronized (store) {
            JSONArray queue = store.array("outbox");
            for (int i = 0; i < queue.length(); i++) if (queue.optJSONObject(i).optString("id").equalsIgnoreCase(id)) return true;
            return false;
        }
    }

    List<JSONObject> pending() {
        synchronized (store) {
            JSONArray queue = store.array("outbox");
            List<JSONObject> out = new ArrayList<JSONObject>(queue.length());
            for (int i = 0; i < queue.length(); i++) out.add(queue.optJSONObject(i));
            return out;
        }
    }
}
