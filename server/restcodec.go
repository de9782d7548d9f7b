package server

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/grantd/grantd/internal/plainjson"
	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

// The JSON of POST /v1/authorize, read and written by hand for the
// requests and answers nearly every caller sends and gets: protojson's
// decoding (behind encoding/json's pass over the same bytes) and encoding
// were a quarter of grantd's CPU per REST decision (docs/performance.md).
// Anything outside the plain form goes to the gateway's own codec, so the
// route answers every body exactly as the gateway would:
// TestAuthorizeDecodeLikeTheGateway and TestAuthorizeEncodeLikeTheGateway
// compare the two on random bodies and answers.

// decodeAuthorize fills req from body and reports whether it could: body
// must start with a JSON object whose members are subject, operation,
// options, secrets and resource (collection, labels, repository), each at
// most once, with strings of valid UTF-8 without escapes or control
// characters. Like the gateway's decoder, it reads the first JSON value
// and ignores what follows it. When it reports false, req may be partly
// filled and the caller decodes body with the gateway's decoder instead.
func decodeAuthorize(body []byte, req *v1.AuthorizeRequest) bool {
	s := plainjson.New(body)
	return s.Members(func(key []byte) (uint8, bool) {
		switch string(key) {
		case "subject":
			v, ok := s.Str()
			req.Subject = v
			return 1, ok
		case "operation":
			v, ok := s.Str()
			req.Operation = v
			return 2, ok
		case "options":
			v, ok := s.Strs()
			req.Options = v
			return 4, ok
		case "secrets":
			v, ok := s.Strs()
			req.Secrets = v
			return 8, ok
		case "resource":
			req.Resource = &v1.Resource{}
			return 16, readResource(s, req.Resource)
		}
		return 0, false
	})
}

// readResource reads a Resource object.
func readResource(s *plainjson.Scanner, r *v1.Resource) bool {
	return s.Members(func(key []byte) (uint8, bool) {
		switch string(key) {
		case "collection":
			v, ok := s.Str()
			r.Collection = v
			return 1, ok
		case "repository":
			v, ok := s.Str()
			r.Repository = v
			return 2, ok
		case "labels":
			r.Labels = map[string]string{}
			return 4, s.Object(func(k []byte) bool {
				if _, dup := r.Labels[string(k)]; dup {
					return false
				}
				v, ok := s.Str()
				r.Labels[string(k)] = v
				return ok
			})
		}
		return 0, false
	})
}

// authorizeJSON is the gateway's JSON marshaler with AuthorizeResponse
// written by hand: the same bytes protojson writes with the gateway's
// options (EmitDefaultValues), in this build's spacing.
type authorizeJSON struct{ runtime.Marshaler }

func (m authorizeJSON) Marshal(v any) ([]byte, error) {
	if r, ok := v.(*v1.AuthorizeResponse); ok {
		if b, ok := appendAuthorizeResponse(make([]byte, 0, 128+len(r.GetReason())), r); ok {
			return b, nil
		}
	}
	return m.Marshaler.Marshal(v)
}

// commaSpace is whether protojson follows a comma with a space in this
// build: it chooses by a hash of the binary (internal/detrand), so that
// clients do not come to depend on its exact bytes.
var commaSpace = func() bool {
	b, _ := protojson.Marshal(&v1.AuthorizeResponse{Allowed: true, Revision: 1})
	return bytes.Contains(b, []byte(", "))
}()

// appendAuthorizeResponse appends r as protojson writes it with
// EmitDefaultValues, and reports false for a string appendJSONString
// leaves to protojson.
func appendAuthorizeResponse(b []byte, r *v1.AuthorizeResponse) ([]byte, bool) {
	comma := func(b []byte) []byte {
		if commaSpace {
			return append(b, ',', ' ')
		}
		return append(b, ',')
	}
	b = append(b, `{"allowed":`...)
	b = strconv.AppendBool(b, r.GetAllowed())
	b = append(comma(b), `"reason":`...)
	var ok bool
	if b, ok = appendJSONString(b, r.GetReason()); !ok {
		return nil, false
	}
	b = append(comma(b), `"revision":"`...)
	b = strconv.AppendUint(b, r.GetRevision(), 10)
	b = append(comma(append(b, '"')), `"schedulableCollections":[`...)
	for i, c := range r.GetSchedulableCollections() {
		if i > 0 {
			b = comma(b)
		}
		if b, ok = appendJSONString(b, c); !ok {
			return nil, false
		}
	}
	return append(b, ']', '}'), true
}

// appendJSONString appends s quoted as protojson quotes it: as
// encoding/json without html escapes, but for U+2028 and U+2029, which
// protojson leaves as they are. It reports false for invalid UTF-8, which
// protojson refuses.
func appendJSONString(b []byte, s string) ([]byte, bool) {
	if !utf8.ValidString(s) {
		return nil, false
	}
	b = append(b, '"')
	// U+2028 and U+2029 are E2 80 A8 and E2 80 A9; s is valid UTF-8, so
	// E2 80 starts a character of three bytes. (strings.Index on two
	// bytes is vectorized; IndexAny over two runes reads rune by rune.)
	for {
		i := strings.Index(s, "\xe2\x80")
		if i < 0 {
			break
		}
		if c := s[i+2]; c == 0xa8 || c == 0xa9 {
			b = append(plainjson.AppendEscaped(b, s[:i]), s[i:i+3]...)
		} else {
			b = plainjson.AppendEscaped(b, s[:i+3])
		}
		s = s[i+3:]
	}
	return append(plainjson.AppendEscaped(b, s), '"'), true
}
