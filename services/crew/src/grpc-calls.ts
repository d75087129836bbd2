import type { Metadata } from '@grpc/grpc-js';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { AUTH_CONTEXT, type AuthContext, type Principal } from '@co/auth';
import { CommonErrorCodes, InvalidInputError } from '@co/common';

/** The caller the auth guard authenticated, kept on the gRPC call's metadata. */
export function callerOf(metadata: Metadata | undefined): Principal {
  const auth = (metadata as unknown as Record<symbol, AuthContext | undefined> | undefined)?.[AUTH_CONTEXT];
  if (!auth) throw new Error('callerOf used on a call the auth guard did not see');
  return auth.principal;
}

/**
 * A gRPC request checked with the REST body's class (the same limits and sentences):
 * REQUEST.INVALID with every violation, as a REST call gets it.
 */
export function checked<T extends object>(type: new () => T, value: object): T {
  const instance = plainToInstance(type, value);
  const violations = validateSync(instance, { whitelist: true }).flatMap((error) => messagesOf(error));
  if (violations.length) throw new InvalidInputError(CommonErrorCodes.REQUEST_INVALID, `The request is invalid: ${violations.join('; ')}.`, { violations });
  return instance;
}

function messagesOf(error: ValidationError, path = ''): string[] {
  const at = path ? `${path}.${error.property}` : error.property;
  const own = Object.values(error.constraints ?? {}).map((message) => (path ? `${path}.${message}` : message));
  return [...own, ...(error.children ?? []).flatMap((child) => messagesOf(child, at))];
}

/** Proto3 strings are "" when not given: undefined then. */
export function given(value: string | undefined): string | undefined {
  return value ? value : undefined;
}

/** Proto3 repeated fields are empty when not given: undefined then. */
export function givenList<T>(value: T[] | undefined | null): T[] | undefined {
  return value && value.length ? value : undefined;
}
