package fr.cartable.agent.core;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.Charset;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Locale;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

/**
 * A small RFC 6455 client: text frames only, as the protocol uses (§3). It needs nothing above
 * Android API 23 (no OkHttp: Debian's has invokedynamic, which dx cannot translate). TLS uses
 * the platform trust store and checks the host name explicitly, because a bare SSLSocket does
 * not on Android.
 */
public final class SocketWebSocket implements WebSocketFactory {
    private static final Charset UTF8 = Charset.forName("UTF-8");
    private static final String GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    /** Larger than the protocol's 256 KiB message limit, to tolerate a server that allows more. */
    private static final int MAX_MESSAGE = 1 << 20;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final int connectTimeoutMs;

    public SocketWebSocket(int connectTimeoutMs) {
        this.connectTimeoutMs = connectTimeoutMs;
    }

    @Override
    public Connection open(String url, Listener listener) throws IOException {
        URI uri = URI.create(url);
        boolean secure = "wss".equalsIgnoreCase(uri.getScheme());
        if (!secure && !"ws".equalsIgnoreCase(uri.getScheme())) throw new IOException("not a WebSocket URL: " + url);
        String host = uri.getHost();
        int port = uri.getPort() > 0 ? uri.getPort() : secure ? 443 : 80;
        Socket socket = new Socket();
        try {
            socket.connect(new InetSocketAddress(host, port), connectTimeoutMs);
            socket.setTcpNoDelay(true);
            if (secure) {
                SSLSocket tls = (SSLSocket) ((SSLSocketFactory) SSLSocketFactory.getDefault()).createSocket(socket, host, port, true);
                tls.startHandshake();
                if (!HttpsURLConnection.getDefaultHostnameVerifier().verify(host, tls.getSession())) {
                    throw new IOException("the server's certificate does not match " + host);
                }
                socket = tls;
            }
            socket.setSoTimeout(connectTimeoutMs);
            String path = (uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath()) + (uri.getRawQuery() != null ? "?" + uri.getRawQuery() : "");
            handshake(socket, host + (uri.getPort() > 0 ? ":" + port : ""), path);
            socket.setSoTimeout(0);
        } catch (IOException e) {
            closeQuietly(socket);
            throw e;
        }
        final SocketConnection connection = new SocketConnection(socket, listener);
        Thread reader = new Thread(new Runnable() {
            @Override
            public void run() {
                connection.readLoop();
            }
        }, "cartable-ws-reader");
        reader.setDaemon(true);
        reader.start();
        return connection;
    }

    private static void handshake(Socket socket, String hostHeader, String path) throws IOException {
        byte[] nonce = new byte[16];
        RANDOM.nextBytes(nonce);
        String key = Base64.encode(nonce);
        String request = "GET " + path + " HTTP/1.1\r\nHost: " + hostHeader + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\nUser-Agent: cartable-agent\r\n\r\n";
        OutputStream out = socket.getOutputStream();
        out.write(request.getBytes(UTF8));
        out.flush();
        InputStream in = socket.getInputStream();
        String status = readLine(in);
        if (!status.startsWith("HTTP/1.1 101")) throw new IOException("WebSocket upgrade refused: " + status);
        String accept = null;
        for (String line = readLine(in); !line.isEmpty(); line = readLine(in)) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().toLowerCase(Locale.ROOT).equals("sec-websocket-accept")) accept = line.substring(colon + 1).trim();
        }
        if (!expectedAccept(key).equals(accept)) throw new IOException("bad Sec-WebSocket-Accept");
    }

    static String expectedAccept(String key) {
        try {
            return Base64.encode(MessageDigest.getInstance("SHA-1").digest((key + GUID).getBytes(UTF8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (;;) {
            int b = in.read();
            if (b < 0) throw new EOFException("connection closed during the WebSocket handshake");
            if (b == '\n') break;
            if (b != '\r') line.write(b);
            if (line.size() > 8192) throw new IOException("handshake line too long");
        }
        return new String(line.toByteArray(), UTF8);
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // Already gone.
        }
    }

    private static final class SocketConnection implements Connection {
        private final Socket socket;
        private final Listener listener;
        private final Object writeLock = new Object();
        private boolean closeSent;
        private boolean closedReported;

        SocketConnection(Socket socket, Listener listener) {
            this.socket = socket;
            this.listener = listener;
        }

        @Override
        public boolean send(String text) {
            try {
                writeFrame(0x1, text.getBytes(UTF8));
                return true;
            } catch (IOException e) {
                closeQuietly(socket);
                return false;
            }
        }

        @Override
        public void close(int code, String reason) {
            byte[] r = reason.getBytes(UTF8);
            byte[] payload = new byte[2 + Math.min(r.length, 120)];
            payload[0] = (byte) (code >> 8);
            payload[1] = (byte) code;
            System.arraycopy(r, 0, payload, 2, payload.length - 2);
            try {
                writeFrame(0x8, payload);
            } catch (IOException ignored) {
                // The socket is closed below anyway.
            }
            closeQuietly(socket);
            reportClosed(code, reason);
        }

        private void writeFrame(int opcode, byte[] payload) throws IOException {
            synchronized (writeLock) {
                if (closeSent) throw new IOException("closed");
                if (opcode == 0x8) closeSent = true;
                ByteArrayOutputStream frame = new ByteArrayOutputStream(payload.length + 14);
                frame.write(0x80 | opcode);
                if (payload.length < 126) {
                    frame.write(0x80 | payload.length);
                } else if (payload.length < 65536) {
                    frame.write(0x80 | 126);
                    frame.write(payload.length >> 8);
                    frame.write(payload.length);
                } else {
                    frame.write(0x80 | 127);
                    for (int i = 7; i >= 0; i--) frame.write(i >= 4 ? 0 : payload.length >>> (8 * i));
                }
                byte[] mask = new byte[4];
                RANDOM.nextBytes(mask);
                frame.write(mask, 0, 4);
                for (int i = 0; i < payload.length; i++) frame.write(payload[i] ^ mask[i & 3]);
                OutputStream out = socket.getOutputStream();
                frame.writeTo(out);
                out.flush();
            }
        }

        void readLoop() {
            int code = 1006;
            String reason = "connection lost";
            try {
                InputStream in = socket.getInputStream();
                ByteArrayOutputStream message = new ByteArrayOutputStream();
                int messageOpcode = -1;
                for (;;) {
                    int b0 = readByte(in);
                    int b1 = readByte(in);
                    boolean fin = (b0 & 0x80) != 0;
                    int opcode = b0 & 0x0f;
                    long length = b1 & 0x7f;
                    if (length == 126) length = (readByte(in) << 8) | readByte(in);
                    else if (length == 127) {
                        length = 0;
                        for (int i = 0; i < 8; i++) length = (length << 8) | readByte(in);
                    }
                    if (length > MAX_MESSAGE || message.size() + length > MAX_MESSAGE) {
                        close(1009, "message too big");
                        return;
                    }
                    byte[] payload = readFully(in, (int) length);
                    if ((b1 & 0x80) != 0) {
                        close(1002, "masked server frame");
                        return;
                    }
                    if (opcode == 0x9) {
                        writeFrame(0xA, payload);
                    } else if (opcode == 0x8) {
                        code = payload.length >= 2 ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff) : 1005;
                        reason = payload.length > 2 ? new String(payload, 2, payload.length - 2, UTF8) : "";
                        synchronized (writeLock) {
                            if (!closeSent) {
                                try {
                                    writeFrame(0x8, payload.length >= 2 ? new byte[] {payload[0], payload[1]} : new byte[0]);
                                } catch (IOException ignored) {
                                    // The peer is gone already.
                                }
                            }
                        }
                        return;
                    } else if (opcode == 0x1 || opcode == 0x2 || opcode == 0x0) {
                        if (opcode != 0x0) messageOpcode = opcode;
                        message.write(payload, 0, payload.length);
                        if (fin) {
                            byte[] data = message.toByteArray();
                            message.reset();
                            if (messageOpcode == 0x1) listener.onText(this, new String(data, UTF8));
                        }
                    }
                    // Pong (0xA) frames need no answer.
                }
            } catch (IOException e) {
                reason = e.getMessage() == null ? reason : e.getMessage();
            } finally {
                closeQuietly(socket);
                reportClosed(code, reason);
            }
        }

        private void reportClosed(int code, String reason) {
            synchronized (this) {
                if (closedReported) return;
                closedReported = true;
            }
            listener.onClosed(this, code, reason);
        }

        private static int readByte(InputStream in) throws IOException {
            int b = in.read();
            if (b < 0) throw new EOFException("connection closed");
            return b;
        }

        private static byte[] readFully(InputStream in, int length) throws IOException {
            byte[] data = new byte[length];
            int read = 0;
            while (read < length) {
                int n = in.read(data, read, length - read);
                if (n < 0) throw new EOFException("connection closed");
                read += n;
            }
            return data;
        }
    }
}
