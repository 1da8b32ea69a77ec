import type { FastifyPluginAsync } from 'fastify';

/** The device agent's endpoints (enrollment, WebSocket, HTTPS fallback), mounted under /agent/v1. */
export const agentRoutes: FastifyPluginAsync = async (app) => {
  void app;
};
