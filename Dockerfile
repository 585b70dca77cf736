# syntax=docker/dockerfile:1
# PulseStream in an image holding one static binary and nothing else.
#
#   docker build -t pulsestream .
#   docker run -p 8000:8000 -v pulsestream-data:/data \
#     -e PULSESTREAM_ADMIN_TOKEN="$(openssl rand -base64 32)" pulsestream
#
# The image build itself is NOT run in CI: no image registry is reachable
# there to pull the base images. What the image relies on is tested instead:
# the builder stage runs scripts/build-static.sh, the one build command, and
# deploy/static_test.go runs that script's binary in an empty root (no libc,
# no /etc, no shell — what FROM scratch gives it), serves, answers /health and
# `pulsestream healthcheck`, and ingests an event.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
COPY client/go.mod client/
RUN go mod download
COPY . .
RUN scripts/build-static.sh /out/pulsestream \
 && mkdir -p /out/data /out/tmp \
 && chmod 0700 /out/data && chmod 1777 /out/tmp

FROM scratch
COPY --from=build /out/pulsestream /pulsestream
# /data holds the SQLite database (the default); /tmp is for SQLite's own
# temporary files. uid 65532 is the usual "nonroot" of distroless images.
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/tmp /tmp
USER 65532:65532
WORKDIR /data
ENV PULSESTREAM_ADDR=:8000 \
    PULSESTREAM_DATABASE_URL=sqlite:///data/pulsestream.db
VOLUME /data
EXPOSE 8000
# No shell or curl here: the binary checks its own /health (exit 0 or 1),
# reading PULSESTREAM_ADDR (and PULSESTREAM_TLS_CERT) as serve does.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/pulsestream", "healthcheck"]
ENTRYPOINT ["/pulsestream"]
CMD ["serve"]
