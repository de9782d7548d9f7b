package server

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/grantd/grantd/authn"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Every string a request carries has a maximum length, and every list a
// maximum count, checked before the handler runs (a 400 naming each field
// that is too long). The request body limit bounds a request as a whole;
// these bound what one request can make grantd keep: a field stored in
// the state, copied into the audit log and replicated to every node.
// README ("The API") lists them.
const (
	// maxTextLen bounds a string field without a limit of its own: names,
	// collection paths (16 segments of 100), object and subject strings.
	maxTextLen = 2048
	// maxListLen bounds every repeated field and map.
	maxListLen = 1000
)

// fieldLimits are the limits of fields by their proto name, wherever they
// appear. Free text is short; certificates and LDAP filters are long.
var fieldLimits = map[protoreflect.Name]int{
	"description":     1000,
	"full_name":       200,
	"display_name":    200,
	"label":           100,
	"name":            200, // names are checked further by their own rules
	"password":        authn.MaxPasswordLen,
	"old_password":    authn.MaxPasswordLen,
	"new_password":    authn.MaxPasswordLen,
	"reader_password": authn.MaxPasswordLen,
	"page_token":      512,
	"root_cas":        64 << 10,
	"pem":             16 << 10,
	"filter":          4096,
	"search_filter":   4096,
	"url":             1024,
	"domain":          1024,
	"reader_dn":       1024,
	"base_dn":         1024,
	"group_dn":        1024,
	"search_base_dn":  1024,
}

// boundsExempt are the decision methods: they answer oversized input with
// a denial and its reason, never an error (api.md), and their own parsing
// bounds every value it reads.
var boundsExempt = map[string]bool{
	"/grantd.v1.AuthzService/Authorize":      true,
	"/grantd.v1.AuthzService/AuthorizeBatch": true,
	"/grantd.v1.AuthzService/Explain":        true,
}

// checkBounds reports every field of req over its limit, at once.
func checkBounds(method string, req any) error {
	m, ok := req.(proto.Message)
	if !ok || boundsExempt[method] {
		return nil
	}
	var problems []string
	walkBounds(m.ProtoReflect(), "", &problems)
	if len(problems) > 0 {
		return invalid("%s", strings.Join(problems, "; "))
	}
	return nil
}

func walkBounds(m protoreflect.Message, prefix string, problems *[]string) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := prefix + fd.JSONName()
		switch {
		case fd.IsList():
			list := v.List()
			if list.Len() > maxListLen {
				*problems = append(*problems, fmt.Sprintf("%s: at most %d entries", name, maxListLen))
				return true
			}
			for i := range list.Len() {
				boundValue(fd, list.Get(i), fmt.Sprintf("%s[%d]", name, i), problems)
			}
		case fd.IsMap():
			mp := v.Map()
			if mp.Len() > maxListLen {
				*problems = append(*problems, fmt.Sprintf("%s: at most %d entries", name, maxListLen))
				return true
			}
			mp.Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if len(k.String()) > maxTextLen {
					*problems = append(*problems, fmt.Sprintf("%s: keys of at most %d bytes", name, maxTextLen))
				}
				boundValue(fd.MapValue(), mv, name+"["+clip(k.String(), 40)+"]", problems)
				return true
			})
		default:
			boundValue(fd, v, name, problems)
		}
		return true
	})
}

func boundValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, name string, problems *[]string) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		boundString(fd, v.String(), name, problems)
	case protoreflect.BytesKind:
		if len(v.Bytes()) > maxTextLen {
			*problems = append(*problems, fmt.Sprintf("%s: at most %d bytes", name, maxTextLen))
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		walkBounds(v.Message(), name+".", problems)
	}
}

func boundString(fd protoreflect.FieldDescriptor, s, name string, problems *[]string) {
	limit, ok := fieldLimits[fd.Name()]
	if !ok {
		limit = maxTextLen
	}
	if n := utf8.RuneCountInString(s); n > limit {
		*problems = append(*problems, fmt.Sprintf("%s: at most %d characters (got %d)", name, limit, n))
	}
}

// clip shortens s for a message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
