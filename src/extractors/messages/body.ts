// The text of a message row: `text` when present (README trap 7), else decoded from attributedBody; both are
// compared when both exist. Pure, so the row-by-row path and SQLite's bulk path (bulk.ts) share it.
import { decodeAttributedBody } from '../../formats/typedstream.js';
import { sqlText } from '../../sqlite.js';

/** Undecodable bodies are kept as hex up to this many bytes (a real attributedBody is a few hundred). */
export const MAX_HEX_BYTES = 1 << 20;

export function hexOf(b: Buffer): string {
  return b.length > MAX_HEX_BYTES ? b.subarray(0, MAX_HEX_BYTES).toString('hex') : b.toString('hex');
}

export interface MessageBody {
  body: string | null;
  /** Keys for the event's extra_json, in order (body_source, attributed_body, links…). */
  fields: Record<string, unknown>;
  /** Set when the attributedBody could not be used: the caller warns. */
  problem?: { kind: 'undecodable' | 'not-a-blob'; detail: string };
}

export function readBody(textValue: unknown, blobValue: unknown): MessageBody {
  const text = sqlText(textValue);
  const fields: Record<string, unknown> = {};
  let body: string | null = text !== null && text !== '' ? text : null;
  let problem: MessageBody['problem'];
  if (body !== null) fields.body_source = 'text';
  if (Buffer.isBuffer(blobValue) && blobValue.length > 0) {
    try {
      const d = decodeAttributedBody(blobValue);
      if (body === null) {
        body = d.text;
        fields.body_source = 'attributedBody';
        fields.attributed_body = 'decoded';
      } else if (d.text === body) fields.attributed_body = 'same';
      else {
        fields.attributed_body = 'differs';
        fields.attributed_body_text = d.text;
      }
      if (d.links.length) fields.links = d.links;
      if (d.attachmentGuids.length) fields.attachment_guids = d.attachmentGuids;
    } catch (e) {
      const msg = (e as Error).message;
      fields.attributed_body = 'undecodable';
      fields.attributed_body_error = msg;
      fields.attributed_body_hex = hexOf(blobValue);
      if (blobValue.length > MAX_HEX_BYTES) fields.attributed_body_hex_truncated = blobValue.length;
      problem = { kind: 'undecodable', detail: msg };
    }
  } else if (blobValue !== null && blobValue !== undefined && !Buffer.isBuffer(blobValue)) {
    fields.attributed_body = 'not-a-blob';
    fields.attributed_body_value = String(blobValue).slice(0, 4096);
    problem = { kind: 'not-a-blob', detail: typeof blobValue };
  }
  if (body === null && text === '') body = '';
  return { body, fields, problem };
}
