// Package decisionlog writes grantd's decisions out, as JSON lines to a
// file (rotated by size) or to stdout, or in batches to an HTTP sink in
// OPA's decision-log upload format (a gzip-compressed JSON array of
// events, POSTed; failed uploads are retried with backoff).
//
// Logging is never on a decision's critical path: Log hands a record to a
// bounded buffer and returns; one writer goroutine encodes and writes.
// When the buffer is full the record is dropped and counted. Allowed
// decisions can be sampled; denials are always kept. Fields can be erased
// before they leave the process.
//
// The package imports authz (for the request and decision it records) and
// nothing else of grantd's.
package decisionlog
