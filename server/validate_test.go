package server

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// nameFields are request fields that name an account, org, team,
// namespace or repository: each must be checked by validateRequest.
var nameFields = map[protoreflect.Name]bool{"name": true, "org": true, "team": true, "user": true, "namespace": true}

// notNames are name-like fields that are free text or checked elsewhere.
var notNames = map[string]bool{
	"grantd.v1.CreateAPITokenRequest.name": true, // a label: bounded, not a name
}

// TestEveryNameIsValidated: a new RPC whose request names something must
// be added to validateRequest (or here, saying why not): a malformed name
// is a 400 before the handler runs, never a 404 or a store error.
func TestEveryNameIsValidated(t *testing.T) {
	for _, m := range allMethods(t) {
		in := m.Input()
		mt, err := protoregistry.GlobalTypes.FindMessageByName(in.FullName())
		if err != nil {
			t.Fatal(err)
		}
		msg := mt.New()
		var named []string
		for i := 0; i < in.Fields().Len(); i++ {
			f := in.Fields().Get(i)
			full := string(in.FullName()) + "." + string(f.Name())
			if f.Kind() != protoreflect.StringKind || f.IsList() || !nameFields[f.Name()] || notNames[full] {
				continue
			}
			msg.Set(f, protoreflect.ValueOfString("not a name!"))
			named = append(named, string(f.Name()))
		}
		if len(named) == 0 {
			continue
		}
		if err := validateRequest(msg.Interface()); err == nil {
			t.Errorf("%s: fields %v hold \"not a name!\" and validateRequest lets it through", m.FullName(), named)
		}
	}
}
