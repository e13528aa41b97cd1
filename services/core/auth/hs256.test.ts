import fc from 'fast-check';
import { SignJWT } from 'jose';
import { verifyHs256, type Hs256Rules } from './hs256.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
const key = Buffer.from(SECRET);
const rules: Hs256Rules = { issuer: 'stampede', audience: 'stampede', maxAgeSeconds: 900, skewSeconds: 30 };
const now = 1_800_000_000;

function sign(
  claims: Record<string, unknown>,
  header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' },
  secret = SECRET,
) {
  return new SignJWT({
    iss: 'stampede',
    aud: 'stampede',
    sub: 'u1',
    iat: now - 10,
    exp: now + 600,
    ...claims,
  })
    .setProtectedHeader(header as { alg: string })
    .sign(new TextEncoder().encode(secret));
}
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('verifyHs256 (cross-checked with tokens jose signs)', () => {
  it('accepts a good token and returns its claims', async () => {
    const c = verifyHs256(await sign({ role: 'admin' }), key, rules, now);
    expect(c).toMatchObject({ sub: 'u1', role: 'admin' });
  });

  it('accepts an audience list that names us', async () => {
    expect(typeof verifyHs256(await sign({ aud: ['x', 'stampede'] }), key, rules, now)).toBe('object');
  });

  it.each([
    ['a wrong key', () => sign({}, undefined, 'another-secret-that-is-long-enough-012345'), 'bad signature'],
    ['HS512', () => sign({}, { alg: 'HS512' }), 'algorithm not accepted'],
    ['a crit header', () => sign({}, { alg: 'HS256', crit: ['b64'], b64: true }), 'algorithm not accepted'],
    ['a wrong issuer', () => sign({ iss: 'evil' }), 'wrong issuer'],
    ['a wrong audience', () => sign({ aud: 'other' }), 'wrong audience'],
    ['no subject', () => sign({ sub: undefined }), 'missing subject'],
    ['an expired token', () => sign({ exp: now - 60 }), 'expired'],
    ['a token at its exp second (no leeway)', () => sign({ exp: now }), 'expired'],
    ['no exp', () => sign({ exp: undefined }), 'expired'],
    ['an iat in the future', () => sign({ iat: now + 600 }), 'bad issued-at'],
    ['a token older than the maximum age', () => sign({ iat: now - 2000, exp: now + 600 }), 'too old'],
    ['nbf in the future', () => sign({ nbf: now + 600 }), 'not yet valid'],
  ])('refuses %s', async (_what, make, reason) => {
    expect(verifyHs256(await make(), key, rules, now)).toBe(reason);
  });

  it('refuses alg none and a tampered payload', async () => {
    const none = `${b64({ alg: 'none' })}.${b64({ iss: 'stampede', aud: 'stampede', sub: 'u1', iat: now, exp: now + 60 })}.`;
    expect(verifyHs256(none, key, rules, now)).toBe('malformed token');
    const [h, , s] = (await sign({})).split('.');
    const forged = `${h}.${b64({ iss: 'stampede', aud: 'stampede', sub: 'admin', iat: now, exp: now + 60 })}.${s}`;
    expect(verifyHs256(forged, key, rules, now)).toBe('bad signature');
  });

  it('refuses any single-character change to a valid token, also one that decodes to the same bytes', async () => {
    const token = await sign({});
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    fc.assert(
      fc.property(fc.nat(token.length - 1), fc.constantFrom(...alphabet), (at, ch) => {
        const changed = token.slice(0, at) + ch + token.slice(at + 1);
        const r = verifyHs256(changed, key, rules, now);
        return changed === token ? typeof r === 'object' : typeof r === 'string';
      }),
      { numRuns: 500 },
    );
  });

  it('accepts only the canonical spelling of the signature', async () => {
    const token = await sign({});
    const last = token.at(-1) as string;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const base = alphabet.indexOf(last) & ~3;
    // The four characters that differ only in the two unused bits decode to the same 32 bytes.
    const spellings = [0, 1, 2, 3].map((i) => token.slice(0, -1) + (alphabet[base + i] as string));
    expect(spellings).toContain(token);
    const verified = spellings.filter((t) => typeof verifyHs256(t, key, rules, now) === 'object');
    expect(verified).toEqual([token]);
  });

  it('picks the key by kid and refuses a kid it does not hold', async () => {
    const old = 'the-previous-secret-that-is-long-enough-0123';
    const keys = (kid: unknown) =>
      kid === 'new' || kid === undefined ? key : kid === 'old' ? Buffer.from(old) : null;
    const byOld = await sign({}, { alg: 'HS256', kid: 'old' }, old);
    expect(typeof verifyHs256(byOld, keys, rules, now)).toBe('object');
    expect(typeof verifyHs256(await sign({}, { alg: 'HS256', kid: 'new' }), keys, rules, now)).toBe('object');
    expect(typeof verifyHs256(await sign({}), keys, rules, now)).toBe('object');
    expect(verifyHs256(await sign({}, { alg: 'HS256', kid: 'other' }), keys, rules, now)).toBe('unknown key');
    // A kid names the key; it does not let the other key sign for it.
    expect(verifyHs256(await sign({}, { alg: 'HS256', kid: 'new' }, old), keys, rules, now)).toBe(
      'bad signature',
    );
  });
});
