import {
  EnvReader,
  readBase,
  readCommon,
  type BaseConfig,
  type CommonConfig,
  type Env,
} from '../core/config.js';
import { devSecretsPath, readDevSecrets } from '../core/dev-secrets.js';

/** migrate, apply and orders replay-parked sign no token: they run without JWT_SECRET (the migration Job). */
export type CliConfig = BaseConfig;

export function loadCliConfig(env: Env = process.env): CliConfig {
  const r = new EnvReader(env);
  const config = readBase(r);
  r.done();
  return config;
}

/**
 * `stampede sale` signs the crowd's access tokens, so it needs the api's JWT_SECRET. Unset outside
 * production, it takes the one `npm start` generated for this checkout (core/dev-secrets.ts), so the two
 * agree without anyone copying a secret around.
 */
export function loadSaleConfig(env: Env = process.env, secretsFile: string = devSecretsPath()): CommonConfig {
  const effective: Env = { ...env };
  const problems: string[] = [];
  if (!env.JWT_SECRET && env.NODE_ENV !== 'production') {
    try {
      effective.JWT_SECRET = readDevSecrets(secretsFile)?.JWT_SECRET;
    } catch (err) {
      problems.push(`JWT_SECRET: unset, and ${(err as Error).message}`);
    }
  }
  const r = new EnvReader(effective);
  r.problems.push(...problems);
  const config = readCommon(r);
  r.done();
  return config;
}
