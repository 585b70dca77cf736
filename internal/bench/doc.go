// Package bench is the load generator behind `pulsestream bench`: it runs
// named scenarios (ingest-batch, ingest-single, ingest-dup, search) against
// a server over HTTP, or writes the same rows straight into a store
// (`bench storage`), and reports throughput, latency percentiles and — when
// it knows the server's pid — the server's CPU time and peak RSS, beside
// its own CPU (the generator shares the cores with a local server). Ingest
// requests go through one lean HTTP/1.1 connection per client (wire.go).
package bench
