import { createHmac } from 'node:crypto';
import { createChallenge, randomInt, verifySolution, type Challenge, type Payload } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import type { RedisClient } from '../core/redis/client.js';
import { AppError, ErrorCode } from '../core/errors.js';

/** How long a challenge may be solved and redeemed, counted from the later of now and the sale's start. */
export const CHALLENGE_TTL_MS = 120_000;
const MAX_PAYLOAD_LENGTH = 4096;

const failed = (detail: string): AppError => new AppError(ErrorCode.CHALLENGE_FAILED, detail);

/**
 * ALTCHA proof of work (altcha-lib, v2 protocol, SHA-256, deterministic mode): the server draws the
 * counter from [difficulty/2, difficulty], so a solver does that many hashes on average and the server
 * one. Each challenge is signed and carries the activity and the user, so it cannot be redeemed by
 * another shopper or for another sale; each is redeemed once (a Redis key per challenge nonce that
 * lives as long as the challenge could).
 */
export class Challenges {
  private readonly secret: string;
  private readonly keySecret: string;

  constructor(
    jwtSecret: string,
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {
    this.secret = createHmac('sha256', jwtSecret).update('stampede altcha v1').digest('hex');
    this.keySecret = createHmac('sha256', jwtSecret).update('stampede altcha key v1').digest('hex');
  }

  create(activity: string, userId: string, difficulty: number, startMs: number): Promise<Challenge> {
    const expiresAt = new Date(Math.max(this.now(), startMs) + CHALLENGE_TTL_MS);
    return createChallenge({
      algorithm: 'SHA-256',
      cost: 1,
      counter: randomInt(difficulty, Math.ceil(difficulty / 2)),
      deriveKey,
      data: { activity, user: userId },
      expiresAt,
      hmacSignatureSecret: this.secret,
      hmacKeySignatureSecret: this.keySecret,
    });
  }

  /** Throws CHALLENGE_FAILED unless `payload` (the widget's base64 JSON) solves a fresh challenge of ours. */
  async redeem(payload: unknown, activity: string, userId: string): Promise<void> {
    const p = parsePayload(payload);
    const data = p.challenge.parameters.data;
    if (data?.activity !== activity || data?.user !== userId) {
      throw failed('the challenge was made for another shopper or sale');
    }
    const r = await verifySolution({
      challenge: p.challenge,
      solution: p.solution,
      deriveKey,
      hmacSignatureSecret: this.secret,
      hmacKeySignatureSecret: this.keySecret,
    }).catch(() => null);
    if (!r?.verified) throw failed(r?.expired ? 'the challenge expired' : 'the solution is not valid');
    const expiresMs = (p.challenge.parameters.expiresAt ?? 0) * 1000;
    const key = `${this.prefix}:{a:${activity}}:pow:${p.challenge.parameters.nonce}`;
    const fresh = await this.redis.set(key, '1', 'PXAT', Math.max(expiresMs, this.now() + 1000), 'NX');
    if (fresh !== 'OK') throw failed('the challenge was already redeemed');
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
