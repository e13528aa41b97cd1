import { createHmac } from 'node:crypto';
import {
  createChallenge,
  randomInt,
  verifySolution,
  type Challenge,
  type Payload,
  type VerifySolutionResult,
} from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import type { RedisClient } from '../core/redis/client.js';
import { AppError, ErrorCode } from '../core/errors.js';

const MAX_PAYLOAD_LENGTH = 4096;

/** The signing pair derived from one JWT secret (a domain separator each: never the secret itself). */
interface Keys {
  secret: string;
  keySecret: string;
}

const keysOf = (jwtSecret: string): Keys => ({
  secret: createHmac('sha256', jwtSecret).update('stampede altcha v1').digest('hex'),
  keySecret: createHmac('sha256', jwtSecret).update('stampede altcha key v1').digest('hex'),
});

export interface ChallengeOptions {
  jwtSecret: string;
  /** JWT_SECRET_PREVIOUS: a challenge signed before a rotation stays redeemable. */
  jwtSecretPrevious?: string | undefined;
  /** How long a challenge may be solved and redeemed, counted from its issue (SECKILL_CHALLENGE_TTL_SECONDS). */
  ttlMs: number;
}

const failed = (detail: string): AppError => new AppError(ErrorCode.CHALLENGE_FAILED, detail);

/**
 * ALTCHA proof of work (altcha-lib, v2 protocol, SHA-256, deterministic mode): the server draws the
 * counter from [difficulty/2, difficulty], so a solver does that many hashes on average and the server
 * one. Each challenge is signed and carries the activity and the user, so it cannot be redeemed by
 * another shopper or for another sale; each is redeemed once (a Redis key per challenge nonce that
 * lives as long as the challenge could). A challenge lives `ttlMs` from its issue, and the token route
 * issues them only from a short lead before the start: the work is paid in the rush, not in the
 * countdown. Verification tries the previous key too, so a rotation spares challenges already solved.
 */
export class Challenges {
  private readonly keys: Keys[];

  constructor(
    private readonly o: ChallengeOptions,
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {
    this.keys = [o.jwtSecret, o.jwtSecretPrevious].filter((s): s is string => Boolean(s)).map(keysOf);
  }

  create(activity: string, userId: string, difficulty: number): Promise<Challenge> {
    const keys = this.keys[0] as Keys;
    const expiresAt = new Date(this.now() + this.o.ttlMs);
    return createChallenge({
      algorithm: 'SHA-256',
      cost: 1,
      counter: randomInt(difficulty, Math.ceil(difficulty / 2)),
      deriveKey,
      data: { activity, user: userId },
      expiresAt,
      hmacSignatureSecret: keys.secret,
      hmacKeySignatureSecret: keys.keySecret,
    });
  }

  /** Throws CHALLENGE_FAILED unless `payload` (the widget's base64 JSON) solves a fresh challenge of ours. */
  async redeem(payload: unknown, activity: string, userId: string): Promise<void> {
    const p = parsePayload(payload);
    const data = p.challenge.parameters.data;
    if (data?.activity !== activity || data?.user !== userId) {
      throw failed('the challenge was made for another shopper or sale');
    }
    const r = await this.verify(p);
    if (!r?.verified) throw failed(r?.expired ? 'the challenge expired' : 'the solution is not valid');
    const expiresMs = (p.challenge.parameters.expiresAt ?? 0) * 1000;
    const key = `${this.prefix}:{a:${activity}}:pow:${p.challenge.parameters.nonce}`;
    const fresh = await this.redis.set(key, '1', 'PXAT', Math.max(expiresMs, this.now() + 1000), 'NX');
    if (fresh !== 'OK') throw failed('the challenge was already redeemed');
  }

  /** The current key's verdict, or the previous key's where the current one did not sign it. */
  private async verify(p: Payload): Promise<VerifySolutionResult | null> {
    let r: VerifySolutionResult | null = null;
    for (const keys of this.keys) {
      r = await verifySolution({
        challenge: p.challenge,
        solution: p.solution,
        deriveKey,
        hmacSignatureSecret: keys.secret,
        hmacKeySignatureSecret: keys.keySecret,
      }).catch(() => null);
      if (r && !r.invalidSignature) return r;
    }
    return r;
  }
}

function parsePayload(payload: unknown): Payload {
  if (typeof payload !== 'string' || payload.length > MAX_PAYLOAD_LENGTH) {
    throw failed('the body needs "altcha": the solved challenge');
  }
  let p: Payload;
  try {
    p = JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as Payload;
  } catch {
    throw failed('the challenge solution is malformed');
  }
  const params = p?.challenge?.parameters;
  if (typeof params?.nonce !== 'string' || !/^[0-9a-f]{1,64}$/.test(params.nonce) || !p.solution) {
    throw failed('the challenge solution is malformed');
  }
  return p;
}
