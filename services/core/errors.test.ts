import { AppError, ErrorCode } from './errors.js';
import { toAppError } from './http/problem.js';
import { PurchaseCode, purchaseError } from './redis/scripts.js';

describe('error mapping', () => {
  it.each([
    [PurchaseCode.NOT_FOUND, 404, 'ACTIVITY_NOT_FOUND'],
    [PurchaseCode.NOT_PREHEATED, 503, 'UNAVAILABLE'],
    [PurchaseCode.NOT_STARTED, 409, 'NOT_STARTED'],
    [PurchaseCode.ENDED, 409, 'ENDED'],
    [PurchaseCode.PAUSED, 409, 'NOT_STARTED'],
    [PurchaseCode.LIMIT_EXCEEDED, 409, 'LIMIT_EXCEEDED'],
    [PurchaseCode.ALREADY_PURCHASED, 409, 'ALREADY_PURCHASED'],
    [PurchaseCode.SOLD_OUT, 409, 'SOLD_OUT'],
  ])('purchase code %i is %i %s', (code, status, name) => {
    const e = purchaseError({ code, orderId: 'o', remaining: 0, quantity: 0 });
    expect({ status: e?.httpStatus, code: e?.code }).toEqual({ status, code: name });
  });

  it('maps success codes to no error', () => {
    expect(
      purchaseError({ code: PurchaseCode.ACCEPTED, orderId: 'o', remaining: 1, quantity: 1 }),
    ).toBeNull();
    expect(
      purchaseError({ code: PurchaseCode.REPLAYED, orderId: 'o', remaining: 1, quantity: 1 }),
    ).toBeNull();
  });

  it('turns parser errors into 4xx and dependency errors into 503, never 500', () => {
    expect(toAppError({ type: 'entity.too.large' }).httpStatus).toBe(413);
    expect(toAppError({ type: 'entity.parse.failed' }).code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(toAppError(new Error('connect ECONNREFUSED 127.0.0.1:6379')).httpStatus).toBe(503);
    expect(toAppError(new Error('Connection is closed.')).retryAfter).toBe(1);
    expect(toAppError(new TypeError('x is undefined')).httpStatus).toBe(500);
    const typed = new AppError(ErrorCode.SOLD_OUT);
    expect(toAppError(typed)).toBe(typed);
  });
});
