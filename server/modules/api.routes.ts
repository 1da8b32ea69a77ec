import type { FastifyPluginAsync } from 'fastify';

/** The REST API for people and scripts, mounted under /api/v1. Each capability adds its routes here. */
export const apiRoutes: FastifyPluginAsync = async (app) => {
  void app;
};
