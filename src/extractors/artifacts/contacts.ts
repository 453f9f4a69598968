// Contacts: AddressBook.sqlitedb (ABPerson + ABMultiValue). Builds the resolver that every later
// extractor uses to put names to phone numbers and e-mail addresses.
import { macSeconds } from '../../formats/appleTime.js';
import { normalizeHandle } from '../contactResolver.js';
import { columnsOf, colOrNull, hasTable, sqlText, ArtifactError, type Extractor } from '../types.js';

const PROPERTY_KIND: Record<number, string> = { 3: 'phone', 4: 'email' };

/** `_$!<Mobile>!$_` → `Mobile`. */
function cleanLabel(label: unknown): string | null {
  if (typeof label !== 'string') return null;
  return label.replace(/^_\$!<(.*)>!\$_$/, '$1');
}

export function displayName(first: string | null, middle: string | null, last: string | null, org: string | null, nick: string | null): string | null {
  const person = [first, middle, last]
    .map((p) => p?.trim())
    .filter(Boolean)
    .join(' ');
  return person || org?.trim() || nick?.trim() || null;
}

export const contacts: Extractor = {
  id: 'contacts',
  title: 'Contacts (AddressBook)',
  sources: [{ domain: 'HomeDomain', path: 'Library/AddressBook/AddressBook.sqlitedb' }],
  kinds: [
    {
      kind: 'contact',
      label: 'Contacts',
      color: '#6b7280',
      view: 'table',
      dataType: 'ios:addressbook:contact',
      actions: { created: 'Contact Created', modified: 'Contact Modified' },
    },
  ],
  async run(ctx) {
    const src = await ctx.openDatabase('HomeDomain', 'Library/AddressBook/AddressBook.sqlitedb');
    if (!src) return;
    const { db } = src;
    if (!hasTable(db, 'ABPerson')) throw new ArtifactError('AddressBook.sqlitedb has no ABPerson table (unknown schema)');
    const pc = columnsOf(db, 'ABPerson');
    const hasMulti = hasTable(db, 'ABMultiValue');
    const hasLabels = hasTable(db, 'ABMultiValueLabel');
    const handlesByPerson = new Map<bigint, { kind: string; label: string | null; value: string }[]>();
    if (hasMulti) {
      const q = `SELECT mv.record_id AS rid, mv.property AS prop, mv.value AS value, ${hasLabels ? 'lbl.value' : 'NULL'} AS label
        FROM ABMultiValue mv ${hasLabels ? 'LEFT JOIN ABMultiValueLabel lbl ON lbl.ROWID = mv.label' : ''}
        WHERE mv.property IN (3, 4)`;
      for (const r of db.prepare(q).iterate() as Iterable<{ rid: bigint; prop: bigint; value: unknown; label: unknown }>) {
        const value = sqlText(r.value);
        if (!value) continue;
        const list = handlesByPerson.get(r.rid) ?? [];
        list.push({ kind: PROPERTY_KIND[Number(r.prop)], label: cleanLabel(r.label), value });
        handlesByPerson.set(r.rid, list);
      }
    } else {
      ctx.warn('AddressBook.sqlitedb has no ABMultiValue table: contacts have no phone numbers or e-mail addresses', { fileRowId: src.fileRowId });
    }
    const cols = ['First', 'Middle', 'Last', 'Organization', 'Nickname', 'Department', 'JobTitle', 'Note', 'CreationDate', 'ModificationDate']
      .map((c) => colOrNull(pc, c))
      .join(', ');
    const rows = db.prepare(`SELECT ROWID AS rowid, ${cols} FROM ABPerson ORDER BY ROWID`).iterate() as Iterable<Record<string, unknown>>;
    for (const r of rows) {
      const rowid = r.rowid as bigint;
      const first = sqlText(r.First),
        middle = sqlText(r.Middle),
        last = sqlText(r.Last),
        org = sqlText(r.Organization),
        nick = sqlText(r.Nickname);
      const name = displayName(first, middle, last, org, nick);
      const handles = (handlesByPerson.get(rowid) ?? []).map((h) => ({ ...h, normalized: normalizeHandle(h.value, ctx.region).normalized || null }));
      ctx.caseFile.addContact({
        sourceFileId: src.fileRowId,
        sourceTable: 'ABPerson',
        sourceRowid: rowid,
        displayName: name,
        firstName: first,
        lastName: last,
        organization: org,
        extra: { middle, nickname: nick, department: sqlText(r.Department), job_title: sqlText(r.JobTitle), note: sqlText(r.Note) },
        handles,
      });
      if (name) for (const h of handles) ctx.contacts.add(h.value, name);
      const summary = handles.map((h) => h.value).join(', ');
      const created = macSeconds(r.CreationDate);
      const modified = macSeconds(r.ModificationDate);
      for (const [col, t] of [
        ['CreationDate', created],
        ['ModificationDate', modified],
      ] as const) {
        if (t?.invalid) ctx.warn(`ABPerson ROWID ${rowid}: ${col} ${t.invalid}; kept without a time (raw value in ts_raw)`, { fileRowId: src.fileRowId, table: 'ABPerson', rowid });
      }
      ctx.emit({
        ts: created,
        kind: 'contact',
        action: 'created',
        title: `Contact created: ${name ?? '(no name)'}${summary ? ` (${summary})` : ''}`,
        counterpart: handles[0]?.value ?? null,
        counterpartName: name,
        sourceFileId: src.fileRowId,
        sourceTable: 'ABPerson',
        sourceRowid: rowid,
        extra: { handles: handles.map((h) => ({ kind: h.kind, label: h.label, value: h.value })), organization: org },
      });
      if (modified && (modified.utcUs !== created?.utcUs || modified.invalid)) {
        ctx.emit({
          ts: modified,
          kind: 'contact',
          action: 'modified',
          title: `Contact modified: ${name ?? '(no name)'}`,
          counterpart: handles[0]?.value ?? null,
          counterpartName: name,
          sourceFileId: src.fileRowId,
          sourceTable: 'ABPerson',
          sourceRowid: rowid,
        });
      }
    }
  },
};
