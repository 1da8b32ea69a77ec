package fr.cartable.agent.desktop;

import fr.cartable.agent.core.Agent;
import fr.cartable.agent.core.Http;
import fr.cartable.agent.core.SocketWebSocket;
import fr.cartable.agent.core.Store;
import java.io.File;
import java.util.HashMap;
import java.util.Map;

/**
 * Runs the agent's protocol core on the desktop JVM, against a real Cartable server:
 *
 *   java -cp classes:/usr/share/java/com.android.json.jar fr.cartable.agent.desktop.DesktopAgent \
 *       --state DIR [--server URL --token TOKEN] [--boot-id ID] [--capabilities a,b] [--max-backoff-ms N] [--hold-ms N]
 *       [--block-ws FILE] [--hand-over-delay-ms N] [--probe-ms N] [--renew true]
 *       [--lost-interval-ms N] [--failing-policy field,field]
 *
 * The state folder plays the tablet's storage: run again with the same folder, and it is the
 * same tablet (a new --boot-id makes it a tablet that rebooted). While the --block-ws file exists,
 * WebSocket connections fail, as on a network whose proxy blocks them. --failing-policy names the
 * policy fields this tablet cannot apply (reported as non-compliant, API_LEVEL).
 */
public final class DesktopAgent {
    static final String ALL = "lock,wipe,reboot,locate,lost_mode,lost_mode_sound,message,refresh_inventory,refresh_apps,install_app,remove_app,policy,report_request";

    private DesktopAgent() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> options = new HashMap<String, String>();
        for (int i = 0; i + 1 < args.length; i += 2) options.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        File state = new File(options.get("state"));
        DesktopPlatform platform = new DesktopPlatform(DesktopPlatform.list(opt(options, "capabilities", ALL)), opt(options, "boot-id", "boot-1"),
                Long.parseLong(opt(options, "hold-ms", "0")), new File(state, "cache"), DesktopPlatform.list(opt(options, "failing-policy", "")));
        Agent agent = new Agent(platform, new Store(state), new SoftwareKeys(state), new BlockableWebSocket(new SocketWebSocket(10000), options.containsKey("block-ws") ? new File(options.get("block-ws")) : null, Long.parseLong(opt(options, "hand-over-delay-ms", "0"))), new Http(30000), true);
        agent.setMaxBackoffMs(Long.parseLong(opt(options, "max-backoff-ms", "300000")));
        agent.setLostModeIntervalMs(Long.parseLong(opt(options, "lost-interval-ms", "300000")));
        agent.setFirstProbeMs(Long.parseLong(opt(options, "probe-ms", "30000")));
        if (options.containsKey("server") && !agent.enrolled()) agent.configure(options.get("server"), options.get("token"));
        if ("true".equals(options.get("renew"))) agent.renewCertificateAtNextConnection();
        agent.start();
    }

    private static String opt(Map<String, String> options, String key, String fallback) {
        String value = options.get(key);
        return value == null ? fallback : value;
    }
}
