/** A QR payload drawn on a canvas, redrawn whenever WhatsApp rotates it. */
import QRCode from 'qrcode';
import { useEffect, useRef } from 'preact/hooks';

export function QrCanvas(props: { code: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    // Dark on light whatever the page's theme: phones read the classic contrast best.
    QRCode.toCanvas(canvas.current, props.code, { width: 264, margin: 2, color: { dark: '#000000', light: '#ffffff' } }).catch(() => {
      // An unencodable payload leaves the last code on screen; the next rotation replaces it.
    });
  }, [props.code]);
  return (
    <canvas
      ref={canvas}
      width={264}
      height={264}
      role="img"
      aria-label="QR code to scan in WhatsApp, Linked devices"
      data-testid="qr"
      data-code-length={props.code.length}
    />
  );
}
