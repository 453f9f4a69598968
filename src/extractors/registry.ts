// Every extractor, in the order they run. Contacts come first: the others resolve names through them.
import type { Extractor } from './types.js';
import { contacts } from './contacts.js';
import { calls } from './calls.js';

export const EXTRACTORS: Extractor[] = [contacts, calls];

export function extractorById(id: string): Extractor | undefined {
  return EXTRACTORS.find((e) => e.id === id);
}
