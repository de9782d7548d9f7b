package kubernetes

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/grantd/grantd/authz"
)

// reviewBodies draws n review bodies: plain ones, as kube-apiserver sends
// them (metadata, extra, selectors and a status included), which the hand
// decoder must take, and others that vary what encoding/json accepts or
// refuses (escapes, invalid UTF-8, null, numbers, members named but for
// case, repeated members, deep nesting, truncation, trailing bytes).
func reviewBodies(seed uint64, n int) (bodies [][]byte, plain []bool) {
	rng := rand.New(rand.NewPCG(seed, 2))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	ws := func() string { return pick("", "", "", " ", "\n\t ", "\r\n") }
	for range n {
		odd := rng.IntN(2) == 0
		str := func() string {
			if odd && rng.IntN(6) == 0 {
				return pick(`"a\"b"`, `"\u00e9"`, "\"\xff\"", "\"\x01\"", `null`, `5`, `true`, `"a\\b"`, `"a`, `[]`, `{}`)
			}
			return `"` + pick("alice", "", "system:serviceaccount:ci:deployer", "pods", "get", "apps", "é", "日本", "v1", "team-a", " x ", "<&>") + `"`
		}
		boolean := func() string {
			if odd && rng.IntN(4) == 0 {
				return pick(`null`, `"true"`, `1`, `tru`)
			}
			return pick("true", "false")
		}
		strs := func() string {
			if odd && rng.IntN(6) == 0 {
				return pick(`null`, `"x"`, `[1]`, `[`)
			}
			items := make([]string, rng.IntN(4))
			for i := range items {
				items[i] = ws() + str() + ws()
			}
			return "[" + strings.Join(items, ",") + "]"
		}
		// Values encoding/json skips, valid or not.
		anything := func() string {
			valid := pick(`{"creationTimestamp":null}`, `{}`, `[]`, `{"authentication.kubernetes.io/pod-name":["p"],"x":[]}`,
				`-1.5e+3`, `0`, `"a\u00e9\n\/"`, "\"\xff\xfe\"", `[true,false,null,{"a":[{"b":1}]}]`, `{"matchLabels":{"app":"web"}}`)
			if odd && rng.IntN(3) == 0 {
				return pick(`01`, `1.`, `-`, `{"a"}`, `[1,]`, `"\x"`, `"\u12"`, `nul`, "\"\x01\"", `{"a":1,}`,
					strings.Repeat("[", 40)+strings.Repeat("]", 40), `1e`, `.5`)
			}
			return valid
		}
		object := func(members map[string]func() string, extra ...string) string {
			var keys []string
			for k := range members {
				if rng.IntN(4) > 0 {
					keys = append(keys, k)
				}
			}
			for _, k := range extra {
				if rng.IntN(3) == 0 {
					keys = append(keys, k)
				}
			}
			if odd && rng.IntN(4) == 0 && len(members) > 0 {
				var names []string
				for k := range members {
					names = append(names, k)
				}
				k := names[rng.IntN(len(names))]
				keys = append(keys, pick(strings.ToUpper(k), strings.ToUpper(k[:1])+k[1:], strings.ReplaceAll(k, "s", "ſ")))
			}
			if odd && len(keys) > 0 && rng.IntN(4) == 0 {
				keys = append(keys, keys[rng.IntN(len(keys))])
			}
			rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			parts := make([]string, len(keys))
			for i, k := range keys {
				v := anything()
				if f, ok := members[k]; ok {
					v = f()
				} else if f, ok := members[strings.ToLower(k)]; ok && rng.IntN(2) == 0 {
					v = f()
				}
				parts[i] = ws() + `"` + k + `"` + ws() + ":" + ws() + v + ws()
			}
			return "{" + strings.Join(parts, ",") + "}"
		}
		resource := func() string {
			return object(map[string]func() string{"namespace": str, "verb": str, "group": str, "version": str,
				"resource": str, "subresource": str, "name": str}, "fieldSelector", "labelSelector")
		}
		nonResource := func() string { return object(map[string]func() string{"path": str, "verb": str}) }
		spec := func() string {
			return object(map[string]func() string{"resourceAttributes": resource, "nonResourceAttributes": nonResource,
				"user": str, "groups": strs, "group": strs, "uid": str}, "extra")
		}
		status := func() string {
			return object(map[string]func() string{"allowed": boolean, "denied": boolean, "reason": str, "evaluationError": str})
		}
		body := ws() + object(map[string]func() string{"apiVersion": str, "kind": str, "spec": spec, "status": status}, "metadata") + ws()
		if odd {
			switch rng.IntN(5) {
			case 0:
				body = body[:rng.IntN(len(body)+1)]
			case 1:
				body += pick(`{"x":1}`, "garbage", `"`, "\xff", " ")
			}
		}
		bodies = append(bodies, []byte(body))
		plain = append(plain, !odd)
	}
	return bodies, plain
}

// The hand decoder takes a body only where encoding/json reads the same
// review from it, and takes every plain body.
func TestReviewDecodeLikeEncodingJSON(t *testing.T) {
	bodies, plain := reviewBodies(1, 20000)
	taken, passed, refused := 0, 0, 0
	for i, body := range bodies {
		if checkReviewDecode(t, body) {
			taken++
		} else if plain[i] {
			t.Errorf("a plain body left to encoding/json: %s", body)
		} else if json.Unmarshal(body, new(accessReview)) == nil {
			passed++
		} else {
			refused++
		}
	}
	// The bodies reach all three outcomes, each often.
	if taken < 8000 || passed < 500 || refused < 500 {
		t.Errorf("taken %d, passed to encoding/json %d, refused by it %d", taken, passed, refused)
	}
}

// checkReviewDecode decodes body both ways and reports whether the hand
// decoder took it.
func checkReviewDecode(t testing.TB, body []byte) bool {
	t.Helper()
	var got accessReview
	if !decodeReview(body, &got) {
		return false
	}
	var want accessReview
	if err := json.Unmarshal(body, &want); err != nil {
		t.Errorf("%q: decoded by hand as %+v; encoding/json refuses it: %v", body, got, err)
	} else if !reflect.DeepEqual(got, want) {
		t.Errorf("%q: decoded by hand as %+v; encoding/json reads %+v", body, got, want)
	}
	return true
}

func FuzzReviewDecode(f *testing.F) {
	bodies, _ := reviewBodies(2, 40)
	for _, b := range bodies {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkReviewDecode(t, body) })
}

// The hand encoder writes encoding/json's bytes for every review.
func TestReviewEncodeLikeEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var control strings.Builder
	for c := range 0x20 {
		control.WriteByte(byte(c))
	}
	texts := []string{"", "", "granted", `say "no"`, `C:\path`, control.String(), "é 日本 \u2028 \u2029", "\xff", "a\x7fb",
		"<script>&amp;</script>", "\xe2\x80", "x\xed\xa0\x80y", `Kubernetes user "system:x" is not a grantd user`, strings.Repeat("x", 300)}
	pick := func() string { return texts[rng.IntN(len(texts))] }
	picks := func() []string {
		switch rng.IntN(3) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		out := make([]string, 1+rng.IntN(3))
		for i := range out {
			out[i] = pick()
		}
		return out
	}
	for range 5000 {
		rv := accessReview{APIVersion: pick(), Kind: pick(), Spec: reviewSpec{User: pick(), Groups: picks(), Group: picks(), UID: pick()},
			Status: reviewStatus{Allowed: rng.IntN(2) == 0, Denied: rng.IntN(2) == 0, Reason: pick(), EvaluationError: pick()}}
		if rng.IntN(2) == 0 {
			rv.Spec.ResourceAttributes = &resourceAttributes{Namespace: pick(), Verb: pick(), Group: pick(), Version: pick(),
				Resource: pick(), Subresource: pick(), Name: pick()}
		}
		if rng.IntN(2) == 0 {
			rv.Spec.NonResourceAttributes = &nonResourceAttributes{Path: pick(), Verb: pick()}
		}
		want, err := json.Marshal(rv)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendReview(nil, &rv); !bytes.Equal(got, want) {
			t.Fatalf("%+v: written by hand as\n%s\nencoding/json writes\n%s", rv, got, want)
		}
	}
}

// kube-apiserver's webhook authorizer sends the whole object: metadata,
// the user's extra attributes and UID, a field selector on newer
// releases, and an empty status. The hand decoder takes it, and the
// answer keeps the spec and fills the status.
func TestReviewAsKubeAPIServerSendsIt(t *testing.T) {
	body := []byte(`{"kind":"SubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},` +
		`"spec":{"resourceAttributes":{"namespace":"team-a","verb":"list","version":"v1","resource":"pods",` +
		`"fieldSelector":{"requirements":[{"key":"spec.nodeName","operator":"In","values":["n1"]}]}},` +
		`"user":"system:serviceaccount:team-a:deployer","groups":["system:serviceaccounts","system:serviceaccounts:team-a","system:authenticated"],` +
		`"extra":{"authentication.kubernetes.io/credential-id":["JTI=6b0d"],"authentication.kubernetes.io/pod-name":["web-0"]},` +
		`"uid":"8a1c7c36-0cde-4f7a-9b1e-6c1e0ad1d2a5"},"status":{"allowed":false}}`)
	if !checkReviewDecode(t, body) {
		t.Fatalf("left to encoding/json: %s", body)
	}
	b := &backend{allow: func(r authz.Request) authz.Decision {
		return authz.Decision{Allowed: r.Namespace == "team-a" && r.Operation == "kubernetes.pods.list", Code: authz.CodeGranted, Reason: "granted"}
	}}
	answer, v, _, err := Authorize(context.Background(), b, body, nil)
	if err != nil || v != Allow || len(b.asked) != 1 || len(b.asked[0].Groups) != 3 {
		t.Fatalf("%s, %v, %v; asked %+v", answer, v, err, b.asked)
	}
	want := `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"resourceAttributes":{"namespace":"team-a","verb":"list",` +
		`"version":"v1","resource":"pods"},"user":"system:serviceaccount:team-a:deployer","groups":["system:serviceaccounts",` +
		`"system:serviceaccounts:team-a","system:authenticated"],"uid":"8a1c7c36-0cde-4f7a-9b1e-6c1e0ad1d2a5"},"status":{"allowed":true,"reason":"granted"}}`
	if string(answer) != want {
		t.Errorf("answered\n%s\nwant\n%s", answer, want)
	}
	// Appended to a reused buffer, it is the same answer, and it stays
	// the same when the body's bytes are gone.
	again, _, _, _ := Authorize(context.Background(), b, body, []byte("left over from another answer")[:0])
	clear(body)
	if string(again) != want {
		t.Errorf("into a reused buffer, answered\n%s\nwant\n%s", again, want)
	}
}
