package manifest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// compiledSchema compiles Schema (the reconcile tests check exports
// against it too, with their own copy of these few lines).
func compiledSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("access.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("access.schema.json")
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	return s
}

func validateJSON(t *testing.T, s *jsonschema.Schema, raw []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(v)
}

// TestSchemaAcceptsExportsAndExamples: the schema accepts the
// documentation's examples, and refuses a typo (reconcile's tests check
// that it accepts exports).
func TestSchemaAcceptsExportsAndExamples(t *testing.T) {
	s := compiledSchema(t)
	examples, _ := filepath.Glob("../docs/examples/*.yaml")
	if len(examples) == 0 {
		t.Fatal("no examples in docs/examples")
	}
	for _, ex := range examples {
		y, err := os.ReadFile(ex)
		if err != nil {
			t.Fatal(err)
		}
		js, err := yaml.YAMLToJSON(y)
		if err != nil {
			t.Fatal(err)
		}
		if err := validateJSON(t, s, js); err != nil {
			t.Fatalf("%s does not validate: %v", ex, err)
		}
		var d Document
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("%s: %v", ex, err)
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("%s: %v", ex, err)
		}
	}
	if err := validateJSON(t, s, []byte(`{"apiVersion": "grantd.io/v1", "kind": "Access", "grant": []}`)); err == nil {
		t.Fatal("the schema accepts an unknown field")
	}
}

// TestSchemaDescribesEveryField walks the Go types and the schema
// together: every JSON field of a Document is a property of the schema,
// and every property a field.
func TestSchemaDescribesEveryField(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal(Schema, &schema); err != nil {
		t.Fatal(err)
	}
	defs := schema["$defs"].(map[string]any)
	var walk func(path string, typ reflect.Type, node map[string]any)
	walk = func(path string, typ reflect.Type, node map[string]any) {
		for node["$ref"] != nil {
			node = defs[strings.TrimPrefix(node["$ref"].(string), "#/$defs/")].(map[string]any)
		}
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
			if items, ok := node["items"].(map[string]any); ok {
				node = items
				for node["$ref"] != nil {
					node = defs[strings.TrimPrefix(node["$ref"].(string), "#/$defs/")].(map[string]any)
				}
			}
		}
		if typ.Kind() != reflect.Struct {
			return
		}
		props, _ := node["properties"].(map[string]any)
		seen := map[string]bool{}
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			seen[name] = true
			sub, ok := props[name].(map[string]any)
			if !ok {
				t.Errorf("%s.%s is not in the schema", path, name)
				continue
			}
			walk(path+"."+name, f.Type, sub)
		}
		for name := range props {
			if !seen[name] {
				t.Errorf("the schema's %s.%s is no field of %s", path, name, typ)
			}
		}
	}
	walk("", reflect.TypeOf(Document{}), schema)
}
