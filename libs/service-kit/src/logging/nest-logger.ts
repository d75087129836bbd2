import type { LoggerService } from '@nestjs/common';
import type { Logger } from 'pino';

/** Nest's own start-up chatter; useful when debugging, noise otherwise. */
const FRAMEWORK_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
  'NestMicroservice',
]);

/** Nest's logger interface on top of the service's pino logger (one per service). */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...rest: unknown[]) {
    const context = contextOf(rest);
    this.write(FRAMEWORK_CONTEXTS.has(context ?? '') ? 'debug' : 'info', message, context);
  }

  error(message: unknown, ...rest: unknown[]) {
    const context = contextOf(rest);
    const stack = rest.find((item) => typeof item === 'string' && item.includes('\n    at '));
    this.write('error', message, context, stack as string | undefined);
  }

  warn(message: unknown, ...rest: unknown[]) {
    this.write('warn', message, contextOf(rest));
  }

  debug(message: unknown, ...rest: unknown[]) {
    this.write('debug', message, contextOf(rest));
  }

  verbose(message: unknown, ...rest: unknown[]) {
    this.write('trace', message, contextOf(rest));
  }

  fatal(message: unknown, ...rest: unknown[]) {
    this.write('fatal', message, contextOf(rest));
  }

  private write(level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal', message: unknown, context?: string, stack?: string) {
    const bindings: Record<string, unknown> = context ? { context } : {};
    if (stack) bindings.stack = stack;
    if (message instanceof Error) {
      this.logger[level]({ ...bindings, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      const { msg, ...fields } = message as Record<string, unknown>;
      this.logger[level]({ ...bindings, ...fields }, typeof msg === 'string' ? msg : '');
    } else {
      this.logger[level](bindings, String(message));
    }
  }
}

function contextOf(rest: unknown[]): string | undefined {
  const last = rest[rest.length - 1];
  return typeof last === 'string' && !last.includes('\n') ? last : undefined;
}
