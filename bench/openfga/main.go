// Command openfga is the OpenFGA peer of grantd's benchmark: it loads the
// benchmark's collection model into OpenFGA's in-memory datastore, on an
// equivalent authorization model, and answers the same questions with
// OpenFGA's Check, driven as a library, with the same load loop as grantd.
//
// It is its own Go module so that grantd's go.mod does not depend on
// OpenFGA. The benchmark runs it as `go run . -in input.json -out out.json`.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	openfgav1 "github.com/openfga/api/proto/openfga/v1"
	"github.com/openfga/language/pkg/go/transformer"
	"github.com/openfga/openfga/pkg/server"
	"github.com/openfga/openfga/pkg/storage/memory"

	"github.com/grantd/grantd/bench/loadgen"
)

// input is what the benchmark hands over: the collection model, the
// questions and the load steps.
type input struct {
	Data struct {
		Roles   map[string][]string `json:"roles"`
		Parents map[string]string   `json:"parents"`
		Members map[string][]string `json:"members"`
		Grants  []struct {
			Subject, Role, Collection string
			Exact                     bool
		} `json:"grants"`
		Queries []struct{ Subject, Operation, Collection string } `json:"queries"`
	} `json:"data"`
	Callers []int   `json:"callers"`
	Seconds float64 `json:"seconds"`
}

type output struct {
	Tuples      int              `json:"tuples"`
	LoadSeconds float64          `json:"loadSeconds"`
	HeapBytes   uint64           `json:"heapBytes"`
	Results     []loadgen.Result `json:"results"`
}

func main() {
	in := flag.String("in", "", "benchmark input (JSON)")
	out := flag.String("out", "", "where to write the results (JSON)")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "openfga peer:", err)
		os.Exit(1)
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_]`)

// name makes a relation or object ID out of a grantd name.
func name(s string) string { return unsafeName.ReplaceAllString(s, "_") }

// model writes the equivalent model: per role a subtree relation that
// inherits from the parent collection and an exact one that does not; per
// asked operation the union of the roles holding it.
func model(in *input) string {
	var b strings.Builder
	b.WriteString("model\n  schema 1.1\n\ntype user\n\ntype team\n  relations\n    define member: [user]\n\n")
	b.WriteString("type org\n  relations\n    define member: [user]\n\ntype collection\n  relations\n    define parent: [collection]\n")
	roles := make([]string, 0, len(in.Data.Roles))
	for r := range in.Data.Roles {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	subjects := "[user, user:*, team#member, org#member]"
	for _, r := range roles {
		fmt.Fprintf(&b, "    define g_%s: %s or g_%s from parent\n", name(r), subjects, name(r))
		fmt.Fprintf(&b, "    define x_%s: %s\n", name(r), subjects)
	}
	asked := map[string]bool{}
	for _, q := range in.Data.Queries {
		asked[q.Operation] = true
	}
	ops := make([]string, 0, len(asked))
	for op := range asked {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		var holders []string
		for _, r := range roles {
			for _, o := range in.Data.Roles[r] {
				if o == op {
					holders = append(holders, "g_"+name(r), "x_"+name(r))
					break
				}
			}
		}
		if len(holders) == 0 {
			fmt.Fprintf(&b, "    define op_%s: [user]\n", name(op))
			continue
		}
		fmt.Fprintf(&b, "    define op_%s: %s\n", name(op), strings.Join(holders, " or "))
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

func collectionIDs(in *input) map[string]string {
	paths := make([]string, 0, len(in.Data.Parents))
	for p := range in.Data.Parents {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	ids := make(map[string]string, len(paths))
	for i, p := range paths {
		ids[p] = fmt.Sprintf("collection:c%d", i)
	}
	return ids
}

func tuples(in *input, cols map[string]string) []*openfgav1.TupleKey {
	var ts []*openfgav1.TupleKey
	for path, parent := range in.Data.Parents {
		if parent != "" {
			ts = append(ts, &openfgav1.TupleKey{Object: cols[path], Relation: "parent", User: cols[parent]})
		}
	}
	for user, subs := range in.Data.Members {
		for _, s := range subs {
			kind, id, _ := strings.Cut(s, ":")
			ts = append(ts, &openfgav1.TupleKey{Object: kind + ":" + name(id), Relation: "member", User: subject(user)})
		}
	}
	for _, g := range in.Data.Grants {
		rel := "g_" + name(g.Role)
		if g.Exact {
			rel = "x_" + name(g.Role)
		}
		ts = append(ts, &openfgav1.TupleKey{Object: cols[g.Collection], Relation: rel, User: subject(g.Subject)})
	}
	return ts
}

func run(inPath, outPath string) error {
	raw, err := os.ReadFile(inPath)
	if err != nil {
		return err
	}
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		return err
	}
	ctx := context.Background()
	m, err := transformer.TransformDSLToProto(model(&in))
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	m.Id = ulid.Make().String()
	cols := collectionIDs(&in)
	ts := tuples(&in, cols)

	start := time.Now()
	ds := memory.New(memory.WithMaxTuplesPerWrite(len(ts) + 1))
	defer ds.Close()
	st, err := ds.CreateStore(ctx, &openfgav1.Store{Id: ulid.Make().String(), Name: "grantd-bench"})
	if err != nil {
		return err
	}
	if err := ds.WriteAuthorizationModel(ctx, st.GetId(), m); err != nil {
		return err
	}
	const chunk = 10000
	for i := 0; i < len(ts); i += chunk {
		if err := ds.Write(ctx, st.GetId(), nil, ts[i:min(i+chunk, len(ts))]); err != nil {
			return fmt.Errorf("write tuples: %w", err)
		}
	}
	srv, err := server.NewServerWithOpts(server.WithDatastore(ds))
	if err != nil {
		return err
	}
	defer srv.Close()
	o := output{Tuples: len(ts), LoadSeconds: time.Since(start).Seconds()}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	o.HeapBytes = ms.HeapInuse

	reqs := make([]*openfgav1.CheckRequest, len(in.Data.Queries))
	for i, q := range in.Data.Queries {
		reqs[i] = &openfgav1.CheckRequest{StoreId: st.GetId(), AuthorizationModelId: m.GetId(),
			TupleKey: &openfgav1.CheckRequestTupleKey{User: subject(q.Subject), Relation: "op_" + name(q.Operation), Object: cols[q.Collection]}}
	}
	check := func(ctx context.Context, i int, allowed []bool) error {
		resp, err := srv.Check(ctx, reqs[i])
		if err != nil {
			return err
		}
		allowed[0] = resp.GetAllowed()
		return nil
	}
	for _, c := range in.Callers {
		d := time.Duration(in.Seconds * float64(time.Second))
		o.Results = append(o.Results, loadgen.Measure(ctx, "OpenFGA", "in-process", c, 1, len(reqs), d, check))
	}
	body, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return os.WriteFile(outPath, body, 0o644)
}
