package decisionlog

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/plugins/logs"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/subjects"
)

// awkward are strings JSON must escape, or that are not UTF-8.
var awkward = []string{"plain", `quo"te`, `back\slash`, "new\nline", "tab\t", "\x00\x01\x1f", "caf\xc3\xa9", "bad\xffbyte",
	"line\u2028sep", "para\u2029", "<html>&", "emoji 🎉", ""}

func randomRecord(rng *rand.Rand) Record {
	pick := func() string { return awkward[rng.IntN(len(awkward))] }
	r := Record{
		Time:      time.Unix(1_700_000_000+rng.Int64N(1e6), rng.Int64N(1e9)),
		Request:   authz.Request{Subject: subjects.Subject{Kind: subjects.User, Name: pick()}, Operation: pick()},
		Decision:  authz.Decision{Allowed: rng.IntN(2) == 0, Code: authz.Code(pick()), Reason: pick(), Revision: rng.Uint64N(1e9)},
		Latency:   time.Duration(rng.Int64N(1e7)),
		Interface: pick(), Caller: subjects.Subject{Kind: subjects.ServiceAccount, Name: pick()}, Address: addr(pick()), RequestID: pick(),
	}
	switch rng.IntN(4) {
	case 0:
		r.Request.Collection = pick()
		r.Decision.Collection = pick()
	case 1:
		r.Request.Repository = pick()
	case 2:
		r.Request.Kubernetes, r.Request.Namespace, r.Request.Groups = true, pick(), []string{pick(), pick()}
	case 3:
		r.Request.HasLabels, r.Request.Labels = true, map[string]string{pick(): pick(), pick(): pick()}
	}
	if rng.IntN(2) == 0 {
		r.Request.Options, r.Decision.Options = []string{pick(), pick()}, []string{pick()}
		r.Request.Secrets, r.Decision.Secrets = []string{pick()}, []string{pick()}
	}
	if rng.IntN(2) == 0 {
		r.Grants = []string{pick(), pick()}
	}
	return r
}

// addr is a network address for tests.
type addr string

func (a addr) Network() string { return "tcp" }
func (a addr) String() string  { return string(a) }

// valid is s as JSON decodes it: invalid UTF-8 replaced.
// valid is s as a JSON decoder reads it back: each byte that is not
// UTF-8 replaced by U+FFFD, as encoding/json writes it.
func valid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // utf8.RuneError for a byte that is not UTF-8
		i += size
	}
	return b.String()
}

func validAll(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = valid(x)
	}
	return out
}

// TestEventsAreOPADecisionLogEvents decodes encoded events with OPA's own
// event type, refusing unknown fields, and checks every field.
func TestEventsAreOPADecisionLogEvents(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	enc := newEncoder(map[string]string{"id": "node-1", "app": "grantd"}, mask{})
	for i := range 2000 {
		r := randomRecord(rng)
		line := enc.appendEvent(nil, &r)
		if bytes.ContainsAny(line, "\n\r") {
			t.Fatalf("event %d spans lines: %s", i, line)
		}
		var ev logs.EventV1
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("event %d: %v\n%s", i, err, line)
		}
		if ev.Labels["id"] != "node-1" || ev.Path != Path || len(ev.DecisionID) != 36 || ev.RequestID != uint64(i+1) {
			t.Fatalf("event %d: labels %v path %q id %q req %d", i, ev.Labels, ev.Path, ev.DecisionID, ev.RequestID)
		}
		if !ev.Timestamp.Equal(r.Time) || ev.Bundles["grantd"].Revision == "" {
			t.Fatalf("event %d: timestamp %v want %v, bundles %v", i, ev.Timestamp, r.Time, ev.Bundles)
		}
		wantInput := policyInput(t, r.Request)
		if !reflect.DeepEqual(*ev.Input, wantInput) {
			t.Fatalf("event %d: input\n got %#v\nwant %#v", i, *ev.Input, wantInput)
		}
		res := (*ev.Result).(map[string]any)
		if res["allowed"] != r.Decision.Allowed || res["code"] != valid(string(r.Decision.Code)) ||
			res["revision"] != float64(r.Decision.Revision) {
			t.Fatalf("event %d: result %v for %+v", i, res, r.Decision)
		}
		// A denial says why; an allowed decision's reason is implied by
		// its code, input and collection, and left out.
		if reason, has := res["reason"]; has == r.Decision.Allowed || (has && reason != valid(r.Decision.Reason)) {
			t.Fatalf("event %d: reason %q (present %v) for %+v", i, reason, has, r.Decision)
		}
		if len(r.Grants) > 0 && !reflect.DeepEqual(res["grants"], validAll(r.Grants)) {
			t.Fatalf("event %d: grants %v want %v", i, res["grants"], r.Grants)
		}
		if ev.Metrics["timer_grantd_decision_ns"] != float64(r.Latency.Nanoseconds()) {
			t.Fatalf("event %d: metrics %v", i, ev.Metrics)
		}
		if ev.RequestedBy != valid(r.Address.String()) || ev.Custom["interface"] != valid(r.Interface) ||
			ev.Custom["caller"] != valid(r.Caller.String()) {
			t.Fatalf("event %d: requested_by %q custom %v", i, ev.RequestedBy, ev.Custom)
		}
	}
}

// TestMemoizedEventsAreTheSame encodes each record three times with a
// memo (the first time fills it, the others copy it) and checks each
// event against the one encoded without a memo: only the fields that
// change from one answer to the next (the revision, the caller, the time)
// may differ, and they must be the new ones. A memo another encoder (with
// another mask) filled is not used.
func TestMemoizedEventsAreTheSame(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	enc := newEncoder(map[string]string{"id": "node-1"}, mask{})
	m, err := parseMask([]string{"/input/subject", "/result/reason"})
	if err != nil {
		t.Fatal(err)
	}
	masked := newEncoder(nil, m)
	for i := range 500 {
		r := randomRecord(rng)
		r.Memo = &authz.Memo{}
		if i%3 == 0 {
			_ = masked.appendEvent(nil, &r) // fills the memo for the other encoder only
		}
		for range 3 {
			r.Decision.Revision = rng.Uint64N(1e9)
			r.Time, r.RequestID = r.Time.Add(time.Second), strconv.Itoa(i)
			got := enc.appendEvent(nil, &r)
			plain := r
			plain.Memo = nil
			enc.seq-- // the same decision ID and req_id
			want := enc.appendEvent(nil, &plain)
			if !bytes.Equal(got, want) {
				t.Fatalf("record %d: from the memo\n%s\nwithout\n%s", i, got, want)
			}
		}
		if r.Memo.Load(enc) == nil {
			t.Fatalf("record %d: the memo was never filled", i)
		}
	}
}

// policyInput is the request's policy input as JSON decodes it.
func policyInput(t *testing.T, r authz.Request) any {
	t.Helper()
	v, err := ast.JSON(r.Input().Value)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func TestMaskErasesAndListsFields(t *testing.T) {
	paths := make([]string, 0, len(Maskable))
	for p := range Maskable {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	m, err := parseMask(paths)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	enc := newEncoder(nil, m)
	for range 200 {
		r := randomRecord(rng)
		r.Address, r.Caller, r.RequestID = addr("10.0.0.1:5"), subjects.OfServiceAccount("gw"), "req-1"
		var ev map[string]any
		if err := json.Unmarshal(enc.appendEvent(nil, &r), &ev); err != nil {
			t.Fatal(err)
		}
		in := ev["input"].(map[string]any)
		res := ev["result"].(map[string]any)
		custom := ev["custom"].(map[string]any)
		for name, present := range map[string]bool{
			"subject": in["subject"] != nil, "resource": in["resource"] != nil, "options": in["options"] != nil,
			"secrets": in["secrets"] != nil, "groups": in["groups"] != nil, "reason": res["reason"] != nil,
			"grants": res["grants"] != nil, "requested_by": ev["requested_by"] != nil, "caller": custom["caller"] != nil,
			"request_id": custom["request_id"] != nil,
		} {
			if present {
				t.Fatalf("%s survived the mask: %v", name, ev)
			}
		}
		if in["operation"] == nil || res["allowed"] == nil || !reflect.DeepEqual(ev["erased"], toAny(paths)) {
			t.Fatalf("masked event lost what it keeps, or erased is wrong: %v", ev)
		}
	}
	if _, err := parseMask([]string{"/input/password"}); err == nil {
		t.Fatal("an unknown field was accepted as a mask")
	}
}

func toAny(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// TestAppendAddrIsItsString: an address written in place reads as its
// String.
func TestAppendAddrIsItsString(t *testing.T) {
	for _, a := range []net.Addr{
		&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40001},
		&net.TCPAddr{IP: net.IP{10, 1, 2, 3}, Port: 443},
		&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 8443},
		&net.TCPAddr{IP: net.ParseIP("::1")},
		&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 1, Zone: "eth\"0"},
		&net.TCPAddr{Port: 80},
		&net.UnixAddr{Name: "/run/grantd.sock", Net: "unix"},
		addr(`odd "addr"`),
	} {
		var got string
		if err := json.Unmarshal(appendAddr(nil, a), &got); err != nil || got != a.String() {
			t.Errorf("%v written as %s (%q, %v)", a, appendAddr(nil, a), got, err)
		}
	}
}

// TestAppendTimeIsRFC3339InUTC: a timestamp reads back as the instant it
// was, in UTC with nine digits of fraction, whatever its zone and however
// the seconds follow each other.
func TestAppendTimeIsRFC3339InUTC(t *testing.T) {
	enc := newEncoder(nil, mask{})
	east := time.FixedZone("east", 5*3600+1800)
	at := time.Date(2026, 12, 31, 23, 59, 58, 999999990, time.UTC)
	for i := range 2000 {
		at = at.Add(time.Duration(rand.Int64N(int64(2 * time.Millisecond))))
		if i%500 == 0 {
			at = at.Add(time.Duration(rand.Int64N(int64(400 * 24 * time.Hour))))
		}
		in := at
		if i%3 == 0 {
			in = at.In(east)
		}
		got := string(enc.appendTime([]byte("x"), in))
		if want := "x" + strconv.Quote(at.UTC().Format("2006-01-02T15:04:05.000000000Z07:00")); got != want {
			t.Fatalf("%v written as %s, want %s", in, got, want)
		}
	}
}

// TestDecisionIDsAreVersion8UUIDs: IDs are UUIDs of version 8 and variant
// 10, unique within a logger and across loggers.
func TestDecisionIDsAreVersion8UUIDs(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	r := randomRecord(rand.New(rand.NewPCG(3, 4)))
	for range 3 {
		enc := newEncoder(nil, mask{})
		for range 1000 {
			var ev struct {
				ID string `json:"decision_id"`
			}
			if err := json.Unmarshal(enc.appendEvent(nil, &r), &ev); err != nil {
				t.Fatal(err)
			}
			if !re.MatchString(ev.ID) || seen[ev.ID] {
				t.Fatalf("decision ID %q: not a version 8 UUID, or seen before", ev.ID)
			}
			seen[ev.ID] = true
		}
	}
}
