import { AppError, ErrorCode } from '../errors.js';
import { TokenService } from './jwt.js';

const SECRET = 'a-test-secret-of-at-least-thirty-two-chars';
const seckill = new TokenService(SECRET, undefined, { requireVerifiedEmail: true });

const refusal = (r: unknown): [ErrorCode, string] | null =>
  r instanceof AppError ? [r.code, r.message] : null;

describe('TokenService.verifyHeaderNow (the hot path, no promise)', () => {
  it('gives the principal of a good token, and the same one again from its cache', async () => {
    const header = `Bearer ${await seckill.sign({ userId: 'u-1', role: 'user' })}`;
    const first = seckill.verifyHeaderNow(header);
    expect(first).toEqual({ userId: 'u-1', role: 'user', emailVerified: true });
    expect(seckill.verifyHeaderNow(header)).toBe(first);
  });

  it.each([
    ['no header', undefined],
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['an empty token', 'Bearer '],
    ['a token over 4096 characters', `Bearer ${'a'.repeat(4097)}`],
  ])('asks for a bearer token on %s', (_what, header) => {
    expect(refusal(seckill.verifyHeaderNow(header))).toEqual([
      ErrorCode.UNAUTHORIZED,
      'a Bearer access token is required',
    ]);
  });

  it('refuses a token that is not three base64url segments, or not signed with the secret', async () => {
    const good = await seckill.sign({ userId: 'u-2', role: 'user' });
    const other = await new TokenService(`${SECRET}-other`).sign({ userId: 'u-2', role: 'user' });
    for (const token of ['x.y', `${good} `, `${good}.x`, `${good.slice(0, -1)}.`, other]) {
      expect(refusal(seckill.verifyHeaderNow(`Bearer ${token}`))).toEqual([
        ErrorCode.UNAUTHORIZED,
        'invalid access token',
      ]);
    }
  });

  it('says an expired token has expired, and refuses an unverified address on the seckill', async () => {
    const expired = await seckill.sign({ userId: 'u-3', role: 'user' }, -1);
    expect(refusal(seckill.verifyHeaderNow(`Bearer ${expired}`))?.[1]).toMatch(/expired/);
    const unverified = await seckill.sign({ userId: 'u-4', role: 'user', emailVerified: false });
    expect(refusal(seckill.verifyHeaderNow(`Bearer ${unverified}`))?.[0]).toBe(ErrorCode.EMAIL_NOT_VERIFIED);
    // The api takes it: only the seckill requires a verified address.
    expect(new TokenService(SECRET).verifyHeaderNow(`Bearer ${unverified}`)).toMatchObject({ userId: 'u-4' });
  });
});

describe('TokenService.verifyHeader', () => {
  it('resolves the principal and rejects with the same error verifyHeaderNow returns', async () => {
    const token = await seckill.sign({ userId: 'u-5', role: 'admin' });
    await expect(seckill.verifyHeader(`Bearer ${token}`)).resolves.toMatchObject({
      userId: 'u-5',
      role: 'admin',
    });
    await expect(seckill.verifyHeader('Bearer x.y.z')).rejects.toMatchObject({
      code: ErrorCode.UNAUTHORIZED,
    });
  });
});
