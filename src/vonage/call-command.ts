/** `vgw call`: place one outbound call connected to the gateway, print its Vonage uuid. */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.js';
import { sectionsOf } from '../config/sections.js';
import { GatewayError } from '../errors.js';
import { createVonageClient } from './client.js';
import { placeOutboundCall } from './outbound.js';
import { AMD_MODES, type AmdMode } from '../config/tracing-specs.js';

/**
 * Run the command. Prints the call uuid alone on stdout (for scripts; `--json` prints the whole answer), details on
 * stderr. Returns the exit code.
 * @param usageError builds the CLI's usage error (exit 2 with the usage text).
 */
export async function callCommand(argv: string[], env: Readonly<Record<string, string | undefined>>, usageError: (m: string) => Error): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        to: { type: 'string' },
        from: { type: 'string' },
        url: { type: 'string' },
        json: { type: 'boolean', default: false },
        'inline-ncco': { type: 'boolean', default: false },
        amd: { type: 'boolean', default: false },
        'amd-mode': { type: 'string' },
        'amd-beep-timeout': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw usageError((err as Error).message);
  }
  if (!values.to) throw usageError('call needs --to <number>');
  if (!values.amd && (values['amd-mode'] !== undefined || values['amd-beep-timeout'] !== undefined))
    throw usageError('--amd-mode and --amd-beep-timeout go with --amd');
  const mode = values['amd-mode'];
  if (mode !== undefined && !(AMD_MODES as readonly string[]).includes(mode)) throw usageError(`--amd-mode must be one of ${AMD_MODES.join(', ')}`);
  const beep = values['amd-beep-timeout'];
  if (beep !== undefined && !/^\d{1,3}s?$/.test(beep)) throw usageError('--amd-beep-timeout must be whole seconds, e.g. 45 or 45s');
  // This command is its own composition root: it reads the settings and hands each part its sections.
  const { server, security, vonage } = sectionsOf(loadConfig(env));
  const amd = values.amd
    ? { mode: (mode as AmdMode | undefined) ?? vonage.amdMode, beepTimeoutS: beep === undefined ? vonage.amdBeepTimeoutS : parseInt(beep, 10) }
    : undefined;
  const client = await createVonageClient(vonage);
  if (!client) throw new GatewayError('VONAGE_NOT_CONFIGURED', 'set VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY to place calls');
  let out;
  try {
    out = await placeOutboundCall({ server, security }, client, {
      to: values.to,
      from: values.from,
      gatewayUrl: values.url,
      inlineNcco: values['inline-ncco'],
      amd,
    });
  } catch (err) {
    if (err instanceof GatewayError && err.code === 'CONFIG_INVALID') throw usageError(err.message);
    throw err;
  }
  const { call, ref, answerUrl } = out;
  if (values.json) {
    process.stdout.write(
      JSON.stringify({
        uuid: call.uuid,
        status: call.status,
        direction: call.direction,
        conversation_uuid: call.conversationUuid,
        ...(ref ? { ref } : { answer_url: answerUrl }),
        ...(amd ? { amd: amd.mode } : {}),
      }) + '\n',
    );
  } else {
    process.stdout.write(`${call.uuid}\n`);
    const how = ref ? `the gateway will see it as ${ref}` : `Vonage fetches its NCCO from ${answerUrl} when the callee answers`;
    process.stderr.write(`call ${call.uuid} ${call.status} (${call.direction}, conversation ${call.conversationUuid || '-'}); ${how}\n`);
  }
  return 0;
}
