import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '@co/common';
import { loadEngineSettings } from './engine-settings';

describe('loadEngineSettings', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'co-engine-settings-'));
  const file = (name: string, content: string) => {
    const target = path.join(dir, name);
    writeFileSync(target, content);
    return target;
  };

  it('has documented defaults', () => {
    expect(loadEngineSettings({})).toEqual({
      dockerHost: undefined,
      eventBaseUrl: undefined,
      containerNetwork: undefined,
      keepFailedContainers: false,
      stopGraceSeconds: 10,
      defaultConcurrency: 5,
      engineEnabled: true,
      registryAuth: {},
      nucleusGrpcAddress: '127.0.0.1:9083',
      logarithmGrpcAddress: '127.0.0.1:9084',
      logarithmUrl: 'http://127.0.0.1:8084',
      logarithmPublicUrl: 'http://127.0.0.1:8084',
    });
  });

  it('reads registry credentials from a docker config.json', () => {
    const auths = file('auth.json', JSON.stringify({ auths: { 'registry.example:5000': { auth: Buffer.from('ci:s3:cret').toString('base64') }, 'other.example': { username: 'u', password: 'p' } } }));
    expect(loadEngineSettings({ CO_PILOTAGE_REGISTRY_AUTH_FILE: auths }).registryAuth).toEqual({
      'registry.example:5000': { username: 'ci', password: 's3:cret' },
      'other.example': { username: 'u', password: 'p' },
    });
  });

  it('refuses bad values with the variable named', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ CO_PILOTAGE_STOP_GRACE_SECONDS: '-1' }, /^CO_PILOTAGE_STOP_GRACE_SECONDS=-1: must be an integer between 0 and 3600$/],
      [{ CO_PILOTAGE_KEEP_FAILED_CONTAINERS: 'maybe' }, /must be true or false/],
      [{ CO_PILOTAGE_EVENT_BASE_URL: 'ftp://x' }, /must be an http\(s\):\/\/ URL/],
      [{ DOCKER_HOST: 'ssh://host' }, /unix:\/\/\/path\/to\/socket or tcp:\/\/host:port/],
      [{ CO_PILOTAGE_REGISTRY_AUTH_FILE: file('bad.json', '{') }, /cannot be read as JSON/],
      [{ CO_PILOTAGE_REGISTRY_AUTH_FILE: file('empty.json', '{"auths": {"h": {}}}') }, /auths\["h"\] needs "auth"/],
      [{ CO_PILOTAGE_NUCLEUS_GRPC_ADDRESS: 'http://nucleus:9083' }, /nucleus' gRPC host:port/],
      [{ CO_PILOTAGE_LOGARITHM_GRPC_ADDRESS: 'nope' }, /^CO_PILOTAGE_LOGARITHM_GRPC_ADDRESS must be logarithm's gRPC host:port, e.g. 127.0.0.1:9084/],
      [{ CO_PILOTAGE_LOGARITHM_URL: 'ftp://x' }, /^CO_PILOTAGE_LOGARITHM_URL=ftp:\/\/x: must be an http\(s\):\/\/ URL$/],
      [{ CO_PILOTAGE_LOGARITHM_PUBLIC_URL: 'logs.example.com' }, /CO_PILOTAGE_LOGARITHM_PUBLIC_URL=logs.example.com: must be/],
    ];
    for (const [env, message] of cases) {
      expect(() => loadEngineSettings(env)).toThrow(ConfigError);
      expect(() => loadEngineSettings(env)).toThrow(message);
    }
  });

  it('points at logarithm on this machine unless told, and links to it at its public URL', () => {
    expect(loadEngineSettings({})).toMatchObject({ logarithmGrpcAddress: '127.0.0.1:9084', logarithmUrl: 'http://127.0.0.1:8084', logarithmPublicUrl: 'http://127.0.0.1:8084' });
    expect(loadEngineSettings({ CO_PILOTAGE_LOGARITHM_URL: 'http://logarithm:8084/', CO_PILOTAGE_LOGARITHM_PUBLIC_URL: 'https://logs.example.com' })).toMatchObject({
      logarithmUrl: 'http://logarithm:8084',
      logarithmPublicUrl: 'https://logs.example.com',
    });
  });
});
