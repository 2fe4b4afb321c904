// Package perf holds the end-to-end measurements of the TVM
// (docs/benchmarks.md):
// `sentinel-tvm dev` on moto behind latencyproxy, with the latencies of the
// real AWS services, against a bare STS AssumeRole through the same proxy;
// throughput with 16 concurrent clients; the AWS calls of each request
// path, counted at the proxy; and the bootstrap's cold start and size.
//
// Everything is in the tests: the counts are a test (TestAWSCallsPerPath,
// run by `make test`), the timings are benchmarks (`make bench`). They need
// moto (SENTINEL_TVM_MOTO_SERVER) and skip without it; docs/benchmarks.md
// has the figures and the commands.
package perf
