// A headless Chromium for browser tests and the screenshot script: found on PATH (Debian's
// `chromium`, or CHROMIUM=/path), run in its own process group with a throw-away profile, and
// killed with its whole group when it finishes, fails or runs too long.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/** The path of a Chromium binary, or undefined when none is installed. */
export function findChromium(): string | undefined {
  const candidates = [process.env.CHROMIUM, ...(process.env.PATH ?? '').split(delimiter).flatMap((d) => NAMES.map((n) => join(d, n)))];
  for (const c of candidates) {
    if (c === undefined || c === '') continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // Not there, or not executable: try the next.
    }
  }
  return undefined;
}

/** Output of one Chromium run. */
export interface ChromiumResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `binary --headless … ARGS` and resolves when it exits. It is killed (its whole process
 * group: the renderer and GPU helpers too) after `timeoutMs`, and its profile dir is removed.
 */
export async function runChromium(binary: string, args: readonly string[], timeoutMs = 60_000): Promise<ChromiumResult> {
  const profile = mkdtempSync(join(tmpdir(), 'csync-chromium-'));
  // --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
  const child = spawn(binary, ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const killGroup = (): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // The group is already gone.
    }
  };
  const timer = setTimeout(killGroup, timeoutMs);
  try {
    const status = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve(code));
    });
    return { status, stdout, stderr };
  } finally {
    clearTimeout(timer);
    // Helpers (zygote, crashpad) may outlive the browser process: end the group.
    killGroup();
    rmSync(profile, { recursive: true, force: true });
  }
}
