package policy

import "slices"

// Client modes: how a caller says it uses the TVM (request.client). The
// caller sets the mode itself, so a rule may use it to refine what it
// allows (a shorter session for exec, say) but never as its only
// restriction: anyone able to call the API can claim any mode.
const (
	ClientCredentialProcess = "credential_process" // `sentinel-tvm credentials` as an AWS credential_process
	ClientAgent             = "agent"              // the `sentinel-tvm agent` credential server
	ClientExec              = "exec"               // `sentinel-tvm exec`
	ClientSDK               = "sdk"                // the Go client and credentials provider
	ClientConsole           = "console"            // a console sign-in
	ClientOther             = "other"              // anything else, e.g. plain HTTP
)

// ClientModes lists the valid client modes.
var ClientModes = []string{ClientCredentialProcess, ClientAgent, ClientExec, ClientSDK, ClientConsole, ClientOther}

// IsClientMode reports whether s is a valid client mode.
func IsClientMode(s string) bool { return slices.Contains(ClientModes, s) }
