// Command spicedb is the SpiceDB peer of grantd's benchmark. It runs
// SpiceDB (v1.56.2, the newest release that builds with this project's Go;
// v1.57 needs a newer one) as a library in this process, on its in-memory
// datastore (what `spicedb serve-testing` runs) or on PostgreSQL, the first
// of its production datastores (a server of its own over a unix socket,
// peerkit.StartPostgres), with a schema
// its experts would write: a permission per operation (and per operation
// and option), granted directly or inherited from the parent collection,
// exact-scope grants as relations of their own, teams and orgs as
// subject sets. It answers the same questions as grantd's yardstick,
// loaded in the same process, rounds alternating (loadgen.Compare).
// docs/peers.md publishes the schema.
//
// It is its own Go module so that grantd's go.mod does not depend on
// SpiceDB. The benchmark builds it and runs
// `spicedb [-datastore memory|postgres] [-cache] -in F -out F`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/authzed/grpcutil"
	dscmd "github.com/authzed/spicedb/pkg/cmd/datastore"
	"github.com/authzed/spicedb/pkg/cmd/server"
	"github.com/authzed/spicedb/pkg/cmd/util"
	"github.com/authzed/spicedb/pkg/datastore/migration"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/bench/loadgen"
	"github.com/grantd/grantd/bench/peerkit"
)

func main() {
	in := flag.String("in", "", "benchmark input (JSON)")
	out := flag.String("out", "", "where to write the results (JSON)")
	printSchema := flag.Bool("print-schema", false, "print the schema for the input and exit")
	cache := flag.Bool("cache", false, "keep SpiceDB's dispatch caches on (and grantd's decision cache in the yardstick)")
	datastore := flag.String("datastore", "memory", "memory (what spicedb serve-testing runs) or postgres (a PostgreSQL server of its own, over a unix socket)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run here")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "spicedb peer:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*in, *out, *datastore, *printSchema, *cache); err != nil {
		fmt.Fprintln(os.Stderr, "spicedb peer:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_]`)

// name makes a relation or object ID out of a grantd name.
func name(s string) string { return unsafeName.ReplaceAllString(strings.ToLower(s), "_") }

const subjectTypes = "user | user:* | team#member | org#member"

func schema(rels map[string][]string) string {
	var b strings.Builder
	b.WriteString("definition user {}\n\ndefinition team {\n\trelation member: user\n}\n\ndefinition org {\n\trelation member: user\n}\n\n")
	b.WriteString("definition system {\n\trelation admin: user\n}\n\ndefinition collection {\n\trelation parent: collection\n\trelation system: system\n")
	names := make([]string, 0, len(rels))
	for rel := range rels {
		names = append(names, rel)
	}
	sort.Strings(names)
	for _, rel := range names {
		fmt.Fprintf(&b, "\trelation s_%s: %s\n\trelation x_%s: %s\n\tpermission sub_%s = s_%s + parent->sub_%s\n\tpermission can_%s = sub_%s + x_%s + system->admin\n",
			rel, subjectTypes, rel, subjectTypes, rel, rel, rel, rel, rel, rel)
	}
	b.WriteString("}\n")
	return b.String()
}

func subject(s string) *v1.SubjectReference {
	kind, id, _ := strings.Cut(s, ":")
	switch kind {
	case "team", "org":
		return &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: kind, ObjectId: name(id)}, OptionalRelation: "member"}
	case "authenticated":
		return &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "user", ObjectId: "*"}}
	}
	return &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "user", ObjectId: name(id)}}
}

func rel(objType, id, relation string, s *v1.SubjectReference) *v1.RelationshipUpdate {
	return &v1.RelationshipUpdate{Operation: v1.RelationshipUpdate_OPERATION_TOUCH, Relationship: &v1.Relationship{
		Resource: &v1.ObjectReference{ObjectType: objType, ObjectId: id}, Relation: relation, Subject: s}}
}

func relationships(d *peerkit.Data, cols map[string]string, rels map[string][]string) []*v1.RelationshipUpdate {
	var us []*v1.RelationshipUpdate
	sys := &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "system", ObjectId: "grantd"}}
	for path, parent := range d.Parents {
		us = append(us, rel("collection", cols[path], "system", sys))
		if parent != "" {
			us = append(us, rel("collection", cols[path], "parent", &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "collection", ObjectId: cols[parent]}}))
		}
	}
	for _, a := range d.Admins {
		us = append(us, rel("system", "grantd", "admin", subject(a)))
	}
	for user, subs := range d.Members {
		for _, s := range subs {
			kind, id, _ := strings.Cut(s, ":")
			us = append(us, rel(kind, name(id), "member", subject(user)))
		}
	}
	peerkit.GrantRelations(d, rels, func(g peerkit.Grant, r string) {
		us = append(us, rel("collection", cols[g.Collection], r, subject(g.Subject)))
	})
	return us
}

// cachedQuantization is the datastore's revision quantization with the
// dispatch caches on. SpiceDB keys its dispatch cache by the revision a
// check is evaluated at, and evaluates a check asked at_least_as_fresh a
// token at the later of the token's revision and "now" rounded down to the
// quantization interval (5 s by default); its cache entries live for
// twice the longest a revision may be used (1.1 times the interval plus
// the follower-read delay of 4.8 s), 21 s by default. A pass over the
// benchmark's 1,000 medium questions takes SpiceDB 20 s or more, so with
// the default a question asked again in the next pass is at a new
// revision and its entries have expired: the cache never serves a
// repeated question, and the cached rows measured the same work as the
// plain ones. An operator who wants the cache to serve repeated checks
// widens the interval; every check here still reads at least the last
// write (its token), and no write follows the load, so a wider interval
// changes no answer, only what the cache may serve.
const cachedQuantization = time.Hour

func run(inPath, outPath, datastore string, printSchema, cache bool) error {
	in, err := peerkit.ReadInput(inPath)
	if err != nil {
		return err
	}
	rels := peerkit.Relations(&in.Data, name)
	sch := schema(rels)
	if printSchema {
		fmt.Print(sch)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	dsOpts := []dscmd.ConfigOption{dscmd.WithRequestHedgingEnabled(false)}
	storeName := ""
	switch datastore {
	case "memory":
		dsOpts, storeName = append(dsOpts, dscmd.WithEngine(dscmd.MemoryEngine)), "in-memory datastore"
	case "postgres":
		pg, err := peerkit.StartPostgres(ctx)
		if err != nil {
			return err
		}
		defer pg.Stop()
		if err := migration.Run(ctx, &migration.Config{DatastoreEngine: dscmd.PostgresEngine, DatastoreURI: pg.URI, Timeout: time.Minute, BatchSize: 1000}, "head"); err != nil {
			return fmt.Errorf("postgres migrations: %w", err)
		}
		dsOpts, storeName = append(dsOpts, dscmd.WithEngine(dscmd.PostgresEngine), dscmd.WithURI(pg.URI)), "PostgreSQL"
	default:
		return fmt.Errorf("-datastore %q: memory or postgres", datastore)
	}
	if cache {
		dsOpts = append(dsOpts, dscmd.WithRevisionQuantization(cachedQuantization))
	}
	dsConfig := dscmd.NewConfigWithOptionsAndDefaults(dsOpts...)
	ds, err := dscmd.NewDatastore(ctx, dsConfig.ToOption())
	if err != nil {
		return fmt.Errorf("datastore: %w", err)
	}
	const key = "grantd-bench"
	opts := []server.ConfigOption{
		server.WithDatastore(ds),
		// The dispatch cache's entries live as long as the datastore's
		// config says a revision may (server.CacheConfig's TTL).
		server.WithDatastoreConfig(*dsConfig),
		server.WithPresharedSecureKey(key),
		server.WithGRPCServer(util.GRPCServerConfig{Network: util.BufferedNetwork, Enabled: true}),
		server.WithHTTPGateway(util.HTTPServerConfig{HTTPEnabled: false}),
		server.WithMetricsAPI(util.HTTPServerConfig{HTTPEnabled: false}),
		server.WithDispatchServer(util.GRPCServerConfig{Enabled: false}),
		server.WithTelemetryEndpoint(""),
		server.WithSilentlyDisableTelemetry(true),
		server.WithMaximumUpdatesPerWrite(1000),
	}
	if !cache {
		// Without its caches every check is evaluated, as grantd's
		// yardstick evaluates its policy for every question.
		opts = append(opts, server.WithDispatchCacheConfig(server.CacheConfig{Enabled: false}),
			server.WithClusterDispatchCacheConfig(server.CacheConfig{Enabled: false}))
	}
	rs, err := server.NewConfigWithOptionsAndDefaults(opts...).Complete(ctx)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- rs.Run(ctx) }()
	conn, err := rs.NewClient(grpc.WithTransportCredentials(insecure.NewCredentials()), grpcutil.WithInsecureBearerToken(key))
	if err != nil {
		return err
	}
	defer conn.Close()
	schemas := v1.NewSchemaServiceClient(conn)
	perms := v1.NewPermissionsServiceClient(conn)
	if _, err := schemas.WriteSchema(ctx, &v1.WriteSchemaRequest{Schema: sch}); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	cols := peerkit.CollectionIDs(&in.Data)
	us := relationships(&in.Data, cols, rels)
	var token *v1.ZedToken
	for i := 0; i < len(us); i += 1000 {
		resp, err := perms.WriteRelationships(ctx, &v1.WriteRelationshipsRequest{Updates: us[i:min(i+1000, len(us))]})
		if err != nil {
			return fmt.Errorf("write relationships: %w", err)
		}
		token = resp.GetWrittenAt()
	}
	load := time.Since(start)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out := &peerkit.Output{Load: map[string]float64{"relationships": float64(len(us)), "load seconds": load.Seconds(),
		"heap MiB": float64(ms.HeapInuse) / (1 << 20)}}

	// At least as fresh as the last write; SpiceDB's own cache may serve
	// the checks after that (minimize_latency would be the default).
	consistency := &v1.Consistency{Requirement: &v1.Consistency_AtLeastAsFresh{AtLeastAsFresh: token}}
	qs := make([][]*v1.CheckPermissionRequest, len(in.Data.Queries))
	for i, q := range in.Data.Queries {
		object, ok := cols[q.Collection]
		if !ok {
			return fmt.Errorf("question %d: unknown collection %s", i, q.Collection)
		}
		for _, r := range peerkit.QuestionRelations(q, name) {
			qs[i] = append(qs[i], &v1.CheckPermissionRequest{Consistency: consistency,
				Resource: &v1.ObjectReference{ObjectType: "collection", ObjectId: object}, Permission: "can_" + r, Subject: subject(q.Subject)})
		}
	}
	peer := func(ctx context.Context, i int, allowed []bool) error {
		allowed[0] = true
		for _, c := range qs[i] {
			resp, err := perms.CheckPermission(ctx, c)
			if err != nil {
				return err
			}
			if resp.GetPermissionship() != v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION {
				allowed[0] = false
				return nil
			}
		}
		return nil
	}
	cacheEntries, peerName := 0, "SpiceDB, parent-child schema, "+storeName
	if cache {
		cacheEntries, peerName = authz.DefaultDecisionCache, peerName+", dispatch cache"
	}
	cmp, err := peerkit.CompareWithYardstick(ctx, in, cacheEntries, loadgen.System{Name: peerName, Interface: "in-process gRPC", Call: peer})
	if err != nil {
		return err
	}
	out.Results, out.Agreements = cmp.Results, cmp.Agreements
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "spicedb peer: server:", err)
	}
	return out.Write(outPath)
}
