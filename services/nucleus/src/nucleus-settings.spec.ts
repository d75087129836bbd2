import { ConfigError } from '@co/common';
import { loadNucleusSettings, NUCLEUS_DEFAULTS } from './nucleus-settings';

describe('nucleus settings', () => {
  it('defaults to the standalone dockyard', () => {
    expect(loadNucleusSettings({})).toEqual({ dockyardUrl: NUCLEUS_DEFAULTS.dockyardUrl, registryHosts: ['127.0.0.1:5000', 'localhost:5000'], dockyardTimeoutMs: 10_000, officialComponents: true });
  });

  it('turns the official components off', () => {
    expect(loadNucleusSettings({ CO_NUCLEUS_OFFICIAL_COMPONENTS: 'false' }).officialComponents).toBe(false);
  });

  it('reads the dockyard URL and the registry hosts', () => {
    expect(loadNucleusSettings({ CO_NUCLEUS_DOCKYARD_URL: 'http://dockyard:8082/', CO_NUCLEUS_REGISTRY_HOSTS: ' Registry.Example.com , 10.0.0.1:5000' })).toMatchObject({
      dockyardUrl: 'http://dockyard:8082',
      registryHosts: ['registry.example.com', '10.0.0.1:5000'],
    });
  });

  it.each([
    ['CO_NUCLEUS_DOCKYARD_URL', 'dockyard:8082'],
    ['CO_NUCLEUS_REGISTRY_HOSTS', 'https://registry.example.com'],
    ['CO_NUCLEUS_DOCKYARD_TIMEOUT_MS', '10s'],
    ['CO_NUCLEUS_OFFICIAL_COMPONENTS', 'no'],
  ])('stops with one line on a bad %s', (variable, value) => {
    expect(() => loadNucleusSettings({ [variable]: value })).toThrow(ConfigError);
  });
});
