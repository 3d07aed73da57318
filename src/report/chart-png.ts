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

/** The largest chart PNG attached to a thread (PRODUCTION.md: under 300 KB, readable on a phone). */
export const CHART_MAX_BYTES = 300 * 1024;

/**
 * Why a rendered chart is not attached, in words for the thread; undefined when it may go. The
 * model caps marks and rows, so this is the last guard, not the usual path.
 */
export function chartTooLarge(png: Buffer): string | undefined {
  if (png.length < CHART_MAX_BYTES) return undefined;
  return `The timeline chart was not attached: it came out at ${Math.ceil(png.length / 1024)} KB, over the ${CHART_MAX_BYTES / 1024} KB limit.`;
}
