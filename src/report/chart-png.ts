import { createRequire } from 'node:module';
import { Resvg } from '@resvg/resvg-js';
import { redact } from '../log.js';

/**
 * SVG → PNG in-process (resvg, no browser). The font ships with the npm package
 * `dejavu-fonts-ttf`, so a fresh machine renders the same text without system fonts.
 */
const require = createRequire(import.meta.url);
const fontFiles = [require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf'), require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf')];

export function svgToPng(svg: string): Buffer {
  // Labels come from pods, notes and registries: redaction runs on the picture's text too.
  const resvg = new Resvg(redact(svg), {
    font: { fontFiles, loadSystemFonts: false, defaultFontFamily: 'DejaVu Sans' },
    shapeRendering: 2,
    textRendering: 1,
  });
  return resvg.render().asPng();
}
