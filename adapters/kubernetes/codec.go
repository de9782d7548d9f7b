package kubernetes

import (
	"bytes"
	"strconv"

	"github.com/grantd/grantd/internal/plainjson"
)

// A SubjectAccessReview is read and written by hand when it is plain, as
// kube-apiserver sends it: encoding/json's reflection over the review was
// most of the webhook's own CPU per review (docs/performance.md). Any
// other body goes to encoding/json, so the webhook answers every body as
// before: TestReviewDecodeLikeEncodingJSON and
// TestReviewEncodeLikeEncodingJSON compare the two on random reviews.

// decodeReview fills rv from body and reports whether it could: body must
// be one JSON object whose known members (matched exactly, each at most
// once) have strings of valid UTF-8 without escapes or control
// characters, booleans where the status has them, and arrays of such
// strings for the groups. Members rv has no field for (metadata, extra,
// a selector) are skipped, as encoding/json skips them, unless their name
// matches a field's but for case, which encoding/json would decode into
// that field. When it reports false, rv may be partly filled and the
// caller decodes body with encoding/json instead.
func decodeReview(body []byte, rv *accessReview) bool {
	s := plainjson.New(body)
	return s.Members(func(key []byte) (uint8, bool) {
		switch string(key) {
		case "apiVersion":
			v, ok := s.Str()
			rv.APIVersion = v
			return 1, ok
		case "kind":
			v, ok := s.Str()
			rv.Kind = v
			return 2, ok
		case "spec":
			return 4, readSpec(s, &rv.Spec)
		case "status":
			return 8, readStatus(s, &rv.Status)
		}
		return ignored(s, key, "apiVersion", "kind", "spec", "status")
	}) && s.End()
}

// ignored skips the value of a member whose key names no field of the
// object being read, and refuses a key that names one but for case
// (bytes.EqualFold is encoding/json's match).
func ignored(s *plainjson.Scanner, key []byte, fields ...string) (uint8, bool) {
	for _, f := range fields {
		if bytes.EqualFold(key, []byte(f)) {
			return 0, false
		}
	}
	return 0, s.Skip()
}

func readSpec(s *plainjson.Scanner, spec *reviewSpec) bool {
	strs := func(v *[]string) bool {
		items, ok := s.Strs()
		if items == nil {
			items = []string{} // encoding/json's empty slice for []
		}
		*v = items
		return ok
	}
	return s.Members(func(key []byte) (uint8, bool) {
		switch string(key) {
		case "resourceAttributes":
			spec.ResourceAttributes = &resourceAttributes{}
			return 1, readResourceAttributes(s, spec.ResourceAttributes)
		case "nonResourceAttributes":
			spec.NonResourceAttributes = &nonResourceAttributes{}
			a := spec.NonResourceAttributes
			return 2, s.Members(func(key []byte) (uint8, bool) {
				switch string(key) {
				case "path":
					return 1, str(s, &a.Path)
				case "verb":
					return 2, str(s, &a.Verb)
				}
				return ignored(s, key, "path", "verb")
			})
		case "user":
			return 4, str(s, &spec.User)
		case "groups":
			return 8, strs(&spec.Groups)
		case "group":
			return 16, strs(&spec.Group)
		case "uid":
			return 32, str(s, &spec.UID)
		}
		return ignored(s, key, "resourceAttributes", "nonResourceAttributes", "user", "groups", "group", "uid")
	})
}

func readResourceAttributes(s *plainjson.Scanner, a *resourceAttributes) bool {
	return s.Members(func(key []byte) (uint8, bool) {
		switch string(key) {
		case "namespace":
			return 1, str(s, &a.Namespace)
		case "verb":
			return 2, str(s, &a.Verb)
		case "group":
			return 4, str(s, &a.Group)
		case "version":
			return 8, str(s, &a.Version)
		case "resource":
			return 16, str(s, &a.Resource)
		case "subresource":
			return 32, str(s, &a.Subresource)
		case "name":
			return 64, str(s, &a.Name)
		}
		return ignored(s, key, "namespace", "verb", "group", "version", "resource", "subresource", "name")
	})
}

// readStatus reads the status kube-apiserver sends ({"allowed":false});
// the answer replaces it, but encoding/json refuses a review whose status
// has the wrong types, and so does the webhook.
func readStatus(s *plainjson.Scanner, st *reviewStatus) bool {
	boolean := func(v *bool) bool {
		b, ok := s.Bool()
		*v = b
		return ok
	}
	return s.Members(func(key []byte) (uint8, bool) {
		switch string(key) {
		case "allowed":
			return 1, boolean(&st.Allowed)
		case "denied":
			return 2, boolean(&st.Denied)
		case "reason":
			return 4, str(s, &st.Reason)
		case "evaluationError":
			return 8, str(s, &st.EvaluationError)
		}
		return ignored(s, key, "allowed", "denied", "reason", "evaluationError")
	})
}

func str(s *plainjson.Scanner, v *string) bool {
	var ok bool
	*v, ok = s.Str()
	return ok
}

// appendReview appends rv as encoding/json's Marshal writes it (html
// escapes included).
func appendReview(b []byte, rv *accessReview) []byte {
	o := object{b: append(b, '{')}
	o.str("apiVersion", rv.APIVersion, false)
	o.str("kind", rv.Kind, false)
	o.key("spec")
	spec := object{b: append(o.b, '{')}
	if a := rv.Spec.ResourceAttributes; a != nil {
		spec.key("resourceAttributes")
		ra := object{b: append(spec.b, '{')}
		ra.str("namespace", a.Namespace, true)
		ra.str("verb", a.Verb, true)
		ra.str("group", a.Group, true)
		ra.str("version", a.Version, true)
		ra.str("resource", a.Resource, true)
		ra.str("subresource", a.Subresource, true)
		ra.str("name", a.Name, true)
		spec.b = append(ra.b, '}')
	}
	if a := rv.Spec.NonResourceAttributes; a != nil {
		spec.key("nonResourceAttributes")
		nr := object{b: append(spec.b, '{')}
		nr.str("path", a.Path, true)
		nr.str("verb", a.Verb, true)
		spec.b = append(nr.b, '}')
	}
	spec.str("user", rv.Spec.User, true)
	spec.strs("groups", rv.Spec.Groups)
	spec.strs("group", rv.Spec.Group)
	spec.str("uid", rv.Spec.UID, true)
	o.b = append(spec.b, '}')
	o.key("status")
	st := object{b: append(o.b, '{')}
	st.key("allowed")
	st.b = strconv.AppendBool(st.b, rv.Status.Allowed)
	if rv.Status.Denied {
		st.key("denied")
		st.b = append(st.b, "true"...)
	}
	st.str("reason", rv.Status.Reason, true)
	st.str("evaluationError", rv.Status.EvaluationError, true)
	return append(append(st.b, '}'), '}')
}

// object writes the members of one JSON object.
type object struct {
	b    []byte
	some bool // a member has been written
}

func (o *object) key(k string) {
	if o.some {
		o.b = append(o.b, ',')
	}
	o.some = true
	o.b = append(append(append(o.b, '"'), k...), '"', ':')
}

// str writes a string member, none if omitEmpty and v is empty.
func (o *object) str(k, v string, omitEmpty bool) {
	if omitEmpty && v == "" {
		return
	}
	o.key(k)
	o.b = plainjson.AppendStringHTML(o.b, v)
}

// strs writes an array of strings, none if it is empty (omitempty).
func (o *object) strs(k string, vs []string) {
	if len(vs) == 0 {
		return
	}
	o.key(k)
	o.b = append(o.b, '[')
	for i, v := range vs {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = plainjson.AppendStringHTML(o.b, v)
	}
	o.b = append(o.b, ']')
}
