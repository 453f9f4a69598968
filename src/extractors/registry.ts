// Every extractor, found by looking: each module in artifacts/ exports one or more Extractor objects, so
// adding an artifact is adding one file. They run in dependency order (`after`), ties broken by id, so the
// order never depends on the file system.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Extractor, KindDescriptor } from './types.js';

function isExtractor(v: unknown): v is Extractor {
  const x = v as Extractor;
  return !!x && typeof x === 'object' && typeof x.id === 'string' && typeof x.run === 'function' && Array.isArray(x.kinds);
}

async function discover(): Promise<Extractor[]> {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
  const files = fs
    .readdirSync(dir)
    .filter((f) => /\.(js|ts)$/.test(f) && !f.endsWith('.d.ts'))
    .sort();
  const found = new Map<string, Extractor>();
  for (const f of files) {
    const mod = (await import(new URL(`./artifacts/${f}`, import.meta.url).href)) as Record<string, unknown>;
    for (const v of Object.values(mod)) {
      if (!isExtractor(v)) continue;
      if (found.has(v.id) && found.get(v.id) !== v) throw new Error(`two extractors share the id "${v.id}" (${f})`);
      found.set(v.id, v);
    }
  }
  return orderByDependencies([...found.values()]);
}

/** Topological order by `after`; an unknown or circular dependency is a programming error. */
export function orderByDependencies(list: Extractor[]): Extractor[] {
  const byId = new Map(list.map((x) => [x.id, x]));
  const done = new Set<string>();
  const out: Extractor[] = [];
  const visit = (x: Extractor, stack: string[]) => {
    if (done.has(x.id)) return;
    if (stack.includes(x.id)) throw new Error(`extractor dependency cycle: ${[...stack, x.id].join(' → ')}`);
    for (const dep of [...(x.after ?? [])].sort()) {
      const d = byId.get(dep);
      if (!d) throw new Error(`extractor "${x.id}" runs after unknown extractor "${dep}"`);
      visit(d, [...stack, x.id]);
    }
    done.add(x.id);
    out.push(x);
  };
  for (const x of [...list].sort((a, b) => a.id.localeCompare(b.id))) visit(x, []);
  return out;
}

export const EXTRACTORS: Extractor[] = await discover();

/** The extractors to run for `--only`: those named plus everything they depend on, in run order. */
export function withDependencies(ids: string[]): { run: Extractor[]; added: string[] } {
  const want = new Set<string>();
  const add = (id: string) => {
    if (want.has(id)) return;
    const x = EXTRACTORS.find((e) => e.id === id);
    if (!x) throw new Error(`unknown extractor "${id}" (known: ${EXTRACTORS.map((e) => e.id).join(', ')})`);
    want.add(id);
    for (const d of x.after ?? []) add(d);
  };
  for (const id of ids) add(id);
  const run = EXTRACTORS.filter((x) => want.has(x.id));
  return { run, added: run.map((x) => x.id).filter((id) => !ids.includes(id)) };
}

/** Kinds the pipeline itself emits: a recovered row of a table no artifact maps to an event (recovery stage). */
export const PIPELINE_KINDS: KindDescriptor[] = [
  {
    kind: 'record',
    label: 'Recovered records',
    color: '#9b1c1c',
    view: 'table',
    dataType: 'ios:recovery:record',
    actions: { deleted: 'Deleted Record Recovered', 'earlier-version': 'Earlier Version Recovered' },
  },
];

/** Every kind any extractor emits, one descriptor each (the first declaration wins; they must agree). */
export const KINDS: Map<string, KindDescriptor> = (() => {
  const m = new Map<string, KindDescriptor>(PIPELINE_KINDS.map((k) => [k.kind, k]));
  for (const x of EXTRACTORS) for (const k of x.kinds) if (!m.has(k.kind)) m.set(k.kind, k);
  return m;
})();
