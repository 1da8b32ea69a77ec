package fr.cartable.agent.core;

import java.io.IOException;
import java.nio.charset.Charset;
import java.security.GeneralSecurityException;
import java.util.ArrayList;
import java.util.List;
import org.json.JSONArray;
import org.json.JSONObject;

/**
 * The HTTPS fallback (§15): a session opened with a signed challenge, then exchanges of the
 * outbox and answers against the server's acks and commands, until an exchange fails, the
 * device is revoked, or it is time to probe the WebSocket again (§15.3).
 */
final class Fallback implements Channel {
    enum End { FAILED, REVOKED, PROBE }

    private static final Charset UTF8 = Charset.forName("UTF-8");
    /** Below the 1 MiB body limit, with room for the envelope of the request. */
    private static final int MAX_BODY = 1000000;

    private final Agent agent;
    private final Http http;
    private final String base;
    private final List<JSONObject> replies = new ArrayList<JSONObject>();
    private final Object lock = new Object();
    private boolean dirty;
    private String token;
    private boolean established;

    Fallback(Agent agent, Http http) {
        this.agent = agent;
        this.http = http;
        this.base = agent.endpoint("http").replaceAll("/+$", "");
    }

    boolean established() {
        return established;
    }

    /** Runs until the fallback ends; probeAt is when the WebSocket should be tried again. */
    End run(long probeAt) throws Agent.RefusedException {
        agent.requireSecure(base);
        try {
            JSONObject session = openSession();
            if (session == null) return End.REVOKED;
            for (;;) {
                Http.Response response = exchange();
                if (response.status == 401 && "session_expired".equals(response.body.optString("code"))) {
                    if (openSession() == null) return End.REVOKED;
                    continue;
                }
                if (response.status == 403) return End.REVOKED;
                if (response.status != 200) {
                    agent.platform.log("exchange failed: " + response.status + " " + response.body.optString("code"));
                    return End.FAILED;
                }
                if (!established) {
                    established = true;
                    agent.platform.onState("fallback", agent.deviceId());
                    agent.authenticated(session, this);
                }
                agent.noteServerTime(response.body.optString("serverTime", null));
                JSONArray messages = response.body.optJSONArray("messages");
                for (int i = 0; messages != null && i < messages.length(); i++) {
                    JSONObject m = messages.optJSONObject(i);
                    if (m != null) agent.handle(m, this);
                }
                long poll = response.body.optLong("pollAfterSec", 60) * 1000;
                if (!waitNext(System.currentTimeMillis() + poll, probeAt)) return End.PROBE;
            }
        } catch (IOException e) {
            agent.platform.log("HTTPS fallback failed: " + e.getMessage());
            return End.FAILED;
        } catch (GeneralSecurityException e) {
            agent.platform.log("cannot sign the challenge: " + e.getMessage());
            return End.FAILED;
        }
    }

    /** Challenge and session (§15.1); null when the device is revoked. */
    private JSONObject openSession() throws IOException, GeneralSecurityException {
        Http.Response challenge = http.request(base + "/challenge", null, null);
        if (challenge.status != 200) throw new IOException("challenge answered " + challenge.status);
        String nonce = challenge.body.optString("nonce");
        JSONObject request = agent.helloBody();
        Json.put(request, "nonce", nonce);
        Json.put(request, "signature", Base64.encode(agent.currentKey().sign(("cartable-agent-auth:v1:" + nonce + ":" + agent.deviceId()).getBytes(UTF8))));
        Http.Response session = http.request(base + "/session", request, null);
        if (session.status == 403) return null;
        if (session.status != 200) throw new IOException("session answered " + session.status + " " + session.body.optString("code"));
        token = session.body.optString("token");
        agent.noteServerTime(session.body.optString("serverTime", null));
        return session.body;
    }

    /** One exchange: the answers, then the outbox oldest first, as much as fits (§15.2). */
    private Http.Response exchange() throws IOException {
        JSONArray messages = new JSONArray();
        int size = 0;
        List<JSONObject> sent = new ArrayList<JSONObject>();
        synchronized (lock) {
            dirty = false;
            sent.addAll(replies);
            replies.clear();
        }
        sent.addAll(agent.outbox.pending());
        for (JSONObject m : sent) {
            int length = m.toString().length();
            if (size + length > MAX_BODY && messages.length() > 0) {
                markDirty();
                break;
            }
            messages.put(m);
            size += length;
        }
        return http.request(base + "/exchange", Json.object("messages", messages), token);
    }

    /** Waits for the next poll or something to send; false when the WebSocket probe is due instead. */
    private boolean waitNext(long pollAt, long probeAt) {
        long deadline = Math.min(pollAt, probeAt);
        synchronized (lock) {
            try {
                for (long left = deadline - System.currentTimeMillis(); !dirty && left > 0; left = deadline - System.currentTimeMillis()) lock.wait(left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
            return dirty || System.currentTimeMillis() < probeAt;
        }
    }

    private void markDirty() {
        synchronized (lock) {
            dirty = true;
            lock.notifyAll();
        }
    }

    @Override
    public void outboxChanged(JSONObject message) {
        markDirty();
    }

    @Override
    public void reply(JSONObject message) {
        synchronized (lock) {
            replies.add(message);
        }
        markDirty();
    }

    @Override
    public void flush() {
        markDirty();
    }
}
