import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, rename, rm, stat, unlink } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import type { BackupStore, BackupWriter } from "./backup-store.port.js";

/** PARTIAL_MARKER is in the name of every file still being written: such a file is never a backup. */
export const PARTIAL_MARKER = ".partial-";

const KEY = /^[a-z]+\/[A-Za-z0-9_.-]+$/;

async function fsyncPath(p: string): Promise<void> {
  const h = await open(p, "r");
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/**
 * FilesystemBackupStore keeps backup files under one directory (BACKUP_DIR). A file is written as
 * `<key>.partial-<random>`, fsynced, then renamed to `<key>`: a crash or a full disk never leaves a
 * file under a backup's name that is not complete.
 */
export class FilesystemBackupStore implements BackupStore {
  /** dir is the absolute root directory. */
  readonly dir: string;
  /** describe names the store. */
  readonly describe: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
    this.describe = `filesystem ${this.dir}`;
  }

  #path(location: string): string {
    if (!KEY.test(location)) throw new Error(`not a backup store key: ${JSON.stringify(location)}`);
    return path.join(this.dir, location);
  }

  /** create starts writing `key` under a temporary name. */
  async create(key: string): Promise<BackupWriter> {
    const final = this.#path(key);
    // Backups hold patient data: owner-only, whatever the process's umask.
    await mkdir(path.dirname(final), { recursive: true, mode: 0o700 });
    const tmp = `${final}${PARTIAL_MARKER}${randomBytes(6).toString("hex")}`;
    const stream = createWriteStream(tmp, { flags: "wx", mode: 0o600 });
    let done = false;
    const abort = async (): Promise<void> => {
      done = true;
      stream.destroy();
      await rm(tmp, { force: true });
    };
    return {
      stream,
      abort,
      commit: async () => {
        if (done) throw new Error("backup file already committed or aborted");
        if (!stream.writableFinished) throw new Error("commit before the backup stream ended");
        await fsyncPath(tmp);
        await rename(tmp, final);
        done = true;
        await fsyncPath(path.dirname(final)).catch(() => undefined);
        return key;
      },
    };
  }

  /** read streams a committed file. */
  async read(location: string): Promise<Readable> {
    const p = this.#path(location);
    await stat(p);
    return createReadStream(p);
  }

  /** size is a committed file's size. */
  async size(location: string): Promise<number | undefined> {
    try {
      return (await stat(this.#path(location))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  /** delete removes a committed file. */
  async delete(location: string): Promise<void> {
    await unlink(this.#path(location)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
    });
  }
}
