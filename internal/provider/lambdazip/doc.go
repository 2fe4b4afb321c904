// Package lambdazip holds the Lambda handler zips the provider hands out.
// `make provider` and `make dist` build them from lambda/tvm with
// tools/package (reproducibly: the same source and Go version give the same
// bytes on any machine and from any checkout path), write them here as
// handler-arm64.zip and handler-amd64.zip, and build the provider with the
// sentinel_embed tag, which embeds them. A build without the tag (go build,
// go vet, go test) embeds nothing, and the data source says how to get a
// provider that has them.
package lambdazip
