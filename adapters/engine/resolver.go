package engine

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// LookupHeader carries the resolver's secret on its own engine API calls.
// The daemon asks the plugin about those calls too; the plugin lets
// through exactly its own inspect calls and nothing else.
const LookupHeader = "X-Grantd-Lookup"

// object is what the plugin needs of an existing engine object.
type object struct {
	Labels map[string]string
	// Name of a network (host and bridge are options).
	Name string
	// ContainerID of an exec instance; ServiceID of a task.
	ContainerID string
	ServiceID   string
}

// ErrNoSuchObject is a lookup of an object the engine does not have.
var ErrNoSuchObject = errors.New("no such object")

// Resolver looks objects up through the engine's own API, with a short
// cache. Errors are never cached.
type Resolver struct {
	base   string
	client *http.Client
	secret string
	ttl    time.Duration
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	obj     object
	expires time.Time
}

// maxCached bounds the cache; when full it starts over.
const maxCached = 10000

// NewResolver looks objects up through the engine API at the first of
// engines that answers (unix:///path/docker.sock, or tcp://host:port, over
// TLS when tlsConfig is not nil): the same endpoints, dialled the same
// way, as the proxy's. secret marks the resolver's calls for the plugin;
// ttl is how long a lookup is reused.
func NewResolver(engines []string, tlsConfig *tls.Config, secret string, ttl time.Duration) (*Resolver, error) {
	dial, err := dialer(engines, tlsConfig)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 16, IdleConnTimeout: time.Minute}
	return &Resolver{client: &http.Client{Transport: tr, Timeout: 5 * time.Second}, secret: secret, ttl: ttl,
		now: time.Now, cache: map[string]cached{}, base: "http://" + engineHost}, nil
}

// lookup returns the object of kind t named id.
func (r *Resolver) lookup(ctx context.Context, t target, id string) (object, error) {
	pattern, ok := lookupPaths[t]
	if !ok || id == "" {
		return object{}, fmt.Errorf("nothing to look up")
	}
	p := strings.NewReplacer("{id}", url.PathEscape(id), "{name}", url.PathEscape(id)).Replace(pattern)
	now := r.now()
	r.mu.Lock()
	c, hit := r.cache[p]
	r.mu.Unlock()
	if hit && now.Before(c.expires) {
		return c.obj, nil
	}
	obj, err := r.fetch(ctx, t, p)
	if err != nil {
		return object{}, err
	}
	r.mu.Lock()
	if len(r.cache) >= maxCached {
		clear(r.cache)
	}
	r.cache[p] = cached{obj: obj, expires: now.Add(r.ttl)}
	r.mu.Unlock()
	return obj, nil
}

func (r *Resolver) fetch(ctx context.Context, t target, p string) (object, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+p, nil)
	if err != nil {
		return object{}, err
	}
	req.Header.Set(LookupHeader, r.secret)
	resp, err := r.client.Do(req)
	if err != nil {
		return object{}, fmt.Errorf("engine API: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return object{}, fmt.Errorf("engine API: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return object{}, ErrNoSuchObject
	case resp.StatusCode != http.StatusOK:
		return object{}, fmt.Errorf("engine API answered %d: %s", resp.StatusCode, strings.TrimSpace(string(body[:min(len(body), 200)])))
	}
	// Where each kind keeps its labels in the engine's inspect output.
	var raw struct {
		Labels map[string]string
		Config *struct{ Labels map[string]string }
		Spec   *struct{ Labels map[string]string }
		Name   string
		// exec and task
		ContainerID string
		ServiceID   string
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return object{}, fmt.Errorf("engine API: %w", err)
	}
	obj := object{Name: raw.Name, ContainerID: raw.ContainerID, ServiceID: raw.ServiceID}
	switch t {
	case container:
		if raw.Config != nil {
			obj.Labels = raw.Config.Labels
		}
	case service, secret, config, node:
		if raw.Spec != nil {
			obj.Labels = raw.Spec.Labels
		}
	case network, volume:
		obj.Labels = raw.Labels
	}
	if obj.Labels == nil {
		obj.Labels = map[string]string{}
	}
	return obj, nil
}
