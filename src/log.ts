/**
 * Logs: pino, one JSON object per line on stdout in containers, human-readable on a terminal.
 */
import { pino, type Logger } from 'pino';

export async function createLogger(debug: boolean): Promise<Logger> {
  const options = { name: 'egress-router', level: debug ? 'debug' : 'info', base: undefined };
  if (!process.stdout.isTTY) return pino(options, pino.destination({ dest: 1, sync: true }));
  // Loaded only for people at a terminal, to keep the container's start-up small.
  const { default: pretty } = await import('pino-pretty');
  return pino(options, pretty({ sync: true, ignore: 'name', translateTime: 'HH:MM:ss.l' }));
}
