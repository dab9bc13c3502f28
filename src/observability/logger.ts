/** pino JSON logger. One root per process; each call gets a child (uuid, conversation uuid) once, never per frame. */
import { pino, type Logger, type DestinationStream } from 'pino';
import type { LogLevel } from '../config/config.js';

export type { Logger };

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { svc: 'vonage-gateway' },
      // Never log credentials, should a caller or adapter pass them in a log object.
      redact: { paths: ['authorization', 'headers.authorization', 'req.headers.authorization', '*.token', '*.apiKey'], censor: '[redacted]' },
    },
    destination,
  );
}
