import type { InventoryPort } from '../domain/platform-ports';
import { PeriodicWrites } from './periodic-writes';

/** When each device was last heard from by this process, written every few seconds. */
export class LastSeen extends PeriodicWrites<Date> {
  constructor(inventory: Pick<InventoryPort, 'touch'>, log: { error(obj: object, msg: string): void }) {
    super((batch) => inventory.touch(batch.map(({ id, value }) => ({ id, at: value }))), (_, at) => at, log, 'last-seen');
  }

  touch(deviceId: string): void {
    this.add(deviceId, new Date());
  }
}
