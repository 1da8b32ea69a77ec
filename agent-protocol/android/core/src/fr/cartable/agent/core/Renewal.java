package fr.cartable.agent.core;

import java.io.ByteArrayInputStream;
import java.nio.charset.Charset;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.json.JSONArray;
import org.json.JSONObject;

/**
 * Certificate renewal with a new key (§20): requested when two thirds of the certificate's
 * validity have passed or when the server asks, at most one at a time; the new identity is
 * taken in one durable write, and the old key deleted after the first authentication with it.
 */
final class Renewal {
    static final String FIRST_ALIAS = "cartable-device";
    private static final Charset UTF8 = Charset.forName("UTF-8");

    private final Agent agent;
    private volatile boolean forced;

    Renewal(Agent agent) {
        this.agent = agent;
    }

    /** Renew at the next authentication whatever the dates (the harness's way to test it). */
    void force() {
        forced = true;
    }

    /** At each welcome and session response (§20.2), once authenticated with the current identity. */
    void authenticated(JSONObject welcome, List<String> serverCapabilities) {
        String old = agent.store.string("oldKeyAlias");
        if (old != null) {
            agent.keys.delete(old);
            agent.store.set("oldKeyAlias", null);
        }
        if (!serverCapabilities.contains("certificate_renewal") || agent.store.get().optJSONObject("renewal") != null) return;
        try {
            X509Certificate current = parse(agent.store.string("certificate"));
            long from = current.getNotBefore().getTime();
            long until = current.getNotAfter().getTime();
            boolean due = agent.serverNow() >= from + (until - from) * 2 / 3;
            if (due || forced || welcome.optBoolean("renewCertificate", false)) start();
        } catch (GeneralSecurityException e) {
            agent.platform.log("certificate unreadable, no renewal: " + e.getMessage());
        }
    }

    private void start() throws GeneralSecurityException {
        forced = false;
        String alias = FIRST_ALIAS + "-" + Long.toString(System.currentTimeMillis(), 36);
        String csr = Csr.pem(agent.keys.key(alias), agent.platform.packageName());
        byte[] proof = agent.currentKey().sign(("cartable-agent-renew:v1:" + agent.deviceId() + ":" + csr).getBytes(UTF8));
        // The alias is stored before the request leaves, so an answer after a restart still finds its key.
        agent.store.set("renewal", Json.object("alias", alias));
        JSONObject message = agent.queue("certificate.renew", Json.object("csr", csr, "signature", Base64.encode(proof)));
        synchronized (agent.store) {
            Json.put(agent.store.get().optJSONObject("renewal"), "messageId", message.optString("id"));
            agent.store.save();
        }
        agent.platform.log("certificate renewal requested");
    }

    /** certificate.issued (§20.3): checked, then the new identity in one write. */
    void issued(JSONObject message) {
        JSONObject renewal = agent.store.get().optJSONObject("renewal");
        if (renewal == null || !message.optString("ref").equalsIgnoreCase(renewal.optString("messageId"))) return;
        JSONObject body = message.optJSONObject("body");
        String alias = renewal.optString("alias");
        try {
            String pem = body.optString("certificate");
            X509Certificate cert = parse(pem);
            JSONArray known = agent.store.get().optJSONArray("chain");
            JSONArray chain = body.optJSONArray("chain");
            if (chain == null || chain.length() == 0) chain = known;
            // Issued by the first of the chain, which ends at the CA received at enrollment.
            cert.checkValidity();
            cert.verify(parse(chain.optString(0)).getPublicKey());
            if (!Arrays.equals(parse(chain.optString(chain.length() - 1)).getEncoded(), parse(known.optString(known.length() - 1)).getEncoded())) {
                throw new GeneralSecurityException("not this server's device CA");
            }
            if (!Arrays.equals(cert.getPublicKey().getEncoded(), agent.keys.key(alias).publicKey().getEncoded())) throw new GeneralSecurityException("not the new key");
            if (!cert.getSubjectX500Principal().getName().toLowerCase(Locale.ROOT).contains("cn=" + agent.deviceId())) throw new GeneralSecurityException("not this device");
            synchronized (agent.store) {
                JSONObject state = agent.store.get();
                Json.put(state, "oldKeyAlias", state.optString("keyAlias", FIRST_ALIAS));
                Json.put(state, "keyAlias", alias);
                Json.put(state, "certificate", pem);
                Json.put(state, "chain", chain);
                state.remove("renewal");
                agent.store.save();
            }
            agent.platform.log("new device certificate until " + Times.format(cert.getNotAfter().getTime()));
        } catch (GeneralSecurityException | RuntimeException e) {
            agent.platform.log("issued certificate refused: " + e);
            discard(alias);
        }
    }

    /** An error answering the renewal: the new key goes, and the next welcome tries again. */
    void refused(JSONObject message) {
        JSONObject renewal = agent.store.get().optJSONObject("renewal");
        if (renewal == null || !message.optString("ref").equalsIgnoreCase(renewal.optString("messageId"))) return;
        JSONObject body = message.optJSONObject("body");
        agent.platform.log("certificate renewal refused: " + (body == null ? "" : body.optString("code")));
        discard(renewal.optString("alias"));
    }

    private void discard(String alias) {
        agent.keys.delete(alias);
        synchronized (agent.store) {
            agent.store.get().remove("renewal");
            agent.store.save();
        }
    }

    static X509Certificate parse(String pem) throws GeneralSecurityException {
        return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(pem.getBytes(UTF8)));
    }
}
