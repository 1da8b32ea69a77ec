package fr.cartable.agent.core;

import java.util.Calendar;
import java.util.GregorianCalendar;
import java.util.Locale;
import java.util.TimeZone;

/** RFC 3339 date-times without java.time, which Android has only from API 26. */
public final class Times {
    private static final TimeZone UTC = TimeZone.getTimeZone("UTC");

    private Times() {}

    /** Milliseconds since the epoch of e.g. 2026-12-01T09:30:00.250+01:00; -1 when unreadable. */
    public static long parse(String text) {
        try {
            GregorianCalendar c = new GregorianCalendar(UTC, Locale.ROOT);
            c.clear();
            c.set(num(text, 0, 4), num(text, 5, 7) - 1, num(text, 8, 10), num(text, 11, 13), num(text, 14, 16), num(text, 17, 19));
            long millis = c.getTimeInMillis();
            int i = 19;
            if (i < text.length() && text.charAt(i) == '.') {
                int start = ++i;
                while (i < text.length() && Character.isDigit(text.charAt(i))) i++;
                String fraction = (text.substring(start, i) + "000").substring(0, 3);
                millis += Integer.parseInt(fraction);
            }
            char zone = Character.toUpperCase(text.charAt(i));
            if (zone == 'Z') return millis;
            int offset = (num(text, i + 1, i + 3) * 60 + num(text, i + 4, i + 6)) * 60000;
            return zone == '+' ? millis - offset : millis + offset;
        } catch (RuntimeException e) {
            return -1;
        }
    }

    public static String format(long millis) {
        Calendar c = new GregorianCalendar(UTC, Locale.ROOT);
        c.setTimeInMillis(millis);
        return String.format(Locale.ROOT, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", c.get(Calendar.YEAR), c.get(Calendar.MONTH) + 1,
                c.get(Calendar.DAY_OF_MONTH), c.get(Calendar.HOUR_OF_DAY), c.get(Calendar.MINUTE), c.get(Calendar.SECOND), c.get(Calendar.MILLISECOND));
    }

    private static int num(String text, int from, int to) {
        return Integer.parseInt(text.substring(from, to));
    }
}
