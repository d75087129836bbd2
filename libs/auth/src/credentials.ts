import type { Credentials } from './access';
import { UnauthenticatedError } from './errors';

/**
 * Reads an `Authorization` header: `Bearer <token>` (an access token or a personal API
 * token) or `Basic <base64 username:secret>` (registry clients send API tokens so).
 * Undefined when there is no header at all.
 */
export function parseAuthorization(header: string | undefined): Credentials | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  const bearer = /^Bearer\s+([^\s]+)$/i.exec(value);
  if (bearer) return { scheme: 'bearer', token: bearer[1] };
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(value);
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { scheme: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  throw new UnauthenticatedError('the Authorization header must be Bearer <token> or Basic <username:token>', 'invalid_request');
}
