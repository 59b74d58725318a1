/** The settings order workflows run with, read once when a workflow starts (so it is recorded in its history). */
import type { OrderSettings } from '../domain/order-settings.js';
export function createSettingsActivities(settings: OrderSettings) {
  return {
    async orderSettings(): Promise<OrderSettings> {
      return settings;
    },
  };
}

export type SettingsActivities = ReturnType<typeof createSettingsActivities>;
