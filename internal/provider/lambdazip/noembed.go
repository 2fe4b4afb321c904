//go:build !sentinel_embed

package lambdazip

// Zips returns nil: this build embeds no handler zip.
func Zips() map[string][]byte { return nil }
