import { randomBytes } from 'node:crypto';
import { ConflictError } from '@co/common';
import type { Logger } from 'pino';
import { UsersService } from './users.service';

export const ADMIN_USERNAME = 'admin';
export const ADMIN_EMAIL = 'admin@containerops.local';

/**
 * Creates the `admin` user on first start: password `CO_ADMIN_PASSWORD`, or a
 * generated one logged once in a single line. The username claim decides between
 * restarts and replicas: whoever loses the claim neither creates nor logs anything.
 */
export async function bootstrapAdmin(users: UsersService, logger: Logger, configured?: string): Promise<'created' | 'exists'> {
  // A claim left by a crash before the user was recorded is taken over by create() once stale.
  if (await users.credentials(ADMIN_USERNAME)) return 'exists';
  const password = configured ?? randomBytes(18).toString('base64url');
  try {
    await users.create({ username: ADMIN_USERNAME, password, email: ADMIN_EMAIL }, 'bootstrap', 'crew');
  } catch (error) {
    if (error instanceof ConflictError) return 'exists';
    throw error;
  }
  if (configured) {
    logger.info('bootstrap administrator "admin" created with the password from CO_ADMIN_PASSWORD');
  } else {
    logger.warn(
      `bootstrap administrator "admin" created with the generated password ${password} ; it is shown only this once: keep it somewhere safe (or set CO_ADMIN_PASSWORD before the first start; changing a password comes with a later version)`,
    );
  }
  return 'created';
}
