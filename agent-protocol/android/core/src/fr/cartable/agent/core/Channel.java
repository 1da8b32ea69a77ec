package fr.cartable.agent.core;

import org.json.JSONObject;

/** Where the agent's messages go: the WebSocket session, or the HTTPS fallback's exchanges. */
interface Channel {
    /** An outbox message was queued: send it now if the channel is up. */
    void outboxChanged(JSONObject message);

    /** An answer that is not kept in the outbox (ack, command.ack, pong). */
    void reply(JSONObject message);

    /** A nudge: flush the outbox now (§11.7). */
    void flush();
}
