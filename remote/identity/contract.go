package identity

import _ "embed" // the contract travels with the code

// OpenAPI is the contract, openapi.yaml, as written beside this file. Tests check the service's every
// request and answer against it (idtest.ContractCheck), so the document and the code cannot drift.
//
//go:embed openapi.yaml
var OpenAPI []byte
