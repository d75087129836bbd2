import { ConfigError } from '@co/common';
import { loadLogarithmSettings } from './logarithm-settings';

describe('logarithm settings', () => {
  it('has documented defaults', () => {
    const settings = loadLogarithmSettings({}, '/data');
    expect(settings).toEqual({
      storageDir: '/data/logarithm',
      retentionDays: 30,
      retentionIntervalMinutes: 60,
      maxLineBytes: 65536,
      maxPushBytes: 8 * 1024 * 1024,
      compressionLevel: 1,
    });
  });

  it('refuses a bad value naming the variable', () => {
    expect(() => loadLogarithmSettings({ CO_LOGARITHM_RETENTION_DAYS: 'forever' })).toThrow(ConfigError);
    expect(() => loadLogarithmSettings({ CO_LOGARITHM_MAX_LINE_BYTES: '10' })).toThrow(/CO_LOGARITHM_MAX_LINE_BYTES/);
  });
});
