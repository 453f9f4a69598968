// What a reader of the printed report sees: photo cards lead with the fields that matter, the custody log reads
// as sentences rather than JSON.
import { describe, expect, it } from 'vitest';
import { readableLines, splitPhotoFields } from '../src/report/viewModel.js';

describe('photo card fields', () => {
  it('puts the file name, camera, size and hash first, flags only when set, and everything else in details', () => {
    const flat: [string, string][] = [
      ['asset.uuid', '7FE9'],
      ['file.sha256', 'ab'.repeat(32)],
      ['asset.filename', 'IMG_0001.JPG'],
      ['asset.hidden', 'false'],
      ['asset.trashed', 'true'],
      ['asset.camera_model', 'iPhone 12'],
      ['exif.software', '17.4.1'],
    ];
    const { key, details } = splitPhotoFields(flat);
    expect(key.map(([k]) => k)).toEqual(['asset.filename', 'asset.camera_model', 'file.sha256', 'asset.trashed']);
    expect(details.map(([k]) => k)).toEqual(['asset.uuid', 'asset.hidden', 'exif.software']);
  });
});

describe('custody details as lines', () => {
  it('writes one line per extractor run and per hashed output, never JSON', () => {
    const runs = readableLines([
      { id: 'messages', status: 'ok', events: 121, warnings: 2 },
      { id: 'wifi', status: 'not-present', events: 0, warnings: 0 },
    ]);
    expect(runs).toEqual(['messages: status ok, events 121, warnings 2', 'wifi: status not-present, events 0, warnings 0']);
    expect(readableLines([{ path: 'report.pdf', size: 10, sha256: 'ff' }])).toEqual(['report.pdf: size 10, sha256 ff']);
    const pass = readableLines({ algorithms: ['sha256', 'md5'], files: 25, changed_during_ingest: [] });
    expect(pass).toEqual(['algorithms: sha256; md5', 'files: 25']);
    expect([...runs, ...pass].join('\n')).not.toMatch(/[{}"]/);
  });
});
