package fr.cartable.agent.core;

import org.json.JSONObject;

/** A command received from the server (protocol §13.1). */
public final class Command {
    public final String commandId;
    public final String kind;
    public final JSONObject params;
    public final long expiresAt;

    Command(JSONObject body) {
        commandId = body.optString("commandId").toLowerCase(java.util.Locale.ROOT);
        kind = body.optString("kind");
        JSONObject p = body.optJSONObject("params");
        params = p == null ? new JSONObject() : p;
        expiresAt = Times.parse(body.optString("expiresAt"));
    }

    /** The capability that allows this kind (§5), or null for a kind the agent does not know. */
    public static String capabilityOf(String kind) {
        if (kind.equals("lost_mode_on") || kind.equals("lost_mode_off")) return "lost_mode";
        if (kind.equals("apply_policy")) return "policy";
        String[] same = {"lock", "wipe", "reboot", "shutdown", "locate", "message", "refresh_inventory", "install_app", "remove_app", "refresh_apps", "lost_mode_sound"};
        for (String k : same) if (k.equals(kind)) return k;
        return null;
    }

    /** Kinds the agent acts on only after the server has the "executing" result (§13.2). */
    public boolean destructive() {
        return kind.equals("wipe") || kind.equals("reboot") || kind.equals("shutdown");
    }
}
