package server

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/grantd/grantd/rights"
)

// PolicyBundlePath serves the policy bundle the way OPA's bundle plugin
// downloads it: the gzipped tarball itself, with the revision of the last
// change of the compiled state as its ETag, and 304 Not Modified when the
// agent's If-None-Match names the current one. Stock OPA agents configured
// with this service and resource decide locally, with grantd as the
// source of truth. The bundle holds the whole compiled state (every
// grant, every member), so it is for system admins and for service
// accounts holding the authorize capability (decision services).
const PolicyBundlePath = "/v1/policy/bundle.tar.gz"

// bundleServer builds the bundle once per state and hands the same bytes
// to every agent that polls.
type bundleServer struct {
	mu      sync.Mutex
	changed uint64
	bytes   []byte
}

func bundleETag(changed uint64) string { return fmt.Sprintf(`"grantd-%d"`, changed) }

// knownETag reads the revision an agent already holds from If-None-Match
// (MaxUint64: none).
func knownETag(h string) uint64 {
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if n, ok := strings.CutPrefix(strings.Trim(tag, `"`), "grantd-"); ok {
			if v, err := strconv.ParseUint(n, 10, 64); err == nil {
				return v
			}
		}
	}
	return math.MaxUint64
}

func (s *Server) policyBundle(w http.ResponseWriter, r *http.Request) {
	if err := rights.PolicyBundleReader(principalFrom(r.Context())); err != nil {
		http.Error(w, err.Error()+"\n", http.StatusForbidden)
		return
	}
	known := knownETag(r.Header.Get("If-None-Match"))
	b, changed, unchanged, err := s.bundles.get(s, known)
	if err != nil {
		s.log.Error("serving the policy bundle", "err", err)
		http.Error(w, "the bundle could not be built; the server log has the cause\n", http.StatusInternalServerError)
		return
	}
	w.Header().Set("ETag", bundleETag(changed))
	w.Header().Set("Cache-Control", "no-cache")
	if unchanged {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

func (c *bundleServer) get(s *Server, known uint64) ([]byte, uint64, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	held := c.changed
	if c.bytes == nil {
		held = math.MaxUint64 // nothing built yet
	}
	// What this server last built is still current unless the state moved
	// since: ServeBundle says so without building.
	b, changed, unchanged, err := s.engine.ServeBundle(held, s.cfg.BundleSigner)
	if err != nil {
		return nil, 0, false, err
	}
	if !unchanged {
		c.changed, c.bytes = changed, b
	}
	return c.bytes, c.changed, c.changed == known, nil
}
