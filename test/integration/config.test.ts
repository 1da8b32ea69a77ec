import { ConfigError, loadConfig } from '../../server/config';

describe('configuration', () => {
  it('starts with sensible local defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(3000);
    expect(config.DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/cartable');
    expect([...config.roles]).toEqual(['api', 'gateway', 'worker']);
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL/],
    [{ CARTABLE_ROLES: 'api,web' }, /CARTABLE_ROLES/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
  ])('refuses %j with one line naming the variable', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    try {
      loadConfig(env);
    } catch (e) {
      expect((e as Error).message).toMatch(name);
      expect((e as Error).message).not.toContain('\n');
    }
  });

  it('never echoes a secret it refuses', () => {
    expect(() => loadConfig({ CARTABLE_SECRET_KEY: 'short-secret' })).toThrow(/CARTABLE_SECRET_KEY/);
    try {
      loadConfig({ CARTABLE_SECRET_KEY: 'short-secret' });
    } catch (e) {
      expect((e as Error).message).not.toContain('short-secret');
    }
  });

  it('takes a role subset', () => {
    expect([...loadConfig({ CARTABLE_ROLES: 'worker' }).roles]).toEqual(['worker']);
  });
});
