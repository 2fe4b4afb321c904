//go:build !unix

package cli

import (
	"os"
	"syscall"
)

// forwardedSignals go from exec to the command.
var forwardedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM}
