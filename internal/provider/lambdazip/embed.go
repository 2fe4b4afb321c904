//go:build sentinel_embed

package lambdazip

import _ "embed"

//go:embed handler-arm64.zip
var arm64 []byte

//go:embed handler-amd64.zip
var amd64 []byte

// Zips returns the embedded handler zip of each architecture.
func Zips() map[string][]byte { return map[string][]byte{"arm64": arm64, "amd64": amd64} }
