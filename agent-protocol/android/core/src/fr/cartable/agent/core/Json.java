package fr.cartable.agent.core;

import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;

/** org.json without its checked exceptions, for values known to be valid. */
public final class Json {
    private Json() {}

    public static JSONObject put(JSONObject o, String key, Object value) {
        try {
            return o.put(key, value);
        } catch (JSONException e) {
            throw new IllegalArgumentException(key, e);
        }
    }

    /** {@code object("a", 1, "b", "x")}: pairs of key and value. */
    public static JSONObject object(Object... pairs) {
        JSONObject o = new JSONObject();
        for (int i = 0; i < pairs.length; i += 2) put(o, (String) pairs[i], pairs[i + 1]);
        return o;
    }

    public static JSONArray array(Iterable<String> values) {
        JSONArray a = new JSONArray();
        for (String v : values) a.put(v);
        return a;
    }

    public static JSONObject parse(String text) {
        try {
            return new JSONObject(text);
        } catch (JSONException e) {
            return null;
        }
    }
}
