import { InvalidInputError, NotFoundError } from '../../domain/errors';
import { selfCrossing, type GeofenceShape } from '../../domain/location';
import type { Db, DbOrTx } from '../../infra/db/client';
import { recordAudit } from '../audit/audit.service';
import type { Caller } from '../commands/command-intent';
import { findSchool } from '../organisation/organisation.repository';
import * as repo from './geofences.repository';
import type { GeofenceBody, GeofenceView } from './location.schemas';

/** What the schema cannot say about a shape, each with the field's path. */
export function shapeProblems(shape: GeofenceShape): { path: string; message: string }[] {
  if (shape.type === 'circle') return [];
  if (shape.points.length < 3) return [{ path: '/shape/points', message: 'a polygon needs at least 3 points' }];
  const crossing = selfCrossing(shape.points);
  return crossing ? [{ path: `/shape/points/${crossing[1]}`, message: `the edge from this point crosses the edge from point ${crossing[0]}: the polygon must not cross itself` }] : [];
}

function view(row: repo.GeofenceRow): GeofenceView {
  return { id: row.id, schoolId: row.schoolId, name: row.name, shape: row.shape, updatedAt: row.updatedAt.toISOString() };
}

/** Perimeters around schools; every change is audited. */
export function createGeofencesService(deps: { db: Db }) {
  const { db } = deps;

  function check(body: GeofenceBody) {
    const problems = shapeProblems(body.shape);
    if (problems.length) throw new InvalidInputError(`Invalid geofence: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`, 'invalid_geofence', { errors: problems });
  }

  function audit(tx: DbOrTx, caller: Caller, action: string, row: repo.GeofenceRow, details: Record<string, unknown> = {}) {
    return recordAudit(tx, { organisationId: caller.scope.organisationId, actor: caller.actor, action, target: { type: 'geofence', id: row.id }, schoolId: row.schoolId, outcome: 'success', details: { name: row.name, shape: row.shape.type, ...details } });
  }

  return {
    async list(caller: Caller, schoolId?: string): Promise<GeofenceView[]> {
      return (await repo.listGeofences(db, caller.scope, schoolId)).map(view);
    },

    async create(caller: Caller, schoolId: string, body: GeofenceBody): Promise<GeofenceView> {
      check(body);
      return db.transaction(async (tx) => {
        if (!(await findSchool(tx, caller.scope, schoolId))) throw new NotFoundError('School');
        const row = await repo.insertGeofence(tx, { organisationId: caller.scope.organisationId, schoolId, name: body.name, shape: body.shape });
        await audit(tx, caller, 'location.geofence.create', row);
        return view(row);
      });
    },

    async update(caller: Caller, id: string, body: GeofenceBody): Promise<GeofenceView> {
      check(body);
      return db.transaction(async (tx) => {
        if (!(await repo.findGeofence(tx, caller.scope, id))) throw new NotFoundError('Geofence');
        const row = await repo.updateGeofence(tx, id, body);
        await audit(tx, caller, 'location.geofence.update', row);
        return view(row);
      });
    },

    async remove(caller: Caller, id: string): Promise<void> {
      await db.transaction(async (tx) => {
        const row = await repo.findGeofence(tx, caller.scope, id);
        if (!row) throw new NotFoundError('Geofence');
        await repo.deleteGeofence(tx, id);
        await audit(tx, caller, 'location.geofence.delete', row);
      });
    },
  };
}
export type GeofencesService = ReturnType<typeof createGeofencesService>;
