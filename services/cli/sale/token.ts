import { solveChallenge, type Challenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';

/** How the throwaway sale protects its purchase (`--purchase-token`): spec.purchaseToken of its activity. */
export type TokenMode = 'none' | 'required' | 'pow';

export interface TokenAnswer {
  /** The purchase token, or undefined when the token route refused (then `outcome` says why). */
  token?: string;
  outcome?: string;
  /** Time to get the token, challenge and proof of work included. */
  ms: number;
  /** Of which the proof of work (solved here, in-process, like the page's widget does in the browser). */
  solveMs: number;
}

const codeOf = async (r: Response): Promise<string> => {
  const body = (await r.json().catch(() => ({}))) as { code?: string };
  return `token_${(body.code ?? `HTTP_${r.status}`).toLowerCase()}`;
};

/** What a shopper's page does before the buy button works: challenge (pow only), then the token. */
export async function fetchPurchaseToken(
  saleUrl: string,
  jwt: string,
  mode: TokenMode,
): Promise<TokenAnswer> {
  const t0 = performance.now();
  const auth = { authorization: `Bearer ${jwt}` };
  const done = (a: Omit<TokenAnswer, 'ms'>): TokenAnswer => ({ ...a, ms: performance.now() - t0 });
  try {
    let body: string | undefined;
    let solveMs = 0;
    if (mode === 'pow') {
      const c = await fetch(`${saleUrl}/challenge`, { headers: auth });
      if (!c.ok) return done({ outcome: await codeOf(c), solveMs });
      const challenge = (await c.json()) as Challenge;
      const s0 = performance.now();
      const solution = await solveChallenge({ challenge, deriveKey });
      solveMs = performance.now() - s0;
      if (!solution) return done({ outcome: 'token_unsolved', solveMs });
      const altcha = Buffer.from(JSON.stringify({ challenge, solution })).toString('base64');
      body = JSON.stringify({ altcha });
    }
    const r = await fetch(`${saleUrl}/token`, {
      method: 'POST',
      headers: body ? { ...auth, 'content-type': 'application/json' } : auth,
      body,
    });
    if (r.status !== 200) return done({ outcome: await codeOf(r), solveMs });
    const { token } = (await r.json()) as { token: string };
    return done({ token, solveMs });
  } catch {
    return done({ outcome: 'token_network_error', solveMs: 0 });
  }
}
