/**
 * A real headless browser for tests, driven through its command line only (Debian's `chromium`; no puppeteer or
 * playwright): the DOM after scripts ran, the console messages, and a screenshot decoded here with node:zlib.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { inflateSync } from "node:zlib";

export const CHROMIUM = "chromium";
export const WINDOW = { width: 1280, height: 1600 } as const;

/**
 * Throws a clear error when `chromium` is not on PATH: the browser tests fail rather than skip without it
 * (`.ci/run` installs it; locally `apt-get install chromium`).
 */
export function requireChromium(): void {
  const found = spawnSync("sh", ["-c", `command -v ${CHROMIUM}`], { encoding: "utf8" });
  if (found.status !== 0 || found.stdout.trim() === "")
    throw new Error(
      `'${CHROMIUM}' is not installed: the HTML report is tested in a real headless browser. Install it with ` +
        "`apt-get install -y chromium` (.ci/run does this on CI).",
    );
}

export interface BrowserRun {
  readonly code: number | null;
  readonly stdout: string;
  /** Every console message the page produced (`console.*`, uncaught errors, CSP violations), one per line. */
  readonly console: readonly string[];
  readonly stderr: string;
}

/**
 * Loads `htmlFile` in headless chromium with `extra` flags (`--dump-dom`, `--screenshot=<png>`). Console
 * messages come from `--enable-logging=stderr --v=0`, which prints each as an `INFO:CONSOLE` line.
 */
export function chromium(
  htmlFile: string,
  extra: readonly string[],
  timeoutMs = 60_000,
): Promise<BrowserRun> {
  const profile = mkdtempSync(join(tmpdir(), "edgecrew-chromium-"));
  const args = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    `--window-size=${WINDOW.width},${WINDOW.height}`,
    "--hide-scrollbars",
    "--no-first-run",
    `--user-data-dir=${profile}`,
    "--enable-logging=stderr",
    "--v=0",
    ...extra,
    pathToFileURL(htmlFile).href,
  ];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(CHROMIUM, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      rmSync(profile, { recursive: true, force: true });
      const console = stderr.split("\n").filter((line) => /:CONSOLE[:(]/.test(line));
      resolvePromise({ code, stdout, stderr, console });
    });
  });
}

/** A decoded PNG: `channels` bytes per pixel (3 RGB, 4 RGBA), rows top to bottom. */
export interface Image {
  readonly width: number;
  readonly height: number;
  readonly channels: 3 | 4;
  readonly data: Uint8Array;
}

/** Decodes an 8-bit RGB or RGBA, non-interlaced PNG (filter types 0–4), which is what chromium writes. */
export function decodePng(file: string): Image {
  const bytes = readFileSync(file);
  if (bytes.subarray(0, 8).toString("hex") !== "89504e470d0a1a0a") throw new Error(`${file}: not a PNG`);
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels: 3 | 4 = 4;
  const idat: Buffer[] = [];
  while (offset < bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString("latin1", offset + 4, offset + 8);
    const body = bytes.subarray(offset + 8, offset + 8 + length);
    if (type === "IHDR") {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [depth, colour, , , interlace] = [body[8], body[9], body[10], body[11], body[12]];
      if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0)
        throw new Error(`${file}: only 8-bit RGB/RGBA non-interlaced PNGs are decoded`);
      channels = colour === 2 ? 3 : 4;
    } else if (type === "IDAT") idat.push(body);
    else if (type === "IEND") break;
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const data = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? (data[y * stride + x - channels] ?? 0) : 0;
      const b = y > 0 ? (data[(y - 1) * stride + x] ?? 0) : 0;
      const c = x >= channels && y > 0 ? (data[(y - 1) * stride + x - channels] ?? 0) : 0;
      const value = line[x] ?? 0;
      let predicted: number;
      switch (filter) {
        case 0:
          predicted = 0;
          break;
        case 1:
          predicted = a;
          break;
        case 2:
          predicted = b;
          break;
        case 3:
          predicted = (a + b) >> 1;
          break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          throw new Error(`${file}: unknown PNG filter type ${filter}`);
      }
      data[y * stride + x] = (value + predicted) & 0xff;
    }
  }
  return { width, height, channels, data };
}

/** A rectangle in CSS pixels (the browser tests run at device scale 1). */
export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** Pixels of `hex` colour (each channel within `tolerance`) inside `rect`, clipped to the image. */
export function countColour(image: Image, rect: Rect, hex: string, tolerance = 2): number {
  const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as [
    number,
    number,
    number,
  ];
  let count = 0;
  const x1 = Math.min(image.width, Math.max(0, Math.floor(rect.x + rect.width)));
  const y1 = Math.min(image.height, Math.max(0, Math.floor(rect.y + rect.height)));
  for (let y = Math.max(0, Math.floor(rect.y)); y < y1; y++) {
    for (let x = Math.max(0, Math.floor(rect.x)); x < x1; x++) {
      const at = (y * image.width + x) * image.channels;
      if (
        Math.abs((image.data[at] ?? 0) - r) <= tolerance &&
        Math.abs((image.data[at + 1] ?? 0) - g) <= tolerance &&
        Math.abs((image.data[at + 2] ?? 0) - b) <= tolerance
      )
        count++;
    }
  }
  return count;
}
