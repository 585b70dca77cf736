#!/bin/sh
# Build pulsestream as one static binary: SQLite (cgo, mattn/go-sqlite3)
# linked in, no libc or other file needed at run time, so it runs in a
# `FROM scratch` image or an empty chroot. The Dockerfile and the test
# deploy/static_test.go both run this script, so there is one build command.
#
#   scripts/build-static.sh [OUTPUT]      (default: bin/pulsestream)
#
# Needs a C compiler and the static C library (Debian: gcc, libc6-dev).
#   osusergo, netgo               user and DNS look-ups in Go, not through libc's NSS
#                                 (which a static glibc cannot load)
#   sqlite_omit_load_extension    no dlopen in SQLite (extensions are never loaded)
#   -linkmode external -static    cgo objects and libc linked into the binary
set -eu
cd "$(dirname "$0")/.."
out="${1:-bin/pulsestream}"
mkdir -p "$(dirname "$out")"
CGO_ENABLED=1 go build -trimpath \
  -tags 'osusergo netgo sqlite_omit_load_extension' \
  -ldflags '-s -w -linkmode external -extldflags "-static"' \
  -o "$out" ./cmd/pulsestream
echo "built static $out"
