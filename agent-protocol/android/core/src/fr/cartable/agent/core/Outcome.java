package fr.cartable.agent.core;

import org.json.JSONObject;

/** What executing a command gave: the body of its command.result, less the commandId (§13.4). */
public final class Outcome {
    final String status;
    final JSONObject result;
    final String errorCode;
    final String errorMessage;

    private Outcome(String status, JSONObject result, String errorCode, String errorMessage) {
        this.status = status;
        this.result = result;
        this.errorCode = errorCode;
        this.errorMessage = errorMessage;
    }

    public static Outcome succeeded() {
        return new Outcome("succeeded", null, null, null);
    }

    public static Outcome succeeded(JSONObject result) {
        return new Outcome("succeeded", result, null, null);
    }

    /** code: UNSUPPORTED, API_LEVEL, MANAGEMENT_MODE, INVALID_VALUE, UNKNOWN or BUSY. */
    public static Outcome failed(String code, String message) {
        return new Outcome("failed", null, code, message);
    }

    public static Outcome notNow(String message) {
        return new Outcome("not_now", null, "BUSY", message);
    }

    /** A wipe, reboot or shutdown under way: its result comes after the restart, or never (§13.2). */
    public static Outcome executing() {
        return of("executing");
    }

    static Outcome of(String status) {
        return new Outcome(status, null, null, null);
    }

    JSONObject body(String commandId) {
        JSONObject body = new JSONObject();
        Json.put(body, "commandId", commandId);
        Json.put(body, "status", status);
        if (result != null) Json.put(body, "result", result);
        if (errorCode != null) Json.put(body, "error", Json.object("code", errorCode, "message", errorMessage == null ? errorCode : errorMessage));
        return body;
    }
}
