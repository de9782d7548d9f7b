// Package peerkit is what every peer of the benchmark's comparison shares:
// the model and questions handed to a peer's process, what the process
// hands back, and grantd's yardstick, which each peer process measures
// beside the peer, round for round (loadgen.Compare).
package peerkit

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/bench/loadgen"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// Data is the collection part of grantd's model as the peers see it.
type Data struct {
	// Roles maps a role to its operations and, per operation, the options
	// it grants with it.
	Roles map[string]map[string][]string `json:"roles"`
	// Parents maps each collection to its parent ("" for the root).
	Parents map[string]string `json:"parents"`
	// Members maps a user subject to the team and org subjects it acts as.
	Members map[string][]string `json:"members"`
	// Admins are the users that are system admins (allowed everything).
	Admins  []string `json:"admins"`
	Grants  []Grant  `json:"grants"`
	Queries []Query  `json:"queries"`
}

// Grant is one grant on a collection.
type Grant struct {
	Subject    string `json:"subject"`
	Role       string `json:"role"`
	Collection string `json:"collection"`
	Exact      bool   `json:"exact,omitempty"`
}

// Query is one question.
type Query struct {
	Subject    string   `json:"subject"`
	Operation  string   `json:"operation"`
	Collection string   `json:"collection"`
	Options    []string `json:"options,omitempty"`
}

// Input is what a peer process reads.
type Input struct {
	Data     Data   `json:"data"`
	Snapshot string `json:"snapshot"` // grantd's state, for the yardstick
	Callers  []int  `json:"callers"`
	Rounds   int    `json:"rounds"`
}

// Output is what a peer process writes.
type Output struct {
	// Load describes how the peer was loaded (tuples, seconds, heap).
	Load       map[string]float64  `json:"load"`
	Results    []loadgen.Result    `json:"results"`
	Agreements []loadgen.Agreement `json:"agreements"`
}

// ReadInput reads a peer's input file.
func ReadInput(path string) (*Input, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var in Input
	return &in, json.Unmarshal(raw, &in)
}

// Write writes the output file.
func (o *Output) Write(path string) error {
	body, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return os.WriteFile(path, body, 0o644)
}

// Yardstick restores grantd's state from the snapshot into a store in a
// temporary directory and compiles it: the engine of the comparison, its
// decision cache off (cache entries > 0 turn it on). close removes it.
func Yardstick(ctx context.Context, snapshot string, cacheEntries int) (e *authz.Engine, closeFn func(), err error) {
	dir, err := os.MkdirTemp("", "grantd-yardstick")
	if err != nil {
		return nil, nil, err
	}
	cfg := store.DefaultConfig(dir)
	cfg.Logger = slog.New(slog.DiscardHandler)
	st, err := store.Open(cfg)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	closeFn = func() { _ = st.Close(); _ = os.RemoveAll(dir) }
	defer func() {
		if err != nil {
			closeFn()
		}
	}()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := st.WaitReady(wctx); err != nil {
		return nil, nil, err
	}
	f, err := os.Open(snapshot)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if err := st.Restore(f); err != nil {
		return nil, nil, err
	}
	if e, err = authz.New(slog.New(slog.DiscardHandler)); err != nil {
		return nil, nil, err
	}
	e.SetDecisionCache(cacheEntries)
	if err := e.Rebuild(ctx, st.Read()); err != nil {
		return nil, nil, err
	}
	return e, closeFn, nil
}

// Caller asks the engine the questions.
func Caller(e *authz.Engine, qs []Query) (loadgen.Caller, error) {
	reqs := make([]authz.Request, len(qs))
	for i, q := range qs {
		s, err := subjects.ParseSubject(q.Subject)
		if err != nil {
			return nil, fmt.Errorf("question %d: %w", i, err)
		}
		reqs[i] = authz.Request{Subject: s, Operation: q.Operation, Collection: q.Collection, Options: q.Options}
	}
	return func(ctx context.Context, i int, allowed []bool) error {
		d := e.Decide(ctx, reqs[i])
		if d.Code == authz.CodeInternalError {
			return fmt.Errorf("%s", d.Reason)
		}
		allowed[0] = d.Allowed
		return nil
	}, nil
}

// Relations are the relations a relationship-based peer (OpenFGA, SpiceDB)
// needs for the questions: one per operation asked and one per operation
// and option asked ("op__option"), named by name, each with the roles that
// grant it.
func Relations(d *Data, name func(string) string) map[string][]string {
	asked := map[string]bool{}
	for _, q := range d.Queries {
		for _, rel := range QuestionRelations(q, name) {
			asked[rel] = true
		}
	}
	out := map[string][]string{}
	for rel := range asked {
		out[rel] = nil
	}
	for role, ops := range d.Roles {
		for op, opts := range ops {
			if asked[name(op)] {
				out[name(op)] = append(out[name(op)], role)
			}
			for _, o := range opts {
				if rel := name(op) + "__" + name(o); asked[rel] {
					out[rel] = append(out[rel], role)
				}
			}
		}
	}
	return out
}

// QuestionRelations are the relations a question checks, all of which
// must hold: its operation's, and one per option it asks for.
func QuestionRelations(q Query, name func(string) string) []string {
	rels := []string{name(q.Operation)}
	for _, o := range q.Options {
		rels = append(rels, name(q.Operation)+"__"+name(o))
	}
	return slices.Compact(rels)
}

// CollectionIDs numbers the collections in path order: short object IDs
// that need no escaping.
func CollectionIDs(d *Data) map[string]string {
	paths := make([]string, 0, len(d.Parents))
	for p := range d.Parents {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	ids := make(map[string]string, len(paths))
	for i, p := range paths {
		ids[p] = fmt.Sprintf("c%d", i)
	}
	return ids
}

// GrantRelations calls fn once per relationship the grants make in a
// relationship-based model: for each grant and each relation of rels its
// role grants, "s_<relation>" (subtree) or "x_<relation>" (exact), each
// (collection, relation, subject) once even when two roles grant it.
func GrantRelations(d *Data, rels map[string][]string, fn func(g Grant, relation string)) {
	byRole := map[string][]string{}
	for rel, roles := range rels {
		for _, r := range roles {
			byRole[r] = append(byRole[r], rel)
		}
	}
	seen := map[[3]string]bool{}
	for _, g := range d.Grants {
		prefix := "s_"
		if g.Exact {
			prefix = "x_"
		}
		for _, rel := range byRole[g.Role] {
			if k := [3]string{g.Collection, prefix + rel, g.Subject}; !seen[k] {
				seen[k] = true
				fn(g, prefix+rel)
			}
		}
	}
}

// CompareWithYardstick loads grantd's yardstick (with its decision cache
// when cacheEntries > 0) and compares peer with it at each caller count
// of in: the yardstick's and the peer's results in pairs, and the peer's
// agreement per caller count.
func CompareWithYardstick(ctx context.Context, in *Input, cacheEntries int, peer loadgen.System) (*Output, error) {
	engine, closeEngine, err := Yardstick(ctx, in.Snapshot, cacheEntries)
	if err != nil {
		return nil, err
	}
	defer closeEngine()
	yard, err := Caller(engine, in.Data.Queries)
	if err != nil {
		return nil, err
	}
	iface := "in-process"
	if cacheEntries > 0 {
		iface = "in-process, cache"
	}
	out := &Output{}
	for _, c := range in.Callers {
		rs, ag := loadgen.Compare(ctx, []loadgen.System{{Name: "grantd", Interface: iface, Call: yard}, peer}, c, len(in.Data.Queries), in.Rounds)
		out.Results = append(out.Results, rs...)
		out.Agreements = append(out.Agreements, ag[1])
	}
	return out, nil
}
