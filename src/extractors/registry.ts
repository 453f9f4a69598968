// Every extractor, in the order they run. Contacts come first: the others resolve names through them.
// message-locations reads the attachments messages recorded, so it runs after messages.
import type { Extractor } from './types.js';
import { contacts } from './contacts.js';
import { calls } from './calls.js';
import { messages } from './messages.js';
import { photos } from './photos.js';
import { consolidatedLocations } from './locations/consolidated.js';
import { routinedLocations } from './locations/routined.js';
import { messageLocations } from './locations/messageLocations.js';

export const EXTRACTORS: Extractor[] = [contacts, calls, messages, photos, consolidatedLocations, routinedLocations, messageLocations];

export function extractorById(id: string): Extractor | undefined {
  return EXTRACTORS.find((e) => e.id === id);
}
