package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/subjects"
)

// Lists and the event stream, filtered down to what the caller may view.
// An object's collection is its access label; one without a label is in
// "/". Items whose collection cannot be told are left out (fail closed).
// Nothing of a hidden object shows: not its name, not the count.

// listKind says where one list's items keep their labels.
type listKind int

const (
	topLabels  listKind = iota // containers, networks, volumes: .Labels
	specLabels                 // services, secrets, configs, nodes: .Spec.Labels
	ofService                  // tasks: the labels of their service
)

var listKinds = map[string]listKind{
	"/containers/json": topLabels, "/networks": topLabels, "/volumes": topLabels,
	"/services": specLabels, "/secrets": specLabels, "/configs": specLabels, "/nodes": specLabels,
	"/tasks": ofService,
}

// listItem is what filtering reads of one item.
type listItem struct {
	Labels    map[string]string
	Spec      *struct{ Labels map[string]string }
	ServiceID string
}

// viewer decides, for one caller and one operation, whether an object
// with given labels may be viewed, deciding once per collection.
type viewer struct {
	ctx     context.Context
	backend Backend
	subject subjects.Subject
	op      string
	seen    map[string]bool // access label value -> allowed
}

func (v *viewer) may(labels map[string]string) bool {
	key, labelled := labels[collections.AccessLabel]
	if !labelled {
		key = "\x00none"
	}
	if ok, done := v.seen[key]; done {
		return ok
	}
	l := map[string]string{}
	if labelled {
		l[collections.AccessLabel] = key
	}
	d := v.backend.Decide(v.ctx, authz.Request{Subject: v.subject, Operation: v.op, Labels: l, HasLabels: true})
	v.seen[key] = d.Allowed
	return d.Allowed
}

// filterList keeps the items of a list answer the caller may view.
func (px *Proxy) filterList(ctx context.Context, id Identity, rt *route, raw []byte) ([]byte, error) {
	kind, ok := listKinds[rt.pattern]
	if !ok {
		return nil, deny("%s cannot be filtered", rt.pattern)
	}
	v := &viewer{ctx: ctx, backend: px.plugin.backend, subject: id.Subject, op: rt.op, seen: map[string]bool{}}
	if rt.pattern == "/volumes" {
		// {"Volumes": [...], "Warnings": [...]}; anything else the engine
		// might add is left out rather than passed on unread.
		var doc struct {
			Volumes  []rawItem
			Warnings json.RawMessage
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, errors.New("the engine's volume list is unreadable")
		}
		out := []byte(`{"Volumes":`)
		out = px.keep(ctx, v, kind, doc.Volumes, out)
		if len(doc.Warnings) > 0 {
			out = append(append(out, `,"Warnings":`...), doc.Warnings...)
		}
		return append(out, '}'), nil
	}
	var items []rawItem
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, errors.New("the engine's list is unreadable")
	}
	return px.keep(ctx, v, kind, items, make([]byte, 0, len(raw)/2)), nil
}

// rawItem is one item of a list answer: the engine's JSON of it, passed
// on as it came, and what filtering reads of it, decoded in the same pass
// over the answer. An item that cannot be read is kept out.
type rawItem struct {
	raw []byte
	it  listItem
}

func (r *rawItem) UnmarshalJSON(b []byte) error {
	r.raw = append([]byte(nil), b...)
	if json.Unmarshal(b, &r.it) != nil {
		r.raw = nil
	}
	return nil
}

// keep appends to out the JSON array of the items the caller may view.
func (px *Proxy) keep(ctx context.Context, v *viewer, kind listKind, items []rawItem, out []byte) []byte {
	out = append(out, '[')
	first := true
	for _, item := range items {
		if item.raw == nil {
			continue // unreadable: not shown
		}
		labels, ok := px.labelsOf(ctx, kind, item.it)
		if !ok || !v.may(labels) {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		out, first = append(out, item.raw...), false
	}
	return append(out, ']')
}

// labelsOf is an item's labels; ok is false when they cannot be told.
func (px *Proxy) labelsOf(ctx context.Context, kind listKind, it listItem) (map[string]string, bool) {
	switch kind {
	case specLabels:
		if it.Spec == nil {
			return map[string]string{}, true
		}
		return it.Spec.Labels, true
	case ofService:
		svc, err := px.plugin.object(ctx, service, it.ServiceID)
		return svc.Labels, err == nil
	}
	return it.Labels, true
}

// event is what filtering reads of one engine event.
type event struct {
	Type  string
	Actor struct {
		ID         string
		Attributes map[string]string
	}
}

// eventTargets are the kinds of event an ordinary caller may see, with
// the view operation and how the object is looked up. Container events
// carry the container's labels in their attributes; other objects are
// looked up (an object already gone cannot be placed, and is not shown).
var eventTargets = map[string]struct {
	op     string
	lookup target
}{
	"container": {"container.view", container}, "network": {"network.view", network},
	"volume": {"volume.view", volume}, "service": {"service.view", service}, "secret": {"secret.view", secret},
	"config": {"config.view", config}, "node": {"node.view", node},
}

// streamEvents passes on the events the caller may view, one by one.
func (px *Proxy) streamEvents(w http.ResponseWriter, resp *http.Response, id Identity) {
	copyHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	ctx := resp.Request.Context()
	viewers := map[string]*viewer{}
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return // the stream ended, or the caller left
		}
		var ev event
		if json.Unmarshal(raw, &ev) != nil {
			continue
		}
		t, ok := eventTargets[ev.Type]
		if !ok {
			continue // image, daemon, plugin, builder events: admins only
		}
		v := viewers[t.op]
		if v == nil {
			v = &viewer{ctx: ctx, backend: px.plugin.backend, subject: id.Subject, op: t.op, seen: map[string]bool{}}
			viewers[t.op] = v
		}
		labels := ev.Actor.Attributes
		if ev.Type != "container" {
			obj, err := px.plugin.object(ctx, t.lookup, ev.Actor.ID)
			if err != nil {
				continue
			}
			labels = obj.Labels
		}
		if !v.may(labels) {
			continue
		}
		if _, err := w.Write(append(raw, '\n')); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}
