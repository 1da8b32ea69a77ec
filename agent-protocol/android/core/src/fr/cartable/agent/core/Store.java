package fr.cartable.agent.core;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.Charset;
import org.json.JSONArray;
import org.json.JSONObject;

/**
 * The agent's durable state in one JSON file: identity, outbox, the commands received. On
 * Android the folder is in device-protected storage, so that it is readable before the first
 * unlock (§25). Every change is written through a temporary file and a rename, so a crash
 * leaves the old state or the new one, never half of it.
 */
public final class Store {
    private static final Charset UTF8 = Charset.forName("UTF-8");
    private final File file;
    private JSONObject state;

    public Store(File folder) {
        folder.mkdirs();
        this.file = new File(folder, "agent-state.json");
        this.state = load();
    }

    private JSONObject load() {
        if (!file.exists()) return new JSONObject();
        try {
            InputStream in = new FileInputStream(file);
            try {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                byte[] buffer = new byte[8192];
                for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) out.write(buffer, 0, n);
                JSONObject parsed = Json.parse(new String(out.toByteArray(), UTF8));
                return parsed == null ? new JSONObject() : parsed;
            } finally {
                in.close();
            }
        } catch (IOException e) {
            return new JSONObject();
        }
    }

    public synchronized JSONObject get() {
        return state;
    }

    public synchronized String string(String key) {
        return state.isNull(key) ? null : state.optString(key, null);
    }

    public synchronized void set(String key, Object value) {
        Json.put(state, key, value == null ? JSONObject.NULL : value);
        save();
    }

    public synchronized JSONArray array(String key) {
        JSONArray a = state.optJSONArray(key);
        if (a == null) {
            a = new JSONArray();
            Json.put(state, key, a);
        }
        return a;
    }

    public synchronized JSONObject object(String key) {
        JSONObject o = state.optJSONObject(key);
        if (o == null) {
            o = new JSONObject();
            Json.put(state, key, o);
        }
        return o;
    }

    /** Writes the state as it is now (after changes made through array() or object()). */
    public synchronized void save() {
        File tmp = new File(file.getPath() + ".tmp");
        try {
            FileOutputStream out = new FileOutputStream(tmp);
            try {
                out.write(state.toString().getBytes(UTF8));
                out.getFD().sync();
            } finally {
                out.close();
            }
            if (!tmp.renameTo(file)) throw new IOException("cannot rename " + tmp);
        } catch (IOException e) {
            throw new IllegalStateException("cannot save the agent state: " + e.getMessage(), e);
        }
    }
}
