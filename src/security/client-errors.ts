/**
 * Answers for requests Node's HTTP parser refuses before any handler runs (they reach `clientError`): oversized
 * headers (past the server's 16 KiB `maxHeaderSize`) → 431, a request not complete within the header/request
 * timeout → 408, anything else malformed → 400. Always a JSON `{error, reason}` body and `Connection: close`.
 */
import { STATUS_CODES } from 'node:http';

export function clientErrorResponse(err: unknown): { status: number; code: string; reason: string; raw: string } {
  const c = (err as { code?: string } | undefined)?.code;
  let status = 400;
  let code = 'BAD_REQUEST';
  let reason = 'malformed HTTP request';
  if (c === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    code = 'HEADERS_TOO_LARGE';
    reason = 'request headers larger than 16 KiB';
  } else if (c === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    code = 'REQUEST_TIMEOUT';
    reason = 'request not received in time';
  }
  const body = JSON.stringify({ error: code, reason });
  const raw = `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  return { status, code, reason, raw };
}
