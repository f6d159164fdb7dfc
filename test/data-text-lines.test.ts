/**
 * compiler/data/text-lines.ts: seeded text lines are reproducible, carry visible dark text on a light
 * background, and the rotated set is the upright set turned by 180° pixel for pixel.
 */
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { renderTextLines, textLinesMissing, type RgbaImage } from '../compiler/data/text-lines.ts';
import { testNeeding } from './helpers/tools.ts';

const linesTest = testNeeding(textLinesMissing);

/** The image turned by 180°: pixel (x, y) moves to (w-1-x, h-1-y). */
function turned(img: RgbaImage): Uint8Array {
  const n = img.width * img.height;
  const out = new Uint8Array(img.data.length);
  for (let p = 0; p < n; p++) out.set(img.data.subarray(4 * p, 4 * p + 4), 4 * (n - 1 - p));
  return out;
}

/** Fraction of pixels whose grey level is below 128 (ink). */
function inkFraction(img: RgbaImage): number {
  let dark = 0;
  for (let p = 0; p < img.width * img.height; p++) if ((img.data[4 * p] + img.data[4 * p + 1] + img.data[4 * p + 2]) / 3 < 128) dark++;
  return dark / (img.width * img.height);
}

linesTest('the same seed renders the same texts and pixels; another seed other texts', () => {
  const a = renderTextLines(6, { seed: 7 });
  const b = renderTextLines(6, { seed: 7 });
  assert.equal(a.map((l) => l.text), b.map((l) => l.text));
  a.forEach((l, i) => assert.ok(Buffer.from(l.rgba.data).equals(Buffer.from(b[i].rgba.data)), `line ${i} pixels differ`));
  const c = renderTextLines(6, { seed: 8 });
  assert.not.equal(a.map((l) => l.text), c.map((l) => l.text));
  assert.ok(new Set(a.map((l) => l.text)).size >= 5, 'texts repeat');
});

linesTest('lines are dark text on a light background, 48 pixels high, sized to the text, label 0', () => {
  for (const l of renderTextLines(8, { seed: 1 })) {
    assert.is(l.label, 0);
    assert.is(l.rgba.height, 48);
    assert.is(l.rgba.data.length, 4 * l.rgba.width * l.rgba.height);
    assert.ok(l.text.length >= 2 && l.text.length <= 16, l.text);
    // wider texts give wider images (about 8 to 24 pixels a character at this height)
    assert.ok(l.rgba.width > 6 * l.text.length && l.rgba.width < 30 * l.text.length, `${l.text}: ${l.rgba.width}`);
    const ink = inkFraction(l.rgba);
    assert.ok(ink > 0.03 && ink < 0.5, `${l.text}: ink ${ink}`);
    // the corners are background
    assert.ok(l.rgba.data[0] >= 200 && l.rgba.data[3] === 255, `background ${l.rgba.data.slice(0, 4)}`);
  }
});

linesTest('rotate180 gives the same lines turned by 180°, pixel-equal, label 1; width and height options', () => {
  const up = renderTextLines(5, { seed: 3, width: 200, height: 40 });
  const down = renderTextLines(5, { seed: 3, width: 200, height: 40, rotate180: true });
  up.forEach((u, i) => {
    const d = down[i];
    assert.is(d.text, u.text);
    assert.is(d.label, 1);
    assert.equal([u.rgba.width, u.rgba.height], [200, 40]);
    assert.ok(Buffer.from(turned(u.rgba)).equals(Buffer.from(d.rgba.data)), `line ${i} is not the upright one turned`);
    assert.not.ok(Buffer.from(u.rgba.data).equals(Buffer.from(d.rgba.data)), 'turned equals upright');
  });
});

linesTest('a bad count or size is one clear error', () => {
  assert.throws(() => renderTextLines(-1, { seed: 1 }), /count -1/);
  assert.throws(() => renderTextLines(1, { seed: 1, height: 4 }), /height 4/);
});

test.run();
