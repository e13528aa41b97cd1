import { PurchaseTokens } from './purchase-token.js';

const SECRET = 'a-secret-of-at-least-thirty-two-characters';
const PREVIOUS = 'the-previous-secret-of-thirty-two-characters';

describe('purchase tokens (signed, not stored)', () => {
  let now = 1_800_000_000_000;
  const clock = () => now;
  const tokens = new PurchaseTokens(SECRET, undefined, 60_000, clock);

  it('verifies for its activity and user until it expires, answering its nonce', () => {
    const { token, expiresAt } = tokens.issue('sale', 'u1');
    expect(Date.parse(expiresAt)).toBe(now + 60_000);
    const nonce = tokens.verify(token, 'sale', 'u1');
    expect(nonce).toMatch(/^[\w-]{22}$/);
    expect(token.split('.')[1]).toBe(nonce);
    now += 59_999;
    expect(tokens.verify(token, 'sale', 'u1')).toBe(nonce);
    now += 1;
    expect(tokens.verify(token, 'sale', 'u1')).toBeNull();
  });

  it('refuses another user, another activity, another key, and any edited part', () => {
    const { token } = tokens.issue('sale', 'u1');
    expect(tokens.verify(token, 'sale', 'u2')).toBeNull();
    expect(tokens.verify(token, 'sale-2', 'u1')).toBeNull();
    expect(new PurchaseTokens(PREVIOUS, undefined, 60_000, clock).verify(token, 'sale', 'u1')).toBeNull();
    const [exp, nonce, mac] = token.split('.') as [string, string, string];
    const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    for (const bad of [
      `${flip(exp)}.${nonce}.${mac}`,
      `${exp}.${flip(nonce)}.${mac}`,
      `${exp}.${nonce}.${flip(mac)}`,
      `${exp}.${nonce}`,
      `${token}.x`,
      '',
      'x'.repeat(500),
    ]) {
      expect(tokens.verify(bad, 'sale', 'u1')).toBeNull();
    }
  });

  it('accepts tokens of the previous key during a rotation, issues with the current one', () => {
    const before = new PurchaseTokens(PREVIOUS, undefined, 60_000, clock).issue('sale', 'u1').token;
    const rotated = new PurchaseTokens(SECRET, PREVIOUS, 60_000, clock);
    expect(rotated.verify(before, 'sale', 'u1')).not.toBeNull();
    const after = rotated.issue('sale', 'u1').token;
    expect(tokens.verify(after, 'sale', 'u1')).not.toBeNull();
  });
});
