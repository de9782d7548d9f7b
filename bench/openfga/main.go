// Command openfga is the OpenFGA peer of grantd's benchmark. It loads the
// benchmark's collection model into OpenFGA (v1.22.1, driven as a library)
// on one of two models its experts would write — per-operation relations
// inherited from the parent collection ("direct"), or per-operation
// relations read through a flat list of ancestors ("anc"); teams and orgs
// as usersets, exact-scope grants as relations of their own — on its
// SQLite datastore in process, on PostgreSQL (a server of its own on the
// same machine, over a unix socket), or on its memory datastore (labelled
// dev-only). It then answers the same questions as grantd's yardstick,
// which it loads in the same process, rounds alternating between them
// (loadgen.Compare). docs/peers.md publishes the models.
//
// It is its own Go module so that grantd's go.mod does not depend on
// OpenFGA. The benchmark builds it and runs
// `openfga -model direct|anc -datastore sqlite|postgres|memory [-cache] -in F -out F`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	openfgav1 "github.com/openfga/api/proto/openfga/v1"
	"github.com/openfga/language/pkg/go/transformer"
	"github.com/openfga/openfga/pkg/server"
	"github.com/openfga/openfga/pkg/storage"
	"github.com/openfga/openfga/pkg/storage/memory"
	"github.com/openfga/openfga/pkg/storage/migrate"
	"github.com/openfga/openfga/pkg/storage/postgres"
	"github.com/openfga/openfga/pkg/storage/sqlcommon"
	"github.com/openfga/openfga/pkg/storage/sqlite"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/bench/loadgen"
	"github.com/grantd/grantd/bench/peerkit"
)

func main() {
	in := flag.String("in", "", "benchmark input (JSON)")
	out := flag.String("out", "", "where to write the results (JSON)")
	modelName := flag.String("model", "direct", "direct (parent-child) or anc (flat ancestors)")
	datastore := flag.String("datastore", "sqlite", "sqlite (in process), postgres (a PostgreSQL server of its own, over a unix socket) or memory (OpenFGA's dev-only datastore)")
	cache := flag.Bool("cache", false, "turn on OpenFGA's check cache (and grantd's decision cache in the yardstick)")
	printModel := flag.Bool("print-model", false, "print the model for the input and exit")
	flag.Parse()
	if err := run(*in, *out, *modelName, *datastore, *cache, *printModel); err != nil {
		fmt.Fprintln(os.Stderr, "openfga peer:", err)
		os.Exit(1)
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_]`)

// name makes a relation or object ID out of a grantd name.
func name(s string) string { return unsafeName.ReplaceAllString(s, "_") }

const subjectTypes = "[user, user:*, team#member, org#member]"

// model is the authorization model in OpenFGA's DSL.
func model(kind string, rels map[string][]string) string {
	var b strings.Builder
	b.WriteString("model\n  schema 1.1\n\ntype user\n\ntype team\n  relations\n    define member: [user]\n\n")
	b.WriteString("type org\n  relations\n    define member: [user]\n\ntype system\n  relations\n    define admin: [user]\n\n")
	b.WriteString("type collection\n  relations\n    define system: [system]\n")
	if kind == "anc" {
		b.WriteString("    define anc: [collection]\n")
	} else {
		b.WriteString("    define parent: [collection]\n")
	}
	names := make([]string, 0, len(rels))
	for rel := range rels {
		names = append(names, rel)
	}
	sort.Strings(names)
	for _, rel := range names {
		if kind == "anc" {
			// s_: subtree grants on the collection itself, read through
			// every ancestor (the collection among them); x_: exact grants.
			fmt.Fprintf(&b, "    define s_%s: %s\n    define x_%s: %s\n    define %s: s_%s from anc or x_%s or admin from system\n",
				rel, subjectTypes, rel, subjectTypes, rel, rel, rel)
		} else {
			fmt.Fprintf(&b, "    define s_%s: %s or s_%s from parent\n    define x_%s: %s\n    define %s: s_%s or x_%s or admin from system\n",
				rel, subjectTypes, rel, rel, subjectTypes, rel, rel, rel)
		}
	}
	return b.String()
}

// subject is a grant's subject as an OpenFGA user.
func subject(s string) string {
	kind, id, _ := strings.Cut(s, ":")
	switch kind {
	case "team", "org":
		return kind + ":" + name(id) + "#member"
	case "authenticated":
		return "user:*"
	}
	return "user:" + name(id)
}

// tuples are the relationships of the model: the tree, memberships,
// admins, and per grant one tuple for each asked relation its role grants.
func tuples(kind string, d *peerkit.Data, cols map[string]string, rels map[string][]string) []*openfgav1.TupleKey {
	var ts []*openfgav1.TupleKey
	for path, parent := range d.Parents {
		ts = append(ts, &openfgav1.TupleKey{Object: cols[path], Relation: "system", User: "system:grantd"})
		if kind == "anc" {
			for a := path; a != ""; a = d.Parents[a] {
				ts = append(ts, &openfgav1.TupleKey{Object: cols[path], Relation: "anc", User: cols[a]})
			}
		} else if parent != "" {
			ts = append(ts, &openfgav1.TupleKey{Object: cols[path], Relation: "parent", User: cols[parent]})
		}
	}
	for _, a := range d.Admins {
		ts = append(ts, &openfgav1.TupleKey{Object: "system:grantd", Relation: "admin", User: subject(a)})
	}
	for user, subs := range d.Members {
		for _, s := range subs {
			kind, id, _ := strings.Cut(s, ":")
			ts = append(ts, &openfgav1.TupleKey{Object: kind + ":" + name(id), Relation: "member", User: subject(user)})
		}
	}
	peerkit.GrantRelations(d, rels, func(g peerkit.Grant, rel string) {
		ts = append(ts, &openfgav1.TupleKey{Object: cols[g.Collection], Relation: rel, User: subject(g.Subject)})
	})
	return ts
}

// writeTuples writes ts in chunks of chunk tuples, from writers writers at
// once.
func writeTuples(ctx context.Context, ds storage.OpenFGADatastore, store string, ts []*openfgav1.TupleKey, chunk, writers int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan []*openfgav1.TupleKey)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for part := range next {
				if err := ds.Write(ctx, store, nil, part); err != nil {
					errs <- fmt.Errorf("write tuples: %w", err)
					cancel()
					return
				}
			}
		})
	}
	func() {
		defer close(next)
		for i := 0; i < len(ts); i += chunk {
			select {
			case next <- ts[i:min(i+chunk, len(ts))]:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	return <-errs
}

func run(inPath, outPath, kind, datastore string, cache, printModel bool) error {
	if kind != "direct" && kind != "anc" {
		return fmt.Errorf("-model %q: direct or anc", kind)
	}
	in, err := peerkit.ReadInput(inPath)
	if err != nil {
		return err
	}
	rels := peerkit.Relations(&in.Data, name)
	dsl := model(kind, rels)
	if printModel {
		fmt.Print(dsl)
		return nil
	}
	ctx := context.Background()
	m, err := transformer.TransformDSLToProto(dsl)
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	m.Id = ulid.Make().String()
	cols := peerkit.CollectionIDs(&in.Data)
	for p, id := range cols {
		cols[p] = "collection:" + id
	}
	ts := tuples(kind, &in.Data, cols, rels)

	start := time.Now()
	const chunk = 1000
	var ds storage.OpenFGADatastore
	switch datastore {
	case "memory":
		ds = memory.New(memory.WithMaxTuplesPerWrite(chunk))
	case "sqlite":
		dir, err := os.MkdirTemp("", "openfga-peer")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		uri := "file:" + filepath.Join(dir, "openfga.db")
		if err := migrate.RunMigrations(migrate.MigrationConfig{Engine: "sqlite", URI: uri, Timeout: time.Minute, PingTimeout: 10 * time.Second}); err != nil {
			return fmt.Errorf("sqlite migrations: %w", err)
		}
		if ds, err = sqlite.New(uri, sqlcommon.NewConfig(sqlcommon.WithMaxTuplesPerWrite(chunk))); err != nil {
			return err
		}
	case "postgres":
		pg, err := peerkit.StartPostgres(ctx)
		if err != nil {
			return err
		}
		defer pg.Stop()
		if err := migrate.RunMigrations(migrate.MigrationConfig{Engine: "postgres", URI: pg.URI, Timeout: time.Minute, PingTimeout: 10 * time.Second}); err != nil {
			return fmt.Errorf("postgres migrations: %w", err)
		}
		if ds, err = postgres.New(pg.URI, sqlcommon.NewConfig(sqlcommon.WithMaxTuplesPerWrite(chunk))); err != nil {
			return err
		}
	default:
		return fmt.Errorf("-datastore %q: sqlite, postgres or memory", datastore)
	}
	defer ds.Close()
	st, err := ds.CreateStore(ctx, &openfgav1.Store{Id: ulid.Make().String(), Name: "grantd-bench"})
	if err != nil {
		return err
	}
	if err := ds.WriteAuthorizationModel(ctx, st.GetId(), m); err != nil {
		return err
	}
	// SQLite takes one writer at a time. A PostgreSQL server takes
	// several, as a bulk import would send them: while one writer's chunk
	// is read and locked by the server, another's is encoded here. The
	// small dataset's 104,425 tuples loaded in 7.4–7.8 s from four
	// writers, 9.7–10.0 s from one (the server's start and migrations
	// included, about 2 s).
	writers := 1
	if datastore == "postgres" {
		writers = 4
	}
	if err := writeTuples(ctx, ds, st.GetId(), ts, chunk, writers); err != nil {
		return err
	}
	opts := []server.OpenFGAServiceV1Option{server.WithDatastore(ds)}
	if cache {
		opts = append(opts, server.WithCheckQueryCacheEnabled(true), server.WithCheckQueryCacheTTL(time.Hour),
			server.WithCheckCacheLimit(1<<20), server.WithCheckIteratorCacheEnabled(true), server.WithCheckIteratorCacheTTL(time.Hour))
	}
	srv, err := server.NewServerWithOpts(opts...)
	if err != nil {
		return err
	}
	defer srv.Close()
	load := time.Since(start)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out := &peerkit.Output{Load: map[string]float64{"tuples": float64(len(ts)), "load seconds": load.Seconds(),
		"heap MiB": float64(ms.HeapInuse) / (1 << 20)}}

	// A question is one Check of the operation, then one per option asked,
	// stopping at the first refusal.
	type question struct{ checks []*openfgav1.CheckRequest }
	qs := make([]question, len(in.Data.Queries))
	for i, q := range in.Data.Queries {
		object, ok := cols[q.Collection]
		if !ok {
			return fmt.Errorf("question %d: unknown collection %s", i, q.Collection)
		}
		for _, rel := range peerkit.QuestionRelations(q, name) {
			qs[i].checks = append(qs[i].checks, &openfgav1.CheckRequest{StoreId: st.GetId(), AuthorizationModelId: m.GetId(),
				TupleKey: &openfgav1.CheckRequestTupleKey{User: subject(q.Subject), Relation: rel, Object: object}})
		}
	}
	peer := func(ctx context.Context, i int, allowed []bool) error {
		allowed[0] = true
		for _, c := range qs[i].checks {
			resp, err := srv.Check(ctx, c)
			if err != nil {
				return err
			}
			if !resp.GetAllowed() {
				allowed[0] = false
				return nil
			}
		}
		return nil
	}

	cacheEntries := 0
	if cache {
		cacheEntries = authz.DefaultDecisionCache
	}
	label := map[string]string{"direct": "parent-child model", "anc": "flat-ancestor model"}[kind]
	store := map[string]string{"sqlite": "SQLite", "postgres": "PostgreSQL", "memory": "memory datastore (dev-only)"}[datastore]
	peerName := "OpenFGA, " + label + ", " + store
	if cache {
		peerName += ", check cache"
	}
	cmp, err := peerkit.CompareWithYardstick(ctx, in, cacheEntries, loadgen.System{Name: peerName, Interface: "in-process", Call: peer})
	if err != nil {
		return err
	}
	out.Results, out.Agreements = cmp.Results, cmp.Agreements
	return out.Write(outPath)
}
