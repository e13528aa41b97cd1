import {
  EnvReader,
  readBase,
  readCommon,
  type BaseConfig,
  type CommonConfig,
  type Env,
} from '../core/config.js';

/** migrate, apply and orders replay-parked sign no token: they run without JWT_SECRET (the migration Job). */
export type CliConfig = BaseConfig;

export function loadCliConfig(env: Env = process.env): CliConfig {
  const r = new EnvReader(env);
  const config = readBase(r);
  r.done();
  return config;
}

/** `stampede sale` signs the crowd's access tokens, so it needs the api's JWT_SECRET. */
export function loadSaleConfig(env: Env = process.env): CommonConfig {
  const r = new EnvReader(env);
  const config = readCommon(r);
  r.done();
  return config;
}
