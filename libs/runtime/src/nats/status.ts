/**
 * The one mapping between TesseraError and NATS error headers:
 * `tessera-error-code` (the ErrorCode name), `tessera-error-message`, `tessera-error-details` (JSON).
 * Header values cannot hold CR/LF, so the message is flattened to one line and the details are JSON.
 */
import { headers as natsHeaders, type MsgHdrs } from 'nats';
import { ErrorCode, TesseraError, isErrorCode, type ErrorDetails } from '@tessera/errors';
import { Header } from '../wire-headers.js';

const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ');

export function setErrorHeaders(h: MsgHdrs, err: unknown): MsgHdrs {
  const e = TesseraError.from(err);
  h.set(Header.ERROR_CODE, e.code);
  h.set(Header.ERROR_MESSAGE, oneLine(e.message));
  if (Object.keys(e.details).length > 0) h.set(Header.ERROR_DETAILS, oneLine(JSON.stringify(e.details)));
  return h;
}

export function errorHeaders(err: unknown): MsgHdrs {
  return setErrorHeaders(natsHeaders(), err);
}

/** The TesseraError a reply carries, or undefined for a success reply. */
export function errorFromHeaders(h: MsgHdrs | undefined): TesseraError | undefined {
  const code = h?.get(Header.ERROR_CODE);
  if (!h || !code) return undefined;
  let details: ErrorDetails = {};
  const raw = h.get(Header.ERROR_DETAILS);
  if (raw) {
    try {
      details = JSON.parse(raw) as ErrorDetails;
    } catch {
      /* malformed details: keep code and message */
    }
  }
  return new TesseraError(isErrorCode(code) ? code : ErrorCode.INTERNAL, h.get(Header.ERROR_MESSAGE) || code, details);
}
