package fr.cartable.agent;

import android.content.Context;
import android.media.AudioAttributes;
import android.media.AudioManager;
import android.media.Ringtone;
import android.media.RingtoneManager;
import android.net.Uri;
import android.os.Build;
import android.util.Log;
import fr.cartable.agent.core.Outcome;

/**
 * lost_mode_sound (protocol §13.1): the alarm sound at the alarm stream's full volume for about a
 * minute, so that someone near a lost tablet hears it. The core has checked that lost mode is on.
 */
final class LostModeSound {
    private static final long DURATION_MS = 60000;

    private LostModeSound() {}

    static Outcome play(Context context) {
        Uri uri = RingtoneManager.getDefaultUri(RingtoneManager.TYPE_ALARM);
        if (uri == null) uri = RingtoneManager.getDefaultUri(RingtoneManager.TYPE_RINGTONE);
        final Ringtone ringtone = uri == null ? null : RingtoneManager.getRingtone(context, uri);
        if (ringtone == null) return Outcome.failed("UNKNOWN", "This tablet has no alarm sound.");
        AudioManager audio = (AudioManager) context.getSystemService(Context.AUDIO_SERVICE);
        try {
            audio.setStreamVolume(AudioManager.STREAM_ALARM, audio.getStreamMaxVolume(AudioManager.STREAM_ALARM), 0);
        } catch (SecurityException e) {
            // Do Not Disturb may forbid changing volumes; the alarm stream still plays at its level.
            Log.w(Compat.TAG, "alarm volume unchanged: " + e);
        }
        ringtone.setAudioAttributes(new AudioAttributes.Builder().setUsage(AudioAttributes.USAGE_ALARM).build());
        // Before Android 9 a ringtone plays once; from 9 it loops until stopped.
        if (Build.VERSION.SDK_INT >= 28) Compat.call(ringtone, "setLooping", new Class<?>[] {boolean.class}, true);
        ringtone.play();
        Thread stop = new Thread(new Runnable() {
            @Override
            public void run() {
                try {
                    Thread.sleep(DURATION_MS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                ringtone.stop();
            }
        }, "cartable-lost-mode-sound");
        stop.setDaemon(true);
        stop.start();
        return Outcome.succeeded();
    }
}
