#!/usr/bin/env bash
# Regenerates the committed Python stubs from ../../proto. Deterministic: CI
# runs this and fails if the output differs, so use the pinned grpcio-tools
# from requirements-dev.txt.
set -euo pipefail
cd "$(dirname "$0")"

out=src/storycast/v1
# Remove stale outputs first so a deleted/renamed .proto leaves nothing behind.
rm -f "$out"/*_pb2.py "$out"/*_pb2.pyi "$out"/*_pb2_grpc.py

# google/protobuf/timestamp.proto comes from grpc_tools' bundled includes;
# google.rpc.ErrorInfo comes at runtime from googleapis-common-protos.
python3 -m grpc_tools.protoc \
  -I../../proto \
  --python_out=src --grpc_python_out=src --pyi_out=src \
  $(cd ../../proto && ls storycast/v1/*.proto)
