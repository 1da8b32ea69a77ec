package fr.cartable.agent.core;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.Charset;
import org.json.JSONException;
import org.json.JSONObject;

/** JSON over HTTP(S) with HttpURLConnection, which validates TLS with the platform trust store. */
public final class Http {
    private static final Charset UTF8 = Charset.forName("UTF-8");

    /** A response: its status and its JSON body ({@code {}} when the body is not JSON). */
    public static final class Response {
        public final int status;
        public final JSONObject body;

        Response(int status, JSONObject body) {
            this.status = status;
            this.body = body;
        }
    }

    private final int timeoutMs;

    public Http(int timeoutMs) {
        this.timeoutMs = timeoutMs;
    }

    public Response postJson(String url, JSONObject body) throws IOException {
        return request(url, body, null);
    }

    /** GET when body is null, else POST of the JSON body; bearer may be null. */
    public Response request(String url, JSONObject body, String bearer) throws IOException {
        HttpURLConnection c = (HttpURLConnection) new URL(url).openConnection();
        try {
            c.setConnectTimeout(timeoutMs);
            c.setReadTimeout(timeoutMs);
            c.setRequestProperty("Accept", "application/json, application/problem+json");
            if (bearer != null) c.setRequestProperty("Authorization", "Bearer " + bearer);
            if (body != null) {
                c.setRequestMethod("POST");
                c.setDoOutput(true);
                c.setRequestProperty("Content-Type", "application/json");
                byte[] data = body.toString().getBytes(UTF8);
                c.setFixedLengthStreamingMode(data.length);
                OutputStream out = c.getOutputStream();
                out.write(data);
                out.close();
            }
            int status = c.getResponseCode();
            InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream();
            String text = in == null ? "" : read(in);
            try {
                return new Response(status, text.isEmpty() ? new JSONObject() : new JSONObject(text));
            } catch (JSONException e) {
                return new Response(status, new JSONObject());
            }
        } finally {
            c.disconnect();
        }
    }

    private static String read(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) out.write(buffer, 0, n);
        in.close();
        return new String(out.toByteArray(), UTF8);
    }
}
