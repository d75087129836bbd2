import type { Response } from 'express';
import type { AccessClaims, AuthService } from './auth.service';
import { UnauthenticatedError } from './auth-errors';

/**
 * The caller named by `Authorization: Bearer <access token>`, verified locally; a
 * missing or bad token answers 401 with the `WWW-Authenticate` challenge.
 */
export async function authenticate(auth: AuthService, authorization: string | undefined, res: Response): Promise<AccessClaims> {
  try {
    const match = /^Bearer ([^\s]+)$/i.exec(authorization?.trim() ?? '');
    if (!authorization) throw new UnauthenticatedError('send Authorization: Bearer <access token>');
    if (!match) throw new UnauthenticatedError('the Authorization header must be Bearer <access token>', 'invalid_request');
    return await auth.verify(match[1]);
  } catch (error) {
    if (error instanceof UnauthenticatedError) res.setHeader('WWW-Authenticate', error.challenge());
    throw error;
  }
}
