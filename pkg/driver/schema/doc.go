// Package schema turns a driver's flags (GetDriverCreateOptions and
// GetDriverUpdateOptions) into the API schema of that driver's cluster
// config, and holds configs to it: "disk-size-gb" becomes the field
// "diskSizeGb" with its type, default, description, whether it may be set on
// create and on update, and whether it is a password.
//
// Validate and Update parse untrusted JSON from API clients. Their errors
// are *FieldError values whose message names the field and never repeats
// the value given (it may be a password); the API answers them with 422.
// Options turns a valid config into the DriverOptions a driver receives.
//
// This package must never log, and must never let a value through whose
// type differs from its flag's.
package schema
