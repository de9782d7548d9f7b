package authz

// Code is a decision's machine-readable outcome. The policy
// (policies/authz.rego) answers with one of these; grantd adds
// CodeInternalError (it could not decide) and the callers of the
// decision API CodeRevisionUnavailable. TestCodesMatchThePolicy keeps the
// two lists in step.
type Code string

// The codes of allowed decisions.
const (
	CodeAdmin   Code = "admin"   // the subject is a system admin
	CodeGranted Code = "granted" // a grant gives the operation
	CodeOwner   Code = "owner"   // the subject owns the repository's namespace
	CodePublic  Code = "public"  // the repository is public
)

// The codes of denials.
const (
	CodeMalformedRequest    Code = "malformed_request"
	CodeUnknownSubject      Code = "unknown_subject"
	CodeInactiveSubject     Code = "inactive_subject"
	CodeUnknownOperation    Code = "unknown_operation"
	CodeUnknownOption       Code = "unknown_option"
	CodeWrongResource       Code = "wrong_resource"
	CodeUnknownCollection   Code = "unknown_collection"
	CodeMissingOperation    Code = "missing_operation"
	CodeMissingOptions      Code = "missing_options"
	CodeSecretCollection    Code = "secret_collection"
	CodeMissingSecretUse    Code = "missing_secret_use"
	CodeMalformedRepository Code = "malformed_repository"
	CodeUnknownRepository   Code = "unknown_repository"
	CodeReserved            Code = "reserved"
	// CodeInternalError: the decision could not be made (fail closed).
	CodeInternalError Code = "internal_error"
	// CodeRevisionUnavailable: the state did not reach the revision the
	// caller asked for in time.
	CodeRevisionUnavailable Code = "revision_unavailable"
)

// policyCodes are the codes the policy itself may answer.
var policyCodes = []Code{CodeAdmin, CodeGranted, CodeOwner, CodePublic, CodeMalformedRequest, CodeUnknownSubject,
	CodeInactiveSubject, CodeUnknownOperation, CodeUnknownOption, CodeWrongResource, CodeUnknownCollection,
	CodeMissingOperation, CodeMissingOptions, CodeSecretCollection, CodeMissingSecretUse, CodeMalformedRepository,
	CodeUnknownRepository, CodeReserved}
