package fr.cartable.agent.desktop;

import fr.cartable.agent.core.WebSocketFactory;
import java.io.File;
import java.io.IOException;

/** The agent's WebSocket client, failing while a file exists: a network that blocks WebSockets. */
final class BlockableWebSocket implements WebSocketFactory {
    private final WebSocketFactory inner;
    private final File blocker;

    BlockableWebSocket(WebSocketFactory inner, File blocker) {
        this.inner = inner;
        this.blocker = blocker;
    }

    @Override
    public Connection open(String url, Listener listener) throws IOException {
        if (blocker != null && blocker.exists()) throw new IOException("WebSocket blocked by the network (test)");
        return inner.open(url, listener);
    }
}
