import { parseManifests } from './manifest.js';
import { parseSampleOptions, sampleManifest } from './sample.js';

describe('stampede sample', () => {
  it('prints a manifest whose window opens --starts-in from now and that apply accepts', () => {
    const now = Date.parse('2031-05-04T10:00:00.250Z');
    const text = sampleManifest(parseSampleOptions(['--starts-in', '2m', '--stock', '20']), now);
    const [m] = parseManifests(text);
    expect(m?.name).toBe('sample-sale');
    expect(m?.spec.stock).toBe(20);
    expect(m?.spec.window).toEqual({ start: '2031-05-04T10:02:01.000Z', end: '2031-05-04T10:32:01.000Z' });
  });

  it('takes a name and a length, and refuses what is not a duration', () => {
    const o = parseSampleOptions(['--starts-in', '90s', '--lasts', '1h', '--name', 'my-drop']);
    expect(o).toEqual({ startsInMs: 90_000, lastsMs: 3_600_000, name: 'my-drop', stock: 100 });
    expect(() => parseSampleOptions([])).toThrow(/--starts-in/);
    expect(() => parseSampleOptions(['--starts-in', '2 minutes'])).toThrow(/--starts-in/);
    expect(() => parseSampleOptions(['--starts-in', '2m', '--name', 'Bad_Name'])).toThrow(/--name/);
  });
});
