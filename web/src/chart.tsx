/**
 * Batch sizes over a send, as an inline SVG: one bar per batch in order, its
 * height the batch's size, failed batches marked. Drawn from the events alone,
 * so a replayed send looks the same as one watched live. The table beside it
 * carries the same numbers for screen readers.
 */
import type { BatchSent } from '../../clients/typescript/src/gen/storycast/v1/story_service_pb';
import { n } from './ui';

const WIDTH = 600;
const HEIGHT = 220;
const PAD = { left: 48, right: 8, top: 12, bottom: 24 };

/** 1, 2, 5 x 10^k: the round number at or above the largest size, for the axis. */
function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(1, value)));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

export function BatchChart(props: { batches: readonly BatchSent[] }) {
  const { batches } = props;
  const top = niceCeiling(Math.max(1, ...batches.map((b) => b.size)));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(batches.length, 10);
  const y = (size: number) => PAD.top + plotH - (size / top) * plotH;
  const label = batches.length ? `Batch sizes: ${batches.map((b) => `${n(b.size)}${b.ok ? '' : ' failed'}`).join(', ')}` : 'No batches yet';
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={label} data-testid="batch-chart">
        {[0, top / 2, top].map((tick) => (
          <g key={tick}>
            <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y(tick)} y2={y(tick)} class="grid" />
            <text x={PAD.left - 6} y={y(tick) + 4} text-anchor="end" class="tick">
              {n(tick)}
            </text>
          </g>
        ))}
        {batches.map((b, i) => (
          <rect
            key={b.index}
            class={b.ok ? 'bar' : 'bar failed'}
            x={PAD.left + i * slot + slot * 0.15}
            y={y(b.size)}
            width={slot * 0.7}
            height={Math.max(1, PAD.top + plotH - y(b.size))}
          >
            <title>
              Batch {b.index + 1}: {n(b.size)} recipients, {b.ok ? 'ok' : (b.error?.code ?? 'failed')}
            </title>
          </rect>
        ))}
        <text x={PAD.left} y={HEIGHT - 6} class="tick">
          batch 1
        </text>
        <text x={WIDTH - PAD.right} y={HEIGHT - 6} text-anchor="end" class="tick">
          {batches.length ? `batch ${batches.at(-1)!.index + 1}` : ''}
        </text>
      </svg>
      <figcaption>Batch size per batch, in order; red: failed (its recipients go back to the front).</figcaption>
    </figure>
  );
}
