package decisionlog

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/internal/plainjson"
	"github.com/grantd/grantd/subjects"
)

// Record is one decision, as the server saw it.
type Record struct {
	Time     time.Time
	Request  authz.Request
	Decision authz.Decision
	// Grants are the grants behind a granted decision
	// (authz.Engine.DecideWithGrants).
	Grants  []string
	Latency time.Duration
	// Interface is how the question came: grpc, rest, docker-plugin,
	// registry, kubernetes or authzen.
	Interface string
	// Caller is the authenticated principal that asked (the zero subject
	// when the asker is the subject itself, as for registry tokens),
	// Address its network address, RequestID the request's X-Request-ID.
	// The writer formats them, not the decision.
	Caller    subjects.Subject
	Address   net.Addr
	RequestID string
	// Memo is the decision cache's memo for this question, decision and
	// grants (authz.Decided.Memo), where the writer keeps the event's
	// input and result once encoded, for the next time the cache gives
	// the same answer. Nil when the cache does not hold the decision.
	Memo *authz.Memo
	// memoed is what Memo held for the writer's encoder, loaded ahead of
	// the encoding (preload).
	memoed []byte
}

// Path is the decision's path in every event: the policy rule that decides.
const Path = "grantd/authz/decision"

// The fields that can be erased, as JSON pointers into an event.
const (
	maskSubject = 1 << iota
	maskResource
	maskLabels
	maskOptions
	maskSecrets
	maskGroups
	maskReason
	maskGrants
	maskRequestedBy
	maskCaller
	maskRequestID
)

// Maskable lists the fields Config.Mask may name.
var Maskable = map[string]int{
	"/input/subject":         maskSubject,
	"/input/resource":        maskResource,
	"/input/resource/labels": maskLabels,
	"/input/options":         maskOptions,
	"/input/secrets":         maskSecrets,
	"/input/groups":          maskGroups,
	"/result/reason":         maskReason,
	"/result/grants":         maskGrants,
	"/requested_by":          maskRequestedBy,
	"/custom/caller":         maskCaller,
	"/custom/request_id":     maskRequestID,
}

// mask is the set of erased fields, with the pointers each event lists in
// "erased", in the order given.
type mask struct {
	bits   int
	erased []string
}

func parseMask(paths []string) (mask, error) {
	var m mask
	for _, p := range paths {
		bit, ok := Maskable[p]
		if !ok {
			keys := make([]string, 0, len(Maskable))
			for k := range Maskable {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			return mask{}, fmt.Errorf("decision log: cannot mask %q; maskable fields: %v", p, keys)
		}
		if m.bits&bit == 0 {
			m.bits |= bit
			m.erased = append(m.erased, p)
		}
	}
	return m, nil
}

func (m mask) has(bit int) bool { return m.bits&bit != 0 }

// encoder turns records into events: OPA's decision-log event (EventV1)
// fields, with grantd's request as input and its decision as result.
//
// The fields that are the same from one event to the next come first and
// the ones that differ in every event (ID, time, latency) last, so that
// the HTTP sink's compressor finds long repeats.
type encoder struct {
	labels []byte // the encoded labels object
	mask   mask
	seq    uint64
	// idPrefix is the first half of every decision ID: random, drawn
	// once per logger.
	idPrefix [19]byte
	// second is the date and time of the last timestamp, to the second
	// (RFC 3339, UTC), and unix that second: a window's events share it.
	second []byte
	unix   int64
}

func newEncoder(labels map[string]string, m mask) *encoder {
	e := &encoder{mask: m, labels: appendMap(nil, labels)}
	var r [8]byte
	_, _ = rand.Read(r[:])
	r[6] = r[6]&0x0f | 0x80 // UUID version 8
	hex.Encode(e.idPrefix[0:8], r[0:4])
	e.idPrefix[8] = '-'
	hex.Encode(e.idPrefix[9:13], r[4:6])
	e.idPrefix[13] = '-'
	hex.Encode(e.idPrefix[14:18], r[6:8])
	e.idPrefix[18] = '-'
	return e
}

// decisionID is a UUID (version 8, RFC 9562): 64 random bits drawn once
// per logger, then the variant and the event's sequence number. IDs are
// unique across loggers as random UUIDs are, and cost no random draw per
// decision.
func (e *encoder) decisionID(b []byte) []byte {
	var u [8]byte
	binary.BigEndian.PutUint64(u[:], e.seq&(1<<62-1)|1<<63) // variant 10
	var s [17]byte
	hex.Encode(s[0:4], u[0:2])
	s[4] = '-'
	hex.Encode(s[5:], u[2:])
	b = append(b, '"')
	b = append(b, e.idPrefix[:]...)
	b = append(b, s[:]...)
	return append(b, '"')
}

// appendTime appends t as a JSON string, in RFC 3339 in UTC with nine
// digits of the second's fraction; the part to the second is formatted
// once a second.
func (e *encoder) appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	if sec := t.Unix(); sec != e.unix || e.second == nil {
		e.second, e.unix = t.AppendFormat(e.second[:0], "2006-01-02T15:04:05"), sec
	}
	b = append(b, '"')
	b = append(b, e.second...)
	var frac [12]byte // .nnnnnnnnnZ"
	frac[0], frac[10], frac[11] = '.', 'Z', '"'
	ns := t.Nanosecond()
	for i := 9; i >= 1; i-- {
		frac[i] = byte('0' + ns%10)
		ns /= 10
	}
	return append(b, frac[:]...)
}

// appendEvent appends r's event as one JSON object.
func (e *encoder) appendEvent(b []byte, r *Record) []byte {
	e.seq++
	m := e.mask
	b = append(b, `{"labels":`...)
	b = append(b, e.labels...)
	b = append(b, `,"path":"`+Path+`"`...)
	if len(m.erased) > 0 {
		b = append(b, `,"erased":`...)
		b = appendStrings(b, m.erased)
	}
	b = append(b, `,"bundles":{"grantd":{"revision":"`...)
	b = strconv.AppendUint(b, r.Decision.Revision, 10)
	b = append(b, `"}},"custom":{"interface":`...)
	b = appendString(b, r.Interface)
	if r.Caller.Kind != "" && !m.has(maskCaller) {
		b = append(b, `,"caller":`...)
		b = appendSubject(b, r.Caller)
	}
	if r.RequestID != "" && !m.has(maskRequestID) {
		b = append(b, `,"request_id":`...)
		b = appendString(b, r.RequestID)
	}
	b = append(b, `},"input":`...)
	b = e.appendInputResult(b, r)
	b = append(b, `,"revision":`...)
	b = strconv.AppendUint(b, r.Decision.Revision, 10)
	b = append(b, '}')
	if r.Address != nil && !m.has(maskRequestedBy) {
		b = append(b, `,"requested_by":`...)
		b = appendAddr(b, r.Address)
	}
	b = append(b, `,"decision_id":`...)
	b = e.decisionID(b)
	b = append(b, `,"timestamp":`...)
	b = e.appendTime(b, r.Time)
	b = append(b, `,"req_id":`...)
	b = strconv.AppendUint(b, e.seq, 10)
	b = append(b, `,"metrics":{"timer_grantd_decision_ns":`...)
	b = strconv.AppendInt(b, r.Latency.Nanoseconds(), 10)
	return append(b, `}}`...)
}

// preload loads the memos of a batch of records before any is encoded,
// and reads each memo's bytes once. The memos were last touched by the
// deciding goroutines, most of them long enough ago to have left every
// cache, and each is three loads that depend on each other (the memo, its
// value, its bytes); loaded one after the other, the misses of different
// records overlap, where the encoding of one record would wait for each
// in turn. It returns a sum of the bytes read, for nothing but to keep
// the reads.
func (e *encoder) preload(batch []Record) (sum byte) {
	for i := range batch {
		m := batch[i].Memo.Load(e)
		batch[i].memoed = m
		for j := 0; j < len(m); j += 64 {
			sum += m[j]
		}
	}
	return sum
}

// appendInputResult appends the input and the result, less the result's
// revision and its closing brace: what the decision cache's memo holds,
// the same for every answer the cache gives from one entry. A repeated
// question's event copies it, instead of reading and escaping the
// request's and the decision's strings again (most of an event's encoding,
// and a cache miss for each string).
func (e *encoder) appendInputResult(b []byte, r *Record) []byte {
	m := r.memoed
	if m == nil {
		m = r.Memo.Load(e)
	}
	if m != nil {
		return append(b, m...)
	}
	start := len(b)
	b = e.appendInput(b, &r.Request)
	b = append(b, `,"result":`...)
	b = e.appendResult(b, r)
	if r.Memo != nil {
		r.Memo.Store(e, slices.Clone(b[start:]))
	}
	return b
}

// appendInput appends the policy input of the request, as
// authz.Request.Input makes it, less the erased fields.
func (e *encoder) appendInput(b []byte, r *authz.Request) []byte {
	m := e.mask
	b = append(b, `{"operation":`...)
	b = appendString(b, r.Operation)
	if !m.has(maskSubject) {
		b = append(b, `,"subject":`...)
		b = appendSubject(b, r.Subject)
	}
	if !m.has(maskResource) {
		b = append(b, `,"resource":{`...)
		switch {
		case r.Kubernetes:
			b = append(b, `"namespace":`...)
			b = appendString(b, r.Namespace)
		case r.Repository != "":
			b = append(b, `"repository":`...)
			b = appendString(b, r.Repository)
		case r.Collection != "":
			b = append(b, `"collection":`...)
			b = appendString(b, r.Collection)
		case (r.HasLabels || r.Labels != nil) && !m.has(maskLabels):
			b = append(b, `"labels":`...)
			b = appendMap(b, r.Labels)
		}
		b = append(b, '}')
	}
	if len(r.Options) > 0 && !m.has(maskOptions) {
		b = append(b, `,"options":`...)
		b = appendStrings(b, r.Options)
	}
	if len(r.Secrets) > 0 && !m.has(maskSecrets) {
		b = append(b, `,"secrets":`...)
		b = appendStrings(b, r.Secrets)
	}
	if r.Kubernetes && len(r.Groups) > 0 && !m.has(maskGroups) {
		b = append(b, `,"groups":`...)
		b = appendStrings(b, r.Groups)
	}
	return append(b, '}')
}

// appendResult appends the decision: allowed, its code, a denial's
// reason, what it was about and the grants behind it; not the revision it
// was made at, nor the closing brace (appendEvent adds them).
//
// An allowed decision's reason is left out: it is a sentence made from
// the code, the input and the collection, all in the event ("user:maria
// holds container.view on /prod/api", "user:root is a system admin"), so
// it says nothing the event does not, and it was a ninth of an event's
// bytes. A denial keeps its reason, which can name what the rest does not
// (a stale node, a revision that did not arrive).
func (e *encoder) appendResult(b []byte, r *Record) []byte {
	d := &r.Decision
	b = append(b, `{"allowed":`...)
	b = strconv.AppendBool(b, d.Allowed)
	b = append(b, `,"code":`...)
	b = appendString(b, string(d.Code))
	if !d.Allowed && !e.mask.has(maskReason) {
		b = append(b, `,"reason":`...)
		b = appendString(b, d.Reason)
	}
	if d.Collection != "" {
		b = append(b, `,"collection":`...)
		b = appendString(b, d.Collection)
	}
	if len(d.Options) > 0 {
		b = append(b, `,"options":`...)
		b = appendStrings(b, d.Options)
	}
	if len(d.Secrets) > 0 {
		b = append(b, `,"secrets":`...)
		b = appendStrings(b, d.Secrets)
	}
	if len(r.Grants) > 0 && !e.mask.has(maskGrants) {
		b = append(b, `,"grants":`...)
		b = appendStrings(b, r.Grants)
	}
	return b
}

func appendStrings(b []byte, xs []string) []byte {
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, x)
	}
	return append(b, ']')
}

// appendMap appends a string map with its keys sorted.
func appendMap(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

// appendString appends s as a JSON string, as encoding/json writes it
// without html escapes (an event is no HTML page): one line, always.
func appendString(b []byte, s string) []byte { return plainjson.AppendString(b, s) }

// appendSubject appends s's canonical string as a JSON string, written in
// place and escaped only when it needs to be.
func appendSubject(b []byte, s subjects.Subject) []byte {
	b = append(b, '"')
	start := len(b)
	b, _ = s.AppendText(b)
	if !plainjson.Plain(b[start:]) {
		text := string(b[start:])
		b = plainjson.AppendEscaped(b[:start], text)
	}
	return append(b, '"')
}

// appendAddr appends a network address as a JSON string. A TCP address
// without a zone, as callers' addresses are, is written in place: its text
// is digits, dots, colons and brackets.
func appendAddr(b []byte, a net.Addr) []byte {
	if t, ok := a.(*net.TCPAddr); ok && t.Zone == "" && (len(t.IP) == net.IPv4len || len(t.IP) == net.IPv6len) {
		ap := t.AddrPort()
		b = append(b, '"')
		b = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).AppendTo(b)
		return append(b, '"')
	}
	return appendString(b, a.String())
}
