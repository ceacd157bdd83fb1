#!/usr/bin/env bash
# Regenerates gen/: TypeScript from the protos (buf.gen.yaml) and the descriptor set with source info
# that server reflection serves (so grpcurl and buf curl show the proto comments).
# Usage: scripts/generate.sh [OUT_DIR]   (default: the repo's gen/; the staleness test passes a temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
out="${1:-gen}"
root="$PWD"
if [[ "$out" == "gen" ]]; then
  buf generate
else
  # buf generate's --output is prepended to the template's `out: gen`.
  buf generate --output "$out"
  out="$out/gen"
fi
mkdir -p "$out/descriptors"
buf build proto --as-file-descriptor-set -o "$out/descriptors/medschedule.binpb"
buf build node_modules/grpc-health-check/proto --as-file-descriptor-set -o "$out/descriptors/health.binpb"
buf build node_modules/@grpc/reflection/build/proto --as-file-descriptor-set \
  --path node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto \
  --path node_modules/@grpc/reflection/build/proto/grpc/reflection/v1alpha/reflection.proto \
  -o "$out/descriptors/reflection.binpb"
# google.rpc error details, so reflection clients can decode google.rpc.BadRequest in error details.
buf build node_modules/google-proto-files --as-file-descriptor-set \
  --path node_modules/google-proto-files/google/rpc/status.proto \
  --path node_modules/google-proto-files/google/rpc/error_details.proto \
  -o "$out/descriptors/google-rpc.binpb"
cd "$root"
