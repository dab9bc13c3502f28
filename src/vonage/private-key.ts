/**
 * The Vonage application's private key, from VONAGE_PRIVATE_KEY: a path to a PEM file or the PEM text itself.
 * Errors name the file, never the key.
 */
import { readFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { GatewayError } from '../errors.js';

/**
 * The PEM text of the key, checked to be an RSA private key (Vonage signs RS256).
 * PEM text pasted into one env line often has literal `\n`: those are turned back into newlines.
 * @throws GatewayError VONAGE_NOT_CONFIGURED when the file cannot be read or the key cannot be used.
 */
export function loadPrivateKeyPem(value: string): string {
  let pem: string;
  let source: string;
  if (value.includes('-----BEGIN')) {
    pem = value.replace(/\\n/g, '\n');
    source = 'VONAGE_PRIVATE_KEY (PEM text)';
  } else {
    source = `VONAGE_PRIVATE_KEY file ${value}`;
    try {
      pem = readFileSync(value, 'utf8');
    } catch (err) {
      throw new GatewayError('VONAGE_NOT_CONFIGURED', `${source}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  let type: string | undefined;
  try {
    type = createPrivateKey(pem).asymmetricKeyType;
  } catch {
    throw new GatewayError('VONAGE_NOT_CONFIGURED', `${source}: not a PEM private key`);
  }
  if (type !== 'rsa') throw new GatewayError('VONAGE_NOT_CONFIGURED', `${source}: an RSA key is needed for RS256 (got ${type ?? 'unknown'})`);
  return pem;
}
