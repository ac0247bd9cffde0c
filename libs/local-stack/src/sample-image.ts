import sharp from 'sharp';

/**
 * A synthetic 1344×896 photo-like PNG (sky gradient, sun, hills, a house) generated with sharp from
 * SVG, so the demo needs no image file: 1.2 MP, 3:2, which MiniCPM-V slices into an overview plus a
 * 3×2 grid (7 × 64 = 448 visual tokens).
 */
export async function sampleImage(): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="1344" height="896">
  <defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#4a90d9"/><stop offset="1" stop-color="#cfe8ff"/></linearGradient></defs>
  <rect width="1344" height="896" fill="url(#sky)"/>
  <circle cx="1100" cy="170" r="90" fill="#ffd23f"/>
  <path d="M0 620 Q 300 480 620 600 T 1344 560 V 896 H 0 Z" fill="#3f8f3f"/>
  <path d="M0 720 Q 400 640 800 720 T 1344 700 V 896 H 0 Z" fill="#2f6f2f"/>
  <rect x="420" y="470" width="260" height="190" fill="#c8553d"/>
  <polygon points="400,480 550,360 700,480" fill="#6b2d1f"/>
  <rect x="520" y="560" width="60" height="100" fill="#3b2a20"/>
  <rect x="445" y="510" width="50" height="45" fill="#fff3c4"/>
  <rect x="605" y="510" width="50" height="45" fill="#fff3c4"/>
  </svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}
