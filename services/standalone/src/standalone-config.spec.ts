import { loadServiceConfig } from '@co/common';
import { crewAddresses, logarithmAddresses, nucleusAddresses } from './standalone-config';

describe('crewAddresses', () => {
  const configs = (env: Record<string, string>) => [{ config: loadServiceConfig('crew', env) }, { config: loadServiceConfig('pilotage', {}) }];

  it("points the other services at crew's own ports, moved or not", () => {
    expect(crewAddresses(configs({}), {})).toEqual({ CO_CREW_URL: 'http://127.0.0.1:8081', CO_CREW_GRPC_ADDRESS: '127.0.0.1:9081' });
    expect(crewAddresses(configs({ CO_HTTP_PORT: '18081', CO_GRPC_PORT: '19081', CO_HTTP_HOST: '10.0.0.5' }), {})).toEqual({
      CO_CREW_URL: 'http://10.0.0.5:18081',
      CO_CREW_GRPC_ADDRESS: '10.0.0.5:19081',
    });
  });

  it('leaves addresses the environment sets alone', () => {
    expect(crewAddresses(configs({ CO_HTTP_PORT: '18081' }), { CO_CREW_URL: 'http://crew.internal:8081' })).toEqual({ CO_CREW_GRPC_ADDRESS: '127.0.0.1:9081' });
    expect(crewAddresses(configs({}), { CO_CREW_URL: 'http://a:1', CO_CREW_GRPC_ADDRESS: 'a:2' })).toEqual({});
  });
});

describe('nucleusAddresses', () => {
  const configs = (env: Record<string, string>) => [{ config: loadServiceConfig('nucleus', env) }, { config: loadServiceConfig('pilotage', {}) }];

  it("points pilotage at nucleus' own gRPC port, moved or not, unless the environment says otherwise", () => {
    expect(nucleusAddresses(configs({}), {})).toEqual({ CO_PILOTAGE_NUCLEUS_GRPC_ADDRESS: '127.0.0.1:9083' });
    expect(nucleusAddresses(configs({ CO_GRPC_PORT: '19083' }), {})).toEqual({ CO_PILOTAGE_NUCLEUS_GRPC_ADDRESS: '127.0.0.1:19083' });
    expect(nucleusAddresses(configs({}), { CO_PILOTAGE_NUCLEUS_GRPC_ADDRESS: 'n:1' })).toEqual({});
  });
});

describe('logarithmAddresses', () => {
  const configs = (env: Record<string, string>) => [{ config: loadServiceConfig('logarithm', env) }, { config: loadServiceConfig('pilotage', {}) }];

  it("points pilotage at logarithm's own ports, moved or not, unless the environment says otherwise", () => {
    expect(logarithmAddresses(configs({}), {})).toEqual({ CO_PILOTAGE_LOGARITHM_URL: 'http://127.0.0.1:8084', CO_PILOTAGE_LOGARITHM_GRPC_ADDRESS: '127.0.0.1:9084' });
    expect(logarithmAddresses(configs({ CO_HTTP_PORT: '18084', CO_GRPC_PORT: '19084', CO_HTTP_HOST: '::' }), {})).toEqual({
      CO_PILOTAGE_LOGARITHM_URL: 'http://127.0.0.1:18084',
      CO_PILOTAGE_LOGARITHM_GRPC_ADDRESS: '127.0.0.1:19084',
    });
    expect(logarithmAddresses(configs({}), { CO_PILOTAGE_LOGARITHM_URL: 'http://l:1' })).toEqual({ CO_PILOTAGE_LOGARITHM_GRPC_ADDRESS: '127.0.0.1:9084' });
    expect(logarithmAddresses(configs({}), { CO_PILOTAGE_LOGARITHM_URL: 'http://l:1', CO_PILOTAGE_LOGARITHM_GRPC_ADDRESS: 'l:2' })).toEqual({});
  });
});
