package fr.cartable.agent.desktop;

import fr.cartable.agent.core.WebSocketFactory;
import java.io.File;
import java.io.IOException;

/**
 * The agent's WebSocket client, failing while a file exists: a network that blocks WebSockets.
 * With a delay, a connection is handed over that long after it opened, as on a tablet whose
 * thread is not scheduled at once: the server's first frame then comes before it.
 */
final class BlockableWebSocket implements WebSocketFactory {
    private final WebSocketFactory inner;
    private final File blocker;
    private final long handOverDelayMs;

    BlockableWebSocket(WebSocketFactory inner, File blocker, long handOverDelayMs) {
        this.inner = inner;
        this.blocker = blocker;
        this.handOverDelayMs = handOverDelayMs;
    }

    @Override
    public Connection open(String url, Listener listener) throws IOException {
        if (blocker != null && blocker.exists()) throw new IOException("WebSocket blocked by the network (test)");
        Connection connection = inner.open(url, listener);
        if (handOverDelayMs > 0) {
            try {
                Thread.sleep(handOverDelayMs);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return connection;
    }
}
