import { isConnectionError, isInfrastructureError } from './connect.js';

const refused = (code: string) => ({ name: 'SequelizeDatabaseError', original: { code }, parent: { code } });

describe('isInfrastructureError', () => {
  it.each([
    '40P01',
    '40001',
    '57014',
    '55P03',
    '25006',
    '53000',
    '53100',
    '53200',
    '53300',
    '57P01',
    '57P03',
    '08006',
  ])('treats SQLSTATE %s as an outage', (code) => expect(isInfrastructureError(refused(code))).toBe(true));

  it.each(['23505', '23514', '22003', '42P01', '42703', '40002', ''])(
    'treats SQLSTATE %s as a problem of the statement',
    (code) => expect(isInfrastructureError(refused(code))).toBe(false),
  );

  it('includes every connection error', () => {
    const lost = { name: 'SequelizeConnectionRefusedError' };
    expect(isConnectionError(lost)).toBe(true);
    expect(isInfrastructureError(lost)).toBe(true);
  });
});
