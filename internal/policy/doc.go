// Package policy is the Sentinel TVM policy language: it parses and checks
// HCL policy directories (Parse, then Compile) into a canonical JSON bundle,
// loads a bundle for evaluation (Load), decides requests (Policy.Evaluate),
// renders the scoping of an allowed session (Policy.Render) and runs the
// policy's own test cases (RunTests).
//
// Nothing in this package touches the network: the vending service loads the
// bundle from SSM and hands the evaluator plain values.
package policy
