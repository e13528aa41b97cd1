import type { IncomingMessage } from 'node:http';
import { AppError, ErrorCode } from '../errors.js';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

const tooLarge = () =>
  new AppError(ErrorCode.VALIDATION_FAILED, 'request body is too large', { status: 413 });

/**
 * Reads a tiny JSON body on a hot route: no charset conversion, no inflation (a compressed body is
 * refused), a hard byte limit checked before and while reading. It costs a fraction of express.json(),
 * which the business API keeps using. Resolves undefined when there is no body.
 */
export function readSmallJson(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const declared = req.headers['content-length'];
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (!chunked && (declared === undefined || declared === '0')) return Promise.resolve(undefined);
  if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) {
    return Promise.reject(new AppError(ErrorCode.VALIDATION_FAILED, 'the body must be application/json'));
  }
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    return Promise.reject(new AppError(ErrorCode.VALIDATION_FAILED, 'compressed bodies are not accepted'));
  }
  if (declared !== undefined && Number(declared) > limitBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limitBytes) reject(tooLarge());
      else chunks.push(c);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new AppError(ErrorCode.VALIDATION_FAILED, 'malformed JSON body'));
      }
    });
    req.on('error', () => reject(new AppError(ErrorCode.VALIDATION_FAILED, 'the body could not be read')));
  });
}
