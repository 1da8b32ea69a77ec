package fr.cartable.agent;

import android.app.Activity;
import android.content.Context;
import android.content.Intent;
import android.graphics.Color;
import android.os.Bundle;
import android.view.Gravity;
import android.view.View;
import android.widget.Button;
import android.widget.LinearLayout;
import android.widget.TextView;

/**
 * A message for the tablet's user (the message command), or the lost-mode screen: full screen,
 * without a dismiss button, until lost mode is turned off.
 */
public final class MessageActivity extends Activity {
    static final String EXTRA_TITLE = "title";
    static final String EXTRA_TEXT = "text";
    static final String EXTRA_LOST = "lost";
    static final String EXTRA_CLOSE = "close";

    static void show(Context context, String title, String text, boolean lost) {
        Intent i = new Intent(context, MessageActivity.class).addFlags(Intent.FLAG_ACTIVITY_NEW_TASK | Intent.FLAG_ACTIVITY_CLEAR_TOP);
        i.putExtra(EXTRA_TITLE, title).putExtra(EXTRA_TEXT, text).putExtra(EXTRA_LOST, lost);
        context.startActivity(i);
    }

    static void close(Context context) {
        context.startActivity(new Intent(context, MessageActivity.class).addFlags(Intent.FLAG_ACTIVITY_NEW_TASK | Intent.FLAG_ACTIVITY_CLEAR_TOP).putExtra(EXTRA_CLOSE, true));
    }

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        render(getIntent());
    }

    @Override
    protected void onNewIntent(Intent intent) {
        super.onNewIntent(intent);
        setIntent(intent);
        render(intent);
    }

    private void render(Intent intent) {
        if (intent.getBooleanExtra(EXTRA_CLOSE, false)) {
            finish();
            return;
        }
        boolean lost = intent.getBooleanExtra(EXTRA_LOST, false);
        LinearLayout layout = new LinearLayout(this);
        layout.setOrientation(LinearLayout.VERTICAL);
        layout.setGravity(Gravity.CENTER);
        layout.setPadding(48, 48, 48, 48);
        layout.setBackgroundColor(lost ? Color.BLACK : Color.WHITE);
        String title = intent.getStringExtra(EXTRA_TITLE);
        if (title != null) layout.addView(text(title, 28, lost));
        layout.addView(text(intent.getStringExtra(EXTRA_TEXT), 20, lost));
        if (!lost) {
            Button ok = new Button(this);
            ok.setText(R.string.ok);
            ok.setOnClickListener(new View.OnClickListener() {
                @Override
                public void onClick(View v) {
                    finish();
                }
            });
            layout.addView(ok);
        }
        setContentView(layout);
    }

    private TextView text(String value, int sp, boolean lost) {
        TextView view = new TextView(this);
        view.setText(value == null ? "" : value);
        view.setTextSize(sp);
        view.setGravity(Gravity.CENTER);
        view.setTextColor(lost ? Color.WHITE : Color.BLACK);
        view.setPadding(0, 16, 0, 16);
        return view;
    }

    @Override
    public void onBackPressed() {
        // The lost-mode screen stays until lost_mode_off.
        if (!getIntent().getBooleanExtra(EXTRA_LOST, false)) super.onBackPressed();
    }
}
