import argon2 from 'argon2';

/** Argon2id with the OWASP Password Storage Cheat Sheet's first option: 19 MiB, 2 iterations, 1 lane. */
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const hashPassword = (password: string): Promise<string> => argon2.hash(password, OPTIONS);

let dummy: Promise<string> | null = null;

/**
 * Verifies a password; with no stored hash it still spends the time of one verification, so a login for
 * an unknown email cannot be told apart by its answer time.
 */
export async function verifyPassword(stored: string | null, password: string): Promise<boolean> {
  if (stored === null) {
    dummy ??= hashPassword('not-a-real-password-0000');
    await argon2.verify(await dummy, password).catch(() => false);
    return false;
  }
  return argon2.verify(stored, password).catch(() => false);
}
