import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";

/** findRepoFile finds a path relative to the repository root, from src/ or from dist/. */
export function findRepoFile(relative: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, relative);
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`cannot find ${relative} above ${fileURLToPath(import.meta.url)}; is the checkout complete?`);
}

let cached: FileDescriptorProto[] | undefined;

/**
 * loadDescriptorFiles reads the committed descriptor sets in gen/descriptors (built by `buf build`,
 * with source info so reflection clients show the proto comments), deduplicated by file name.
 */
export function loadDescriptorFiles(): FileDescriptorProto[] {
  if (cached) return cached;
  const dir = findRepoFile("gen/descriptors");
  const byName = new Map<string, FileDescriptorProto>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".binpb")).sort()) {
    const set = fromBinary(FileDescriptorSetSchema, readFileSync(path.join(dir, f)));
    for (const file of set.file) if (!byName.has(file.name)) byName.set(file.name, file);
  }
  cached = [...byName.values()];
  return cached;
}
