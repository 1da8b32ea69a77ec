package fr.cartable.agent.core;

import java.io.IOException;
import java.nio.charset.Charset;
import java.security.GeneralSecurityException;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.json.JSONObject;

/**
 * One WebSocket connection (§9): challenge, hello, welcome, then reports, commands, acks and
 * heartbeats until it closes. Frames are handled on the socket's reader thread; commands run on
 * the agent's command thread, so a slow command never stops acks and pings.
 */
final class Session implements WebSocketFactory.Listener, Channel {
    private static final Charset UTF8 = Charset.forName("UTF-8");
    /** An attempt that has not reached welcome within 30 s is a failure (§15.3). */
    private static final long HANDSHAKE_TIMEOUT_MS = 30000;

    private final Agent agent;
    private final WebSocketFactory sockets;
    private final CountDownLatch closed = new CountDownLatch(1);
    private volatile WebSocketFactory.Connection connection;
    private volatile boolean welcomed;
    private volatile long lastReceived;
    private volatile long lastPing;
    private volatile long welcomedAt;
    private volatile long heartbeatMs;
    private volatile int closeCode = 1006;

    Session(Agent agent, WebSocketFactory sockets) {
        this.agent = agent;
        this.sockets = sockets;
        this.heartbeatMs = agent.store.get().optInt("heartbeatSec", 60) * 1000L;
    }

    /** Connects and blocks until the connection closes; returns the close code. */
    int run() throws IOException, Agent.RefusedException {
        String url = agent.endpoint("ws");
        agent.requireSecure(url);
        lastReceived = System.currentTimeMillis();
        connection = sockets.open(url, this);
        try {
            while (!closed.await(1, TimeUnit.SECONDS)) tick();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            close(1001, "interrupted");
        }
        welcomed = false;
        agent.platform.log("connection closed: " + closeCode);
        return closeCode;
    }

    boolean welcomed() {
        return welcomedAt > 0;
    }

    /** Authenticated and open for at least a heartbeat: the backoff starts again from zero (§9.5). */
    boolean healthy() {
        return welcomedAt > 0 && System.currentTimeMillis() - welcomedAt >= heartbeatMs;
    }

    void close(int code, String reason) {
        WebSocketFactory.Connection c = connection;
        if (c != null) c.close(code, reason);
    }

    /** Heartbeat and dead-connection checks (§10). */
    private void tick() {
        long now = System.currentTimeMillis();
        long silence = now - lastReceived;
        if (welcomed ? silence > 2 * heartbeatMs : silence > HANDSHAKE_TIMEOUT_MS) {
            agent.platform.log("nothing received for " + silence / 1000 + " s: the connection is dead");
            close(1001, "no answer");
            return;
        }
        if (welcomed && now - lastPing >= heartbeatMs) {
            lastPing = now;
            send(Json.object("type", "ping", "id", UUID.randomUUID().toString(), "body", new JSONObject()));
        }
    }

    @Override
    public void outboxChanged(JSONObject message) {
        if (welcomed) send(message);
    }

    @Override
    public void reply(JSONObject message) {
        send(message);
    }

    private void send(JSONObject message) {
        WebSocketFactory.Connection c = connection;
        if (c != null) c.send(message.toString());
    }

    @Override
    public void onText(WebSocketFactory.Connection c, String text) {
        // The server's challenge can arrive before open() has returned: answering it must not
        // wait for the field, or the hello is lost and the server closes after its timeout.
        connection = c;
        lastReceived = System.currentTimeMillis();
        JSONObject message = Json.parse(text);
        if (message == null) return;
        String type = message.optString("type");
        String id = message.optString("id");
        JSONObject body = message.optJSONObject("body");
        if (body == null) body = new JSONObject();
        if (type.equals("challenge")) {
            hello(body.optString("nonce"));
        } else if (type.equals("welcome")) {
            welcome(body);
        } else if (welcomed) {
            agent.handle(message, this);
        } else if (type.equals("error")) {
            agent.platform.log("server error " + body.optString("code") + ": " + body.optString("message"));
        }
    }

    private void hello(String nonce) {
        String input = "cartable-agent-auth:v1:" + nonce + ":" + agent.deviceId();
        try {
            JSONObject body = agent.helloBody();
            Json.put(body, "signature", Base64.encode(agent.currentKey().sign(input.getBytes(UTF8))));
            send(Json.object("type", "hello", "id", UUID.randomUUID().toString(), "body", body));
        } catch (GeneralSecurityException e) {
            agent.platform.log("cannot sign the challenge: " + e.getMessage());
            close(1000, "no key");
        }
    }

    private void welcome(JSONObject body) {
        agent.noteServerTime(body.optString("serverTime", null));
        heartbeatMs = Math.max(5, body.optInt("heartbeatSec", 60)) * 1000L;
        welcomedAt = System.currentTimeMillis();
        lastPing = welcomedAt;
        welcomed = true;
        agent.platform.onState("connected", agent.deviceId());
        agent.authenticated(body, this);
    }

    @Override
    public void flush() {
        for (JSONObject message : agent.outbox.pending()) send(message);
    }

    @Override
    public void onClosed(WebSocketFactory.Connection c, int code, String reason) {
        closeCode = code;
        welcomed = false;
        closed.countDown();
    }
}
