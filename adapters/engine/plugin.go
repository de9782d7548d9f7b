package engine

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/subjects"
)

// Identity is the account a request comes from.
type Identity struct {
	// Subject is a user or a service account.
	Subject subjects.Subject
	IsAdmin bool
}

// Backend answers the plugin's questions; the server implements it from
// the state and the decision engine.
type Backend interface {
	// Identify maps the client certificate the daemon verified, and the
	// user name the daemon took from it, to an account: the certificate
	// must be one grantd issued and recorded, unrevoked, unexpired, of an
	// active account whose name is the CN.
	Identify(ctx context.Context, user string, cert *x509.Certificate) (Identity, error)
	// Decide asks the decision engine.
	Decide(ctx context.Context, r authz.Request) authz.Decision
}

// Config configures a Plugin.
type Config struct {
	// AllowLocalSocket lets requests that carry no user (the daemon's
	// local unix socket) through. Off by default.
	AllowLocalSocket bool
	// Observe, when set, is told about every decision of AuthZReq.
	Observe func(operation string, allowed bool, took time.Duration)
}

// Plugin serves the docker.authz/1.0 protocol.
type Plugin struct {
	cfg      Config
	backend  Backend
	resolver *Resolver
	log      *slog.Logger
}

// New returns a plugin. The resolver looks existing objects up through
// the engine API.
func New(cfg Config, backend Backend, resolver *Resolver, log *slog.Logger) *Plugin {
	return &Plugin{cfg: cfg, backend: backend, resolver: resolver, log: log}
}

// Request is the daemon's AuthZReq and AuthZRes body.
type Request struct {
	User                    string            `json:"User,omitempty"`
	UserAuthNMethod         string            `json:"UserAuthNMethod,omitempty"`
	RequestMethod           string            `json:"RequestMethod,omitempty"`
	RequestURI              string            `json:"RequestUri,omitempty"`
	RequestBody             []byte            `json:"RequestBody,omitempty"`
	RequestHeaders          map[string]string `json:"RequestHeaders,omitempty"`
	RequestPeerCertificates [][]byte          `json:"RequestPeerCertificates,omitempty"`
	ResponseStatusCode      int               `json:"ResponseStatusCode,omitempty"`
	ResponseBody            []byte            `json:"ResponseBody,omitempty"`
	ResponseHeaders         map[string]string `json:"ResponseHeaders,omitempty"`
}

// Response is the plugin's answer.
type Response struct {
	Allow bool   `json:"Allow"`
	Msg   string `json:"Msg,omitempty"`
	Err   string `json:"Err,omitempty"`
}

// maxRequest bounds a plugin call: the daemon sends bodies of up to 1 MiB,
// base64 encoded, plus headers and certificates.
const maxRequest = 4 << 20

// ServeHTTP serves the plugin endpoints.
func (p *Plugin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case "/Plugin.Activate":
		writeJSON(w, map[string][]string{"Implements": {"authz"}})
	case "/AuthZPlugin.AuthZReq":
		var req Request
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequest)).Decode(&req); err != nil {
			writeJSON(w, Response{Allow: false, Msg: "grantd: unreadable authorization request: " + err.Error()})
			return
		}
		writeJSON(w, p.AuthZReq(r.Context(), &req))
	case "/AuthZPlugin.AuthZRes":
		// Every decision is made on the request; responses pass.
		writeJSON(w, Response{Allow: true})
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/vnd.docker.plugins.v1.2+json")
	_ = json.NewEncoder(w).Encode(v)
}

// denial is a refusal with its reason.
type denial struct{ msg string }

func (d denial) Error() string { return d.msg }

func deny(format string, args ...any) error { return denial{fmt.Sprintf(format, args...)} }

// AuthZReq decides one daemon request. Any error is a denial with the
// reason in Msg.
func (p *Plugin) AuthZReq(ctx context.Context, req *Request) Response {
	start := time.Now()
	op, err := p.authorize(ctx, req)
	if p.cfg.Observe != nil {
		p.cfg.Observe(op, err == nil, time.Since(start))
	}
	if err != nil {
		msg := err.Error()
		var d denial
		if !errors.As(err, &d) {
			// Not a policy answer: an error on the way to one.
			p.log.WarnContext(ctx, "engine request denied on error", "user", req.User, "method", req.RequestMethod,
				"uri", req.RequestURI, "err", msg)
		}
		return Response{Allow: false, Msg: "grantd: " + msg}
	}
	return Response{Allow: true}
}

// authorize returns the request's operation (for metrics) and nil when
// allowed.
func (p *Plugin) authorize(ctx context.Context, req *Request) (string, error) {
	u, err := url.ParseRequestURI(req.RequestURI)
	if err != nil {
		return "unknown", deny("unreadable request URI")
	}
	rt, vars, ok := match(req.RequestMethod, u.Path)
	if !ok {
		p.log.WarnContext(ctx, "engine request on an unknown route denied", "method", req.RequestMethod, "path", u.Path)
		return "unknown", deny("%s %s is not a known Engine API route", req.RequestMethod, u.Path)
	}
	op := rt.op
	if op == "" {
		op = map[access]string{authenticated: "authenticated", adminOnly: "admin"}[rt.access]
	}
	if p.ownLookup(req, rt) {
		return op, nil
	}
	id, err := p.identify(ctx, req)
	if err != nil {
		return op, err
	}
	if id == nil { // the local socket, allowed by configuration
		return op, nil
	}
	switch rt.access {
	case authenticated:
		return op, nil
	case adminOnly:
		if !id.IsAdmin {
			return op, deny("%s %s is for system admins only", req.RequestMethod, u.Path)
		}
		return op, nil
	}
	_, err = p.decideCall(ctx, *id, rt, vars, u.Query(), req.RequestBody, false)
	return op, err
}

// answer is one question of a call with its decision.
type answer struct {
	ask authz.Request
	dec authz.Decision
	// stamp, on a create decided as if labelled (the proxy's), is the
	// collection the caller must write into the create's labels.
	stamp string
}

// decideCall asks every question an identified caller's call on a
// decided route raises; all must be allowed. It is the one decision path
// of the plugin and the proxy. stamps says whether the caller will write
// the access label into an unlabelled create (the proxy does): if not
// (the plugin alone), an unlabelled create is decided on "/", where the
// object will really live.
func (p *Plugin) decideCall(ctx context.Context, id Identity, rt *route, vars map[string]string, q url.Values,
	body []byte, stamps bool) ([]answer, error) {
	asks, err := p.questions(ctx, rt, vars, q, body)
	if err != nil {
		return nil, err
	}
	unlabelled := rt.target == fromBody && asks[0].Labels[collections.AccessLabel] == ""
	stamp := ""
	switch {
	case unlabelled && !stamps:
		asks[0].Labels, asks[0].HasLabels, asks[0].Collection = nil, false, collections.Root
	case unlabelled:
		// The object will carry the creator's default collection as its
		// label: decide it so (a service's secrets must be in the same
		// collection as the service, labelled like it).
		where := p.backend.Decide(ctx, authz.Request{Subject: id.Subject, Operation: asks[0].Operation, Labels: map[string]string{}, HasLabels: true})
		if where.Collection != "" {
			labels := maps.Clone(asks[0].Labels)
			if labels == nil {
				labels = map[string]string{}
			}
			labels[collections.AccessLabel] = where.Collection
			asks[0].Labels, unlabelled, stamp = labels, false, where.Collection
		}
	}
	out := make([]answer, 0, len(asks))
	for _, a := range asks {
		a.Subject = id.Subject
		d := p.backend.Decide(ctx, a)
		out = append(out, answer{ask: a, dec: d, stamp: stamp})
		stamp = "" // the first question is the create's
		if d.Allowed {
			continue
		}
		if d.Code == authz.CodeInternalError {
			return out, errors.New(d.Reason)
		}
		return out, denial{denialMessage(rt, a, d, unlabelled && !stamps)}
	}
	return out, nil
}

// denialMessage names the operation, the collection and what is missing.
func denialMessage(rt *route, a authz.Request, d authz.Decision, unlabelledCreate bool) string {
	where := d.Collection
	if where == "" {
		where = a.Collection
	}
	msg := fmt.Sprintf("%s denied on %s: %s", a.Operation, where, d.Reason)
	switch {
	case rt.list && d.Code == authz.CodeMissingOperation:
		msg += " (list calls need the view operation on / because the plugin protocol cannot filter a list; grantd's engine proxy filters lists)"
	case unlabelledCreate:
		msg += fmt.Sprintf(" (an object created without the %s label lives in /; add the label with a collection you may create in, or go through grantd's engine proxy, which writes your default collection into it)",
			collections.AccessLabel)
	}
	return msg
}

// ownLookup reports whether req is one of the resolver's own inspect calls.
func (p *Plugin) ownLookup(req *Request, rt *route) bool {
	if p.resolver == nil || req.RequestMethod != http.MethodGet || rt.pattern != lookupPaths[rt.target] {
		return false
	}
	got := req.RequestHeaders[LookupHeader]
	if got == "" {
		got = req.RequestHeaders[strings.ToLower(LookupHeader)]
	}
	if got == "" || p.resolver.secret == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(p.resolver.secret)) == 1
}

// identify maps the request's client certificate to an account; nil
// means the local socket, allowed by configuration.
func (p *Plugin) identify(ctx context.Context, req *Request) (*Identity, error) {
	if len(req.RequestPeerCertificates) == 0 {
		if req.User != "" {
			return nil, deny("user %q came without a client certificate", req.User)
		}
		if !p.cfg.AllowLocalSocket {
			return nil, deny("requests without a client certificate (the daemon's local socket) are not allowed")
		}
		return nil, nil
	}
	block, _ := pem.Decode(req.RequestPeerCertificates[0])
	if block == nil {
		return nil, deny("unreadable client certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, deny("unreadable client certificate: %v", err)
	}
	if req.User != cert.Subject.CommonName {
		return nil, deny("user %q is not the client certificate's CN", req.User)
	}
	id, err := p.backend.Identify(ctx, req.User, cert)
	if err != nil {
		return nil, deny("%v", err)
	}
	return &id, nil
}

// questions are the authorization requests one engine request needs, all
// of which must be allowed.
func (p *Plugin) questions(ctx context.Context, rt *route, vars map[string]string, q url.Values, body []byte) ([]authz.Request, error) {
	main := authz.Request{Operation: rt.op}
	var extra []authz.Request
	switch rt.target {
	case onRoot:
		main.Collection = collections.Root
	case fromBody:
		main.HasLabels = true
	default:
		obj, err := p.object(ctx, rt.target, firstVar(vars))
		if err != nil {
			return nil, err
		}
		main.Labels, main.HasLabels = obj.Labels, true
	}
	if rt.op == "image.remove" && boolValue(q.Get("force")) {
		main.Options = []string{optForce}
	}
	if rt.also != "" {
		c := q.Get("container")
		if c == "" {
			return nil, deny("commit names no container")
		}
		obj, err := p.object(ctx, container, c)
		if err != nil {
			return nil, err
		}
		extra = append(extra, authz.Request{Operation: rt.also, Labels: obj.Labels, HasLabels: true})
	}
	if rt.body != noBody {
		if len(body) == 0 {
			return nil, deny("the request body is not visible to the plugin (send it as application/json, under 1 MiB)")
		}
		more, err := p.fromBody(ctx, rt, &main, body)
		if err != nil {
			return nil, err
		}
		extra = append(extra, more...)
	}
	return append([]authz.Request{main}, extra...), nil
}

// fromBody fills main's labels and options from the request body and
// returns the further questions it raises.
func (p *Plugin) fromBody(ctx context.Context, rt *route, main *authz.Request, body []byte) ([]authz.Request, error) {
	bad := func(err error) error { return deny("unreadable request body: %v", err) }
	creating := rt.target == fromBody
	setLabels := func(l map[string]string) {
		if creating {
			main.Labels = l
			if main.Labels == nil {
				main.Labels = map[string]string{}
			}
		}
	}
	switch rt.body {
	case containerCreate:
		var b containerCreateBody
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, bad(err)
		}
		setLabels(b.Labels)
		main.Options = b.options()
	case networkCreate:
		var b networkCreateBody
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, bad(err)
		}
		setLabels(b.Labels)
		main.Options = b.options()
	case volumeCreate:
		var b volumeCreateBody
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, bad(err)
		}
		setLabels(b.Labels)
		main.Options = b.options()
	case labelsOnly:
		var b labelsBody
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, bad(err)
		}
		setLabels(b.Labels)
	case labelsUpdate:
		var b labelsBody
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, bad(err)
		}
		return moved(main, b.Labels), nil
	case containerRef:
		var b containerRefBody
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, bad(err)
		}
		obj, err := p.object(ctx, container, b.Container)
		if err != nil {
			return nil, err
		}
		op := strings.Replace(rt.op, "network.", "container.", 1)
		return []authz.Request{{Operation: op, Labels: obj.Labels, HasLabels: true}}, nil
	case serviceSpec:
		var b serviceSpecBody
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, bad(err)
		}
		setLabels(b.Labels)
		if err := p.serviceOptions(ctx, main, b); err != nil {
			return nil, err
		}
		if !creating {
			return moved(main, b.Labels), nil
		}
	}
	return nil, nil
}

// serviceOptions fills a service create or update's options and the
// collections of the secrets it uses.
func (p *Plugin) serviceOptions(ctx context.Context, main *authz.Request, b serviceSpecBody) error {
	if cs := b.TaskTemplate.ContainerSpec; cs != nil && len(cs.CapabilityAdd) > 0 {
		// No service option covers added capabilities.
		main.Options = append(main.Options, optKernelCaps)
	}
	main.Options = append(main.Options, b.options()...)
	nets, err := p.networkOptions(ctx, b.networkTargets())
	if err != nil {
		return err
	}
	main.Options = append(main.Options, nets...)
	for _, ref := range b.secretRefs() {
		obj, err := p.object(ctx, secret, ref)
		if err != nil {
			return err
		}
		path, err := collections.ForResource(obj.Labels, false, "")
		if err != nil {
			return deny("secret %s: %v", ref, err)
		}
		main.Secrets = append(main.Secrets, path)
	}
	return nil
}

// moved is the further question of an update that changes the object's
// access label: the same operation on the collection it moves to.
func moved(main *authz.Request, next map[string]string) []authz.Request {
	before, hadLabel := main.Labels[collections.AccessLabel]
	after, hasLabel := next[collections.AccessLabel]
	if before == after && hadLabel == hasLabel {
		return nil
	}
	if next == nil {
		next = map[string]string{}
	}
	return []authz.Request{{Operation: main.Operation, Labels: next, HasLabels: true, Options: main.Options, Secrets: main.Secrets}}
}

// networkOptions are the host and bridge networking options of a
// service's attachments, resolving network IDs to names.
func (p *Plugin) networkOptions(ctx context.Context, targets []string) ([]string, error) {
	var opts []string
	for _, t := range targets {
		name := t
		if t != "host" && t != "bridge" {
			obj, err := p.object(ctx, network, t)
			if err != nil {
				return nil, err
			}
			name = obj.Name
		}
		switch name {
		case "host":
			opts = append(opts, optHostNetworking)
		case "bridge":
			opts = append(opts, optBridgeNetworking)
		}
	}
	slices.Sort(opts)
	return slices.Compact(opts), nil
}

// object looks an existing object up; one that cannot be found or
// resolved is a denial.
func (p *Plugin) object(ctx context.Context, t target, id string) (object, error) {
	if p.resolver == nil {
		return object{}, deny("no engine API configured to look objects up")
	}
	if id == "" {
		return object{}, deny("the request names no object")
	}
	obj, err := p.resolver.lookup(ctx, t, id)
	if errors.Is(err, ErrNoSuchObject) {
		return object{}, deny("%s %q: no such object", kindName[t], id)
	}
	if err != nil {
		return object{}, fmt.Errorf("%s %q cannot be resolved: %w", kindName[t], id, err)
	}
	switch {
	case t == exec:
		return p.object(ctx, container, obj.ContainerID)
	case t == task:
		return p.object(ctx, service, obj.ServiceID)
	}
	return obj, nil
}

var kindName = map[target]string{container: "container", exec: "exec instance", service: "service", task: "task",
	network: "network", volume: "volume", secret: "secret", config: "config", node: "node"}

func firstVar(vars map[string]string) string {
	for _, k := range []string{"id", "name"} {
		if v, ok := vars[k]; ok {
			return v
		}
	}
	return ""
}
