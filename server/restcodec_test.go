package server

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

// authorizeBodies draws n request bodies: plain ones, which the hand
// decoder must take (reported true), and others that vary what the
// gateway accepts or refuses (escapes, non-ASCII, null, numbers, unknown
// and repeated members, truncation, trailing bytes).
func authorizeBodies(seed uint64, n int) (bodies [][]byte, plain []bool) {
	rng := rand.New(rand.NewPCG(seed, 1))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	ws := func() string { return pick("", "", "", " ", "\n\t ", "\r\n") }
	for range n {
		odd := rng.IntN(2) == 0
		str := func() string {
			if odd && rng.IntN(6) == 0 {
				return pick(`"a\"b"`, `"\u00e9"`, "\"\xff\"", "\"\x01\"", `null`, `5`, `true`, `"a\\b"`, `"a`)
			}
			return `"` + pick("user:alice", "", "/Shared/apps", "container.create", "é", "日本", "team:acme/dev", " x ") + `"`
		}
		strs := func() string {
			k := rng.IntN(4)
			items := make([]string, k)
			for i := range items {
				items[i] = ws() + str() + ws()
			}
			return "[" + strings.Join(items, ",") + "]"
		}
		object := func(members map[string]func() string) string {
			var keys []string
			for k := range members {
				if rng.IntN(3) > 0 {
					keys = append(keys, k)
				}
			}
			if odd && rng.IntN(4) == 0 {
				keys = append(keys, pick("verb", "Subject", "minRevision", "min_revision", "linearizable"))
			}
			if odd && len(keys) > 0 && rng.IntN(4) == 0 {
				keys = append(keys, keys[rng.IntN(len(keys))])
			}
			rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			parts := make([]string, len(keys))
			for i, k := range keys {
				v := `"x"`
				if f, ok := members[k]; ok {
					v = f()
				} else if k == "minRevision" || k == "min_revision" {
					v = "7"
				}
				parts[i] = ws() + `"` + k + `"` + ws() + ":" + ws() + v + ws()
			}
			return "{" + strings.Join(parts, ",") + "}"
		}
		labels := func() string {
			k := rng.IntN(3)
			parts := make([]string, k)
			for i, key := range rng.Perm(4)[:k] {
				parts[i] = `"` + []string{"com.docker.ucp.access.label", "", "é", "app"}[key] + `":` + str()
			}
			if odd && k > 0 && rng.IntN(4) == 0 {
				parts = append(parts, parts[0])
			}
			return "{" + strings.Join(parts, ",") + "}"
		}
		resource := func() string {
			return object(map[string]func() string{"collection": str, "repository": str, "labels": labels})
		}
		body := ws() + object(map[string]func() string{
			"subject": str, "operation": str, "options": strs, "secrets": strs, "resource": resource,
		}) + ws()
		if odd {
			switch rng.IntN(5) {
			case 0:
				body = body[:rng.IntN(len(body)+1)]
			case 1:
				body += pick(`{"x":1}`, "garbage", `"`, "\xff")
			}
		}
		bodies = append(bodies, []byte(body))
		plain = append(plain, !odd)
	}
	return bodies, plain
}

// The hand decoder takes a body only where the gateway's decoder reads
// the same request from it, and takes every plain body.
func TestAuthorizeDecodeLikeTheGateway(t *testing.T) {
	bodies, plain := authorizeBodies(1, 20000)
	taken, refused, passed := 0, 0, 0
	for i, body := range bodies {
		if checkAuthorizeDecode(t, body) {
			taken++
		} else if plain[i] {
			t.Errorf("a plain body left to the gateway: %q", body)
		} else if decodeGateway(body) == nil {
			passed++
		} else {
			refused++
		}
	}
	// The bodies reach all three outcomes, each often.
	if taken < 8000 || passed < 500 || refused < 500 {
		t.Errorf("taken %d, passed to the gateway %d, refused by it %d", taken, passed, refused)
	}
}

// checkAuthorizeDecode decodes body both ways and reports whether the
// hand decoder took it.
func checkAuthorizeDecode(t testing.TB, body []byte) bool {
	t.Helper()
	var got v1.AuthorizeRequest
	if !decodeAuthorize(body, &got) {
		return false
	}
	var want v1.AuthorizeRequest
	if err := gatewayJSON().NewDecoder(bytes.NewReader(body)).Decode(&want); err != nil {
		t.Errorf("%q: decoded by hand as %v; the gateway refuses it: %v", body, &got, err)
	} else if !proto.Equal(&got, &want) {
		t.Errorf("%q: decoded by hand as %v; the gateway reads %v", body, &got, &want)
	}
	return true
}

func decodeGateway(body []byte) error {
	var req v1.AuthorizeRequest
	return gatewayJSON().NewDecoder(bytes.NewReader(body)).Decode(&req)
}

func FuzzAuthorizeDecode(f *testing.F) {
	bodies, _ := authorizeBodies(2, 40)
	for _, b := range bodies {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkAuthorizeDecode(t, body) })
}

// The hand encoder writes protojson's bytes with the gateway's options,
// and leaves to it what protojson refuses.
func TestAuthorizeEncodeLikeTheGateway(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var control strings.Builder
	for c := range 0x20 {
		control.WriteByte(byte(c))
	}
	texts := []string{"", "granted", `say "no"`, `C:\path`, control.String(), "é 日本 \u2028", "é 日本", "a—b … \u2029c\u2028", "<a &amp; b>", "\xff", "a\x7fb",
		"user:maria holds container.view on /prod/api", strings.Repeat("x", 300)}
	pick := func() string { return texts[rng.IntN(len(texts))] }
	json := gatewayJSON()
	hand, refused := 0, 0
	for range 5000 {
		r := &v1.AuthorizeResponse{Allowed: rng.IntN(2) == 0, Reason: pick()}
		switch rng.IntN(3) {
		case 0:
			r.Revision = rng.Uint64()
		case 1:
			r.Revision = math.MaxUint64
		}
		for range rng.IntN(4) {
			r.SchedulableCollections = append(r.SchedulableCollections, pick())
		}
		want, wantErr := json.Marshal(r)
		got, ok := appendAuthorizeResponse(nil, r)
		switch {
		case ok && wantErr != nil:
			t.Errorf("%v: written by hand as %s; protojson refuses it: %v", r, got, wantErr)
		case ok && !bytes.Equal(got, want):
			t.Errorf("%v: written by hand as\n%s\nprotojson writes\n%s", r, got, want)
		case !ok && wantErr == nil:
			t.Errorf("%v: left to protojson, which writes %s", r, want)
		}
		if ok {
			hand++
		} else {
			refused++
		}
		// The marshaler the route uses answers as the gateway's in both cases.
		if b, err := (authorizeJSON{json}).Marshal(r); !bytes.Equal(b, want) || (err == nil) != (wantErr == nil) {
			t.Errorf("%v: the route's marshaler gives %s, %v; the gateway's %s, %v", r, b, err, want, wantErr)
		}
	}
	if hand < 2000 || refused < 200 {
		t.Errorf("written by hand %d, refused %d", hand, refused)
	}
}
