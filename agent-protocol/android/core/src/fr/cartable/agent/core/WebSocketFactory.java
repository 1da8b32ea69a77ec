package fr.cartable.agent.core;

import java.io.IOException;

/**
 * Opens WebSocket connections. The agent ships {@link SocketWebSocket} (RFC 6455 over a plain
 * or TLS socket), which runs the same on Android 7 and on the desktop JVM; tests may give
 * another implementation.
 */
public interface WebSocketFactory {
    Connection open(String url, Listener listener) throws IOException;

    interface Connection {
        /** Sends one text frame; false when the connection is already closed. */
        boolean send(String text);

        void close(int code, String reason);
    }

    interface Listener {
        void onText(Connection connection, String text);

        /** Called once, whoever closed: code 1006 when the connection was lost without a close frame. */
        void onClosed(Connection connection, int code, String reason);
    }
}
