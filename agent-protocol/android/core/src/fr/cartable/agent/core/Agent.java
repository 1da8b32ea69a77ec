package fr.cartable.agent.core;

import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import org.json.JSONArray;
import org.json.JSONObject;

/**
 * The agent's protocol engine, with no Android in it: enrollment (§7), then a WebSocket session
 * kept open with reconnection, backoff and jitter (§9.5). Android runs it in a foreground
 * service; the desktop test harness runs the very same classes against a real server.
 */
public final class Agent {
    public static final int PROTOCOL = 1;

    /** An enrollment the server refused for good (token unknown, expired, revoked, exhausted…). */
    public static final class RefusedException extends Exception {
        public final String code;

        RefusedException(String code, String message) {
            super(message);
            this.code = code;
        }
    }

    final Platform platform;
    final Store store;
    final Outbox outbox;
    final DeviceKeys keys;
    final Renewal renewal;
    final LostMode lostMode;
    private final WebSocketFactory sockets;
    private final Http http;
    private final boolean allowCleartext;
    private final SecureRandom random = new SecureRandom();
    private final Object wakeLock = new Object();
    private volatile boolean running;
    private volatile boolean woken;
    private volatile Channel channel;
    private Thread thread;
    private long maxBackoffMs = 300000;
    /** The WebSocket probe's first delay while on the HTTPS fallback (§15.3), and its ceiling. */
    private long firstProbeMs = 30000;
    private static final long MAX_PROBE_MS = 15 * 60 * 1000;
    final CommandRunner commands;

    public Agent(Platform platform, Store store, DeviceKeys keys, WebSocketFactory sockets, Http http, boolean allowCleartext) {
        this.platform = platform;
        this.store = store;
        this.keys = keys;
        this.renewal = new Renewal(this);
        this.lostMode = new LostMode(this);
        this.sockets = sockets;
        this.http = http;
        this.allowCleartext = allowCleartext;
        this.outbox = new Outbox(store);
        this.commands = new CommandRunner(this);
    }

    /** The longest wait between attempts (300 s in the protocol; tests shorten it). */
    public void setMaxBackoffMs(long ms) {
        maxBackoffMs = ms;
    }

    /** The first WebSocket probe's delay on the HTTPS fallback (30 s in the protocol; tests shorten it). */
    public void setFirstProbeMs(long ms) {
        firstProbeMs = ms;
    }

    /** Records the provisioning extras (§6): the server URL and the enrollment token. */
    public void configure(String serverUrl, String token) {
        store.set("serverUrl", serverUrl.replaceAll("/+$", ""));
        store.set("token", token);
        // The loop may be waiting after finding no token (Android can start the agent before provisioning ends).
        wake();
    }

    /** Lost mode's location interval (5 minutes in the protocol; tests shorten it). */
    public void setLostModeIntervalMs(long ms) {
        lostMode.setIntervalMs(ms);
    }

    /** The params of the lost_mode_on in force (message, phone, footnote), or null: the shell shows them again after a reboot. */
    public JSONObject lostModeParams() {
        JSONObject lost = lostMode.current();
        return lost == null ? null : lost.optJSONObject("params");
    }

    /** Requests a new certificate and key at the next connection, whatever the dates (§20.2). */
    public void renewCertificateAtNextConnection() {
        renewal.force();
    }

    /** The key of the current certificate. */
    DeviceKey currentKey() throws GeneralSecurityException {
        return keys.key(store.get().optString("keyAlias", Renewal.FIRST_ALIAS));
    }

    public boolean enrolled() {
        return store.string("deviceId") != null;
    }

    public String deviceId() {
        return store.string("deviceId");
    }

    /** POST /agent/v1/enroll with a CSR of the device key; stores the identity (§7). */
    public void enroll() throws IOException, RefusedException, GeneralSecurityException {
        String serverUrl = store.string("serverUrl");
        String token = store.string("token");
        if (serverUrl == null || token == null) throw new RefusedException("not_provisioned", "no server URL or enrollment token");
        requireSecure(serverUrl);
        platform.onState("enrolling", serverUrl);
        JSONObject request = Json.object("token", token, "csr", Csr.pem(currentKey(), platform.packageName()), "hardware", platform.hardware(),
                "agent", Json.object("packageName", platform.packageName(), "versionName", platform.versionName(), "versionCode", platform.versionCode()),
                "capabilities", Json.array(platform.capabilities()));
        Http.Response response = http.postJson(serverUrl + "/agent/v1/enroll", request);
        if (response.status != 201) {
            String code = response.body.optString("code", "http_" + response.status);
            String detail = response.body.optString("detail", response.body.optString("title", ""));
            platform.log("enrollment refused: " + response.status + " " + code + " " + detail);
            // Server errors, rate limits and a serial still in use are worth retrying; the rest needs a person (§7.4).
            if (response.status >= 500 || response.status == 429 || response.status == 409) throw new IOException("enrollment: " + code);
            throw new RefusedException(code, detail);
        }
        JSONObject body = response.body;
        JSONObject endpoints = body.optJSONObject("endpoints");
        requireSecure(endpoints.optString("ws"));
        store.set("deviceId", body.optString("deviceId").toLowerCase(Locale.ROOT));
        store.set("certificate", body.optString("certificate"));
        store.set("chain", body.optJSONArray("chain"));
        store.set("endpoints", endpoints);
        store.set("heartbeatSec", body.optInt("heartbeatSec", 60));
        noteServerTime(body.optString("serverTime", null));
        store.set("firstReports", true);
        store.set("token", null);
        platform.log("enrolled as " + deviceId());
        JSONObject desired = body.optJSONObject("desiredState");
        if (desired != null) commands.applyDesiredState(desired);
    }

    /** Starts the connection loop on its own thread. */
    public synchronized void start() {
        if (running) return;
        running = true;
        lostMode.resume();
        thread = new Thread(new Runnable() {
            @Override
            public void run() {
                loop();
            }
        }, "cartable-agent");
        thread.start();
    }

    public void stop() {
        running = false;
        wake();
        Channel c = channel;
        if (c instanceof Session) ((Session) c).close(1001, "agent stopping");
        commands.shutdown();
        lostMode.shutdown();
    }

    /** Cancels the wait before the next attempt (a network came back, a push arrived). */
    public void wake() {
        synchronized (wakeLock) {
            woken = true;
            wakeLock.notifyAll();
        }
    }

    private void loop() {
        int attempt = 0;
        int wsFailures = 0;
        long probeDelay = firstProbeMs;
        while (running) {
            long minimumWait = 0;
            try {
                if (!enrolled()) enroll();
                Session s = new Session(this, sockets);
                channel = s;
                platform.onState("connecting", endpoint("ws"));
                int closeCode;
                try {
                    closeCode = s.run();
                } catch (IOException e) {
                    platform.log("WebSocket failed: " + e.getMessage());
                    closeCode = 1006;
                }
                channel = null;
                if (s.healthy()) attempt = 0;
                if (s.welcomed()) {
                    wsFailures = 0;
                    probeDelay = firstProbeMs;
                } else if (closeCode < 4400 || closeCode > 4499) {
                    wsFailures++;
                }
                if (closeCode == 4403) {
                    platform.onState("stopped", "device revoked, wiped or retired: re-enrollment needed");
                    minimumWait = 24L * 3600 * 1000;
                } else if (closeCode == 4401 || closeCode == 4400) {
                    attempt = Math.max(attempt, 9);
                } else if (closeCode == 4409) {
                    minimumWait = maxBackoffMs;
                } else if (wsFailures >= 3 && endpoint("http") != null) {
                    // From the third WebSocket failure in a row, HTTPS at once (§15.3).
                    Fallback f = new Fallback(this, http);
                    channel = f;
                    long probeAt = System.currentTimeMillis() + probeDelay / 2 + (long) (random.nextDouble() * (probeDelay / 2));
                    Fallback.End end = f.run(probeAt);
                    channel = null;
                    if (f.established()) attempt = 0;
                    if (end == Fallback.End.REVOKED) {
                        platform.onState("stopped", "device revoked, wiped or retired: re-enrollment needed");
                        minimumWait = 24L * 3600 * 1000;
                    } else if (end == Fallback.End.PROBE) {
                        probeDelay = Math.min(probeDelay * 2, MAX_PROBE_MS);
                        continue;
                    }
                }
            } catch (RefusedException e) {
                platform.onState("stopped", e.code);
                minimumWait = 24L * 3600 * 1000;
            } catch (IOException e) {
                platform.log("connection failed: " + e.getMessage());
            } catch (GeneralSecurityException e) {
                platform.log("device key unusable: " + e.getMessage());
            } catch (RuntimeException e) {
                platform.log("unexpected: " + e);
            }
            channel = null;
            if (!running) break;
            long ceiling = Math.min(maxBackoffMs, 1000L << Math.min(attempt, 20));
            long delay = Math.max(minimumWait, (long) (random.nextDouble() * ceiling));
            attempt++;
            sleep(delay);
        }
    }

    private void sleep(long ms) {
        long until = System.currentTimeMillis() + ms;
        synchronized (wakeLock) {
            woken = false;
            for (long left = ms; left > 0 && !woken && running; left = until - System.currentTimeMillis()) {
                try {
                    wakeLock.wait(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    String endpoint(String name) {
        JSONObject endpoints = store.get().optJSONObject("endpoints");
        return endpoints == null ? null : endpoints.optString(name, null);
    }

    /** Production builds refuse cleartext URLs wherever they come from (§3). */
    void requireSecure(String url) throws RefusedException {
        String lower = url == null ? "" : url.toLowerCase(Locale.ROOT);
        if (allowCleartext ? lower.startsWith("http") || lower.startsWith("ws") : lower.startsWith("https://") || lower.startsWith("wss://")) return;
        throw new RefusedException("insecure_url", "the server address is not secure: " + url);
    }

    void noteServerTime(String serverTime) {
        long server = serverTime == null ? -1 : Times.parse(serverTime);
        if (server > 0) store.set("skewMs", server - System.currentTimeMillis());
    }

    /** Device time corrected by the last known skew (§21). */
    long serverNow() {
        return System.currentTimeMillis() + store.get().optLong("skewMs", 0);
    }

    /** Queues an outbox message and sends it now if a session is up. */
    JSONObject queue(String type, JSONObject body) {
        JSONObject message = outbox.add(type, body);
        Channel c = channel;
        if (c != null) c.outboxChanged(message);
        return message;
    }

    void requeue(JSONObject message) {
        outbox.requeue(message);
        Channel c = channel;
        if (c != null) c.outboxChanged(message);
    }

    /**
     * Once authenticated on either transport (welcome, or an HTTPS session): the desired state,
     * the outbox oldest first, then a fresh status, and full reports when due (§9.1).
     */
    void authenticated(JSONObject welcome, Channel through) {
        JSONObject desired = welcome.optJSONObject("desiredState");
        if (desired != null) commands.applyDesiredState(desired);
        commands.afterWelcome();
        through.flush();
        JSONArray caps = welcome.optJSONArray("capabilities");
        List<String> serverCapabilities = new ArrayList<String>();
        for (int i = 0; caps != null && i < caps.length(); i++) serverCapabilities.add(caps.optString(i));
        renewal.authenticated(welcome, serverCapabilities);
        boolean first = store.get().optBoolean("firstReports", false);
        long lastInventory = store.get().optLong("lastInventoryAt", 0);
        if (first || System.currentTimeMillis() - lastInventory > 24L * 3600 * 1000) {
            sendFullReports();
        } else {
            sendStatus();
        }
        if (first) {
            event("enrollment_complete", null);
            store.set("firstReports", false);
        }
    }

    /** A message from the server once authenticated, whichever the transport. */
    void handle(JSONObject message, Channel from) {
        String type = message.optString("type");
        String id = message.optString("id");
        JSONObject body = message.optJSONObject("body");
        if (body == null) body = new JSONObject();
        if (type.equals("ack")) {
            String ref = message.optString("ref");
            outbox.acked(ref);
            commands.acked(ref);
        } else if (type.equals("ping")) {
            from.reply(answer("pong", id, new JSONObject()));
        } else if (type.equals("command")) {
            from.reply(answer("command.ack", id, Json.object("commandId", body.optString("commandId"))));
            commands.receive(new Command(body));
        } else if (type.equals("command.cancel")) {
            commands.cancel(body.optString("commandId"));
            from.reply(answer("ack", id, new JSONObject()));
        } else if (type.equals("report.request")) {
            from.reply(answer("ack", id, new JSONObject()));
            commands.reportRequest(body);
        } else if (type.equals("nudge")) {
            from.flush();
            sendStatus();
        } else if (type.equals("certificate.issued")) {
            renewal.issued(message);
        } else if (type.equals("error")) {
            platform.log("server error " + body.optString("code") + ": " + body.optString("message"));
            renewal.refused(message);
        }
        // Unknown types are ignored (§4.2); pong only proves the connection is alive.
    }

    private static JSONObject answer(String type, String ref, JSONObject body) {
        return Json.object("type", type, "id", UUID.randomUUID().toString(), "ref", ref, "body", body);
    }

    /** The hello body (§11.2), signature left to the session. */
    JSONObject helloBody() {
        JSONObject body = Json.object("deviceId", deviceId(), "certificate", store.string("certificate"), "protocol", Json.object("min", PROTOCOL, "max", PROTOCOL),
                "capabilities", Json.array(platform.capabilities()), "agent", Json.object("versionName", platform.versionName(), "versionCode", platform.versionCode()),
                "bootId", platform.bootId());
        JSONArray recent = store.get().optJSONArray("recentCommandIds");
        if (recent != null && recent.length() > 0) Json.put(body, "lastCommandIds", recent);
        if (store.get().has("appliedStateVersion")) Json.put(body, "appliedStateVersion", store.get().optInt("appliedStateVersion"));
        return body;
    }

    void sendStatus() {
        queue("report.status", platform.status());
    }

    void sendFullReports() {
        queue("report.inventory", platform.inventory());
        JSONObject apps = platform.apps();
        Json.put(apps, "full", true);
        queue("report.apps", apps);
        sendStatus();
        store.set("lastInventoryAt", System.currentTimeMillis());
    }

    void event(String kind, JSONObject data) {
        JSONObject e = Json.object("kind", kind, "at", Times.format(serverNow()));
        if (data != null) Json.put(e, "data", data);
        JSONArray events = new JSONArray();
        events.put(e);
        queue("report.events", Json.object("events", events));
    }
}
