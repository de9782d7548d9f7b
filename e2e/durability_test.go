package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// acked records every write grantd acknowledged: those must survive any crash.
type acked struct {
	mu          sync.Mutex
	users       []string
	collections []string
	grants      map[string]string // grant ID -> "user collection"
}

func (a *acked) add(f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f()
}

// TestDurabilityUnderSIGKILL drives writes from several goroutines, kills
// grantd with SIGKILL at random moments over several rounds, restarts it on
// the same data directory, and checks that every acknowledged write is
// there and that nothing half-applied is visible.
func TestDurabilityUnderSIGKILL(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("GRANTD_E2E_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (set GRANTD_E2E_SEED to replay)", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	const rounds, workers = 6, 4
	dir := t.TempDir()
	done := &acked{grants: map[string]string{}}
	attempted := 0

	for round := range rounds {
		g := start(t, dir)
		token := g.login(t)
		verify(t, g, token, done)

		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var mu sync.Mutex
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					mu.Lock()
					attempted++
					mu.Unlock()
					writeOne(ctx, g, token, fmt.Sprintf("r%dw%di%d", round, w, i), done)
				}
			}()
		}
		time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond)
		g.kill() // SIGKILL while the writers are busy
		stop()
		wg.Wait()
	}
	g := start(t, dir)
	token := g.login(t)
	verify(t, g, token, done)
	t.Logf("%d write sequences attempted; %d users, %d collections, %d grants acknowledged and all present after %d kills",
		attempted, len(done.users), len(done.collections), len(done.grants), rounds)
	if len(done.grants) < rounds {
		t.Fatalf("only %d grants were acknowledged; the load did not run", len(done.grants))
	}
}

// writeOne creates a user, a collection and a grant between them, recording
// each write that was acknowledged. Errors are expected once grantd is killed.
func writeOne(ctx context.Context, g *grantd, token, name string, done *acked) {
	code, _, err := g.call(ctx, "POST", "/v1/users", token, map[string]any{"name": name, "fullName": "load " + name})
	if err != nil || code != 200 {
		return
	}
	done.add(func() { done.users = append(done.users, name) })
	path := "/" + name
	code, _, err = g.call(ctx, "POST", "/v1/collections", token, map[string]any{"path": path})
	if err != nil || code != 200 {
		return
	}
	done.add(func() { done.collections = append(done.collections, path) })
	code, out, err := g.call(ctx, "POST", "/v1/grants", token, map[string]any{
		"subject": "user:" + name, "role": "viewonly", "object": "collection:" + path})
	if err != nil || code != 200 {
		return
	}
	id := out["grant"].(map[string]any)["id"].(string)
	done.add(func() { done.grants[id] = name })
}

// verify checks every acknowledged write, then that every user visible has
// all its parts (private collection and default grant), and every grant
// visible has its subject and object: a half-applied write would break one.
func verify(t *testing.T, g *grantd, token string, done *acked) {
	t.Helper()
	done.mu.Lock()
	defer done.mu.Unlock()
	for _, u := range done.users {
		g.must(t, 200, "GET", "/v1/users/"+url.PathEscape(u), token, nil)
	}
	for _, c := range done.collections {
		g.must(t, 200, "GET", "/v1/collections"+c, token, nil)
	}
	for id, name := range done.grants {
		out := g.must(t, 200, "GET", "/v1/grants/"+id, token, nil)
		if out["subject"] != "user:"+name || out["object"] != "collection:/"+name {
			t.Fatalf("grant %s changed: %v", id, out)
		}
	}
	for _, u := range listAll(t, g, token, "/v1/users", "users") {
		name := u["name"].(string)
		private := u["defaultCollection"].(string)
		g.must(t, 200, "GET", "/v1/collections"+private, token, nil)
		grants := g.must(t, 200, "GET", "/v1/grants?subject=user:"+url.QueryEscape(name), token, nil)["grants"].([]any)
		found := false
		for _, x := range grants {
			found = found || x.(map[string]any)["object"] == "collection:"+private
		}
		if !found {
			t.Fatalf("user %s is visible without the default grant on %s: half applied", name, private)
		}
	}
	for _, gr := range listAll(t, g, token, "/v1/grants", "grants") {
		obj := gr["object"].(string)
		if len(obj) > len("collection:") && obj[:11] == "collection:" {
			g.must(t, 200, "GET", "/v1/collections"+obj[11:], token, nil)
		}
	}
}

func listAll(t *testing.T, g *grantd, token, path, field string) []map[string]any {
	t.Helper()
	var out []map[string]any
	pageToken := ""
	for {
		page := g.must(t, 200, "GET", path+"?pageSize=500&pageToken="+url.QueryEscape(pageToken), token, nil)
		for _, x := range page[field].([]any) {
			out = append(out, x.(map[string]any))
		}
		pageToken, _ = page["nextPageToken"].(string)
		if pageToken == "" {
			return out
		}
	}
}
