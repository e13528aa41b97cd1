// A real SMTP server for tests (the smtp-server package, on a free loopback port): the api's nodemailer
// delivers to it over TCP, and a test reads what arrived, e.g. the verification link of a new account.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { waitFor } from './env.js';

export interface Mail {
  to: string[];
  raw: string;
  text: string;
}

export interface Mailbox {
  url: string;
  mails: Mail[];
  /** The newest verification link mailed to `to`, waiting for it to arrive. */
  linkFor(to: string, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

/** The body as text: quoted-printable soft breaks and escapes undone (long lines such as links are split). */
function decode(raw: string): string {
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  if (/^content-transfer-encoding:\s*base64/im.test(raw)) return Buffer.from(body, 'base64').toString('utf8');
  return body
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

export const LINK = /https?:\/\/[^\s]+\/api\/auth\/verify\?token=[A-Za-z0-9_.-]+/g;

export async function startMailbox(): Promise<Mailbox> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const to = session.envelope.rcptTo.map((a) => a.address.toLowerCase());
        mails.push({ to, raw, text: decode(raw) });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    async linkFor(to, timeoutMs = 15_000) {
      const mine = () => mails.filter((m) => m.to.includes(to.toLowerCase()));
      const mail = await waitFor(() => mine().at(-1), `a mail to ${to}`, timeoutMs);
      const link = mail.text.match(LINK)?.at(-1);
      if (!link) throw new Error(`no verification link in the mail to ${to}:\n${mail.text}`);
      return link;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
