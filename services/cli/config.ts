import { EnvReader, readCommon, type CommonConfig, type Env } from '../core/config.js';

export type CliConfig = CommonConfig;

export function loadCliConfig(env: Env = process.env): CliConfig {
  const r = new EnvReader(env);
  const config = readCommon(r);
  r.done();
  return config;
}
