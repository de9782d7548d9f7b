package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/grantd/grantd/dataset"
	"github.com/grantd/grantd/manifest"
	"github.com/grantd/grantd/store"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	cfg := store.DefaultConfig(t.TempDir())
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(context.Background(), store.Bootstrap{Admin: store.User{Name: "admin"}, SharedGrantID: "g-shared",
		AdminGrantID: "g-admin", Time: now}); err != nil {
		t.Fatal(err)
	}
	return st
}

func ids() func() (string, error) {
	n := 0
	return func() (string, error) { n++; return fmt.Sprintf("m%06d", n), nil }
}

// apply plans d against st and applies the plan as one batch, returning
// the plan.
func apply(t *testing.T, st *store.Store, d *manifest.Document, prune bool) *Plan {
	t.Helper()
	plan, err := Diff(st.Read(), d, Options{Prune: prune, Now: now, NewID: ids()})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Commands) == 0 {
		return plan
	}
	before := st.Read().Revision()
	if _, err := st.Apply(context.Background(), store.Batch{Commands: plan.Commands}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if after := st.Read().Revision(); after != before+1 {
		t.Fatalf("the plan took revisions %d to %d: want one write", before, after)
	}
	return plan
}

func export(t *testing.T, st *store.Store) *manifest.Document {
	t.Helper()
	d, err := Export(st.Read())
	if err != nil {
		t.Fatal(err)
	}
	// Through JSON, as it travels.
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var out manifest.Document
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// TestExportApplyReproducesTheReferenceDataset exports the small reference
// dataset, applies the export to an empty store in one write, and finds
// the same export there; a second apply changes nothing.
func TestExportApplyReproducesTheReferenceDataset(t *testing.T) {
	src := openStore(t)
	data := dataset.Generate(dataset.Small, 1)
	for _, batch := range data.Batches {
		if _, err := src.Apply(context.Background(), store.Batch{Commands: batch}); err != nil {
			t.Fatal(err)
		}
	}
	want := export(t, src)
	if len(want.Users) < 100 || len(want.Grants) < 100 || len(want.Orgs) == 0 || len(want.Collections) < 100 {
		t.Fatalf("the export holds too little to test: %d users, %d grants, %d orgs, %d collections",
			len(want.Users), len(want.Grants), len(want.Orgs), len(want.Collections))
	}
	dst := openStore(t)
	plan := apply(t, dst, want, true)
	got := export(t, dst)
	if !reflect.DeepEqual(got, want) {
		for _, part := range []struct {
			name      string
			got, want any
		}{{"users", got.Users, want.Users}, {"orgs", got.Orgs, want.Orgs}, {"collections", got.Collections, want.Collections},
			{"roles", got.Roles, want.Roles}, {"grants", got.Grants, want.Grants}, {"repositories", got.Repositories, want.Repositories},
			{"settings", got.Settings, want.Settings}, {"service accounts", got.ServiceAccounts, want.ServiceAccounts}} {
			if !reflect.DeepEqual(part.got, part.want) {
				t.Errorf("%s differ after export → apply", part.name)
			}
		}
		t.FailNow()
	}
	t.Logf("reproduced %d users, %d orgs, %d collections, %d roles, %d grants, %d repositories in one write of %d commands",
		len(got.Users), len(got.Orgs), len(got.Collections), len(got.Roles), len(got.Grants), len(got.Repositories), len(plan.Commands))
	if again := apply(t, dst, want, true); len(again.Changes) != 0 {
		t.Fatalf("a second apply plans %d changes, first %v", len(again.Changes), again.Changes[0])
	}
}

// TestExportsMatchTheSchema: what Export writes validates against the
// published JSON Schema.
func TestExportsMatchTheSchema(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(manifest.Schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("access.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("access.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	apply(t, st, testDoc(), false)
	raw, _ := json.Marshal(export(t, st))
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(v); err != nil {
		t.Fatalf("an export does not validate: %v", err)
	}
}
