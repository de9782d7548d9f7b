package engine

import (
	"path"
	"regexp"
	"strings"
)

// access is what a route needs besides a decision.
type access int

const (
	// decide asks the decision engine for the route's operation.
	decide access = iota
	// authenticated needs only a known, active caller (ping, version, info).
	authenticated
	// adminOnly is for system admins: node-wide or swarm-wide calls that no
	// operation of the catalog covers (swarm membership, plugins, prunes).
	adminOnly
)

// target says where the collection of a route's resource comes from.
type target int

const (
	// onRoot: cluster-wide resources (images, events) and list calls,
	// decided on "/": the plugin protocol cannot filter a list response.
	onRoot target = iota
	// fromBody: a create; the collection is the access label in the body.
	fromBody
	// Existing objects, looked up through the engine API by the route's
	// {id} or {name}.
	container
	exec
	service
	task
	network
	volume
	secret
	config
	node
)

// body is how a route's request body adds options or further decisions.
type body int

const (
	noBody body = iota
	containerCreate
	serviceSpec
	networkCreate
	volumeCreate
	labelsOnly   // secret and config create
	labelsUpdate // node, secret and config update: may move the object
	containerRef // network connect/disconnect: {"Container": ...}
)

// route maps an Engine API method and path to what the plugin checks.
type route struct {
	method  string
	pattern string
	op      string
	access  access
	target  target
	body    body
	// list marks list calls, for the denial message.
	list bool
	// also is a second operation on the container named by the query
	// parameter "container" (commit).
	also string

	segments []string
}

// The complete route table of the Engine API (v1.51, plus the daemon's
// unversioned /grpc and /session used by BuildKit). Every method and path
// of the API's swagger definition is here; TestRouteTableCoversSwagger
// holds the table to account. Anything not matched is denied.
//
// Path parameters: {x} matches one segment; {x*} one or more (image and
// plugin references contain slashes).
var routes = compile([]route{
	// Containers.
	{method: "GET", pattern: "/containers/json", op: "container.view", list: true},
	{method: "POST", pattern: "/containers/create", op: "container.create", target: fromBody, body: containerCreate},
	{method: "POST", pattern: "/containers/prune", access: adminOnly},
	{method: "GET", pattern: "/containers/{id}/json", op: "container.view", target: container},
	{method: "GET", pattern: "/containers/{id}/top", op: "container.top", target: container},
	{method: "GET", pattern: "/containers/{id}/logs", op: "container.logs", target: container},
	{method: "GET", pattern: "/containers/{id}/changes", op: "container.changes", target: container},
	{method: "GET", pattern: "/containers/{id}/export", op: "container.export", target: container},
	{method: "GET", pattern: "/containers/{id}/stats", op: "container.stats", target: container},
	{method: "POST", pattern: "/containers/{id}/resize", op: "container.resize", target: container},
	{method: "POST", pattern: "/containers/{id}/start", op: "container.start", target: container},
	{method: "POST", pattern: "/containers/{id}/stop", op: "container.stop", target: container},
	{method: "POST", pattern: "/containers/{id}/restart", op: "container.restart", target: container},
	{method: "POST", pattern: "/containers/{id}/kill", op: "container.kill", target: container},
	// Changing a container's resources and restart policy has no
	// operation in the catalog.
	{method: "POST", pattern: "/containers/{id}/update", access: adminOnly},
	{method: "POST", pattern: "/containers/{id}/rename", op: "container.rename", target: container},
	{method: "POST", pattern: "/containers/{id}/pause", op: "container.pause", target: container},
	{method: "POST", pattern: "/containers/{id}/unpause", op: "container.unpause", target: container},
	{method: "POST", pattern: "/containers/{id}/attach", op: "container.attach", target: container},
	{method: "GET", pattern: "/containers/{id}/attach/ws", op: "container.attach", target: container},
	{method: "POST", pattern: "/containers/{id}/wait", op: "container.wait", target: container},
	{method: "DELETE", pattern: "/containers/{id}", op: "container.remove", target: container},
	{method: "HEAD", pattern: "/containers/{id}/archive", op: "container.fs_read", target: container},
	{method: "GET", pattern: "/containers/{id}/archive", op: "container.fs_read", target: container},
	{method: "PUT", pattern: "/containers/{id}/archive", op: "container.fs_write", target: container},
	{method: "POST", pattern: "/containers/{id}/exec", op: "container.exec", target: container},
	{method: "POST", pattern: "/exec/{id}/start", op: "container.exec", target: exec},
	{method: "POST", pattern: "/exec/{id}/resize", op: "container.exec", target: exec},
	{method: "GET", pattern: "/exec/{id}/json", op: "container.view", target: exec},

	// Images: node-wide, not placed in collections; decided on "/".
	{method: "GET", pattern: "/images/json", op: "image.view", list: true},
	{method: "POST", pattern: "/build", op: "image.build"},
	{method: "POST", pattern: "/build/prune", access: adminOnly},
	{method: "POST", pattern: "/session", op: "image.build"},
	{method: "POST", pattern: "/grpc", op: "image.build"},
	{method: "POST", pattern: "/images/create", op: "image.create"},
	{method: "GET", pattern: "/images/search", op: "image.search"},
	{method: "POST", pattern: "/images/prune", op: "image.prune"},
	{method: "GET", pattern: "/images/get", op: "image.export"},
	{method: "POST", pattern: "/images/load", op: "image.load"},
	{method: "GET", pattern: "/images/{name*}/json", op: "image.view"},
	{method: "GET", pattern: "/images/{name*}/history", op: "image.history"},
	{method: "POST", pattern: "/images/{name*}/push", op: "image.push"},
	{method: "POST", pattern: "/images/{name*}/tag", op: "image.tag"},
	{method: "GET", pattern: "/images/{name*}/get", op: "image.export"},
	{method: "DELETE", pattern: "/images/{name*}", op: "image.remove"},
	{method: "POST", pattern: "/commit", op: "image.commit", also: "container.export"},
	{method: "GET", pattern: "/distribution/{name*}/json", op: "image.view"},

	// System.
	{method: "POST", pattern: "/auth", access: authenticated},
	{method: "GET", pattern: "/info", access: authenticated},
	{method: "GET", pattern: "/version", access: authenticated},
	{method: "GET", pattern: "/_ping", access: authenticated},
	{method: "HEAD", pattern: "/_ping", access: authenticated},
	// Events of every object on the node: a list call.
	{method: "GET", pattern: "/events", op: "container.view", list: true},
	// Disk usage of every container, image and volume.
	{method: "GET", pattern: "/system/df", access: adminOnly},

	// Volumes.
	{method: "GET", pattern: "/volumes", op: "volume.view", list: true},
	{method: "POST", pattern: "/volumes/create", op: "volume.create", target: fromBody, body: volumeCreate},
	{method: "POST", pattern: "/volumes/prune", access: adminOnly},
	{method: "GET", pattern: "/volumes/{name}", op: "volume.view", target: volume},
	// Cluster volume update: no operation in the catalog.
	{method: "PUT", pattern: "/volumes/{name}", access: adminOnly},
	{method: "DELETE", pattern: "/volumes/{name}", op: "volume.remove", target: volume},

	// Networks.
	{method: "GET", pattern: "/networks", op: "network.view", list: true},
	{method: "POST", pattern: "/networks/create", op: "network.create", target: fromBody, body: networkCreate},
	{method: "POST", pattern: "/networks/prune", access: adminOnly},
	{method: "GET", pattern: "/networks/{id}", op: "network.view", target: network},
	{method: "DELETE", pattern: "/networks/{id}", op: "network.remove", target: network},
	{method: "POST", pattern: "/networks/{id}/connect", op: "network.connect", target: network, body: containerRef},
	{method: "POST", pattern: "/networks/{id}/disconnect", op: "network.disconnect", target: network, body: containerRef},

	// Plugins run with the node's privileges: system admins only.
	{method: "GET", pattern: "/plugins", access: adminOnly},
	{method: "GET", pattern: "/plugins/privileges", access: adminOnly},
	{method: "POST", pattern: "/plugins/pull", access: adminOnly},
	{method: "POST", pattern: "/plugins/create", access: adminOnly},
	{method: "GET", pattern: "/plugins/{name*}/json", access: adminOnly},
	{method: "DELETE", pattern: "/plugins/{name*}", access: adminOnly},
	{method: "POST", pattern: "/plugins/{name*}/enable", access: adminOnly},
	{method: "POST", pattern: "/plugins/{name*}/disable", access: adminOnly},
	{method: "POST", pattern: "/plugins/{name*}/upgrade", access: adminOnly},
	{method: "POST", pattern: "/plugins/{name*}/push", access: adminOnly},
	{method: "POST", pattern: "/plugins/{name*}/set", access: adminOnly},

	// Nodes.
	{method: "GET", pattern: "/nodes", op: "node.view", list: true},
	{method: "GET", pattern: "/nodes/{id}", op: "node.view", target: node},
	{method: "DELETE", pattern: "/nodes/{id}", access: adminOnly},
	{method: "POST", pattern: "/nodes/{id}/update", op: "node.update", target: node, body: labelsUpdate},

	// Swarm membership and keys (GET /swarm returns the join tokens).
	{method: "GET", pattern: "/swarm", access: adminOnly},
	{method: "POST", pattern: "/swarm/init", access: adminOnly},
	{method: "POST", pattern: "/swarm/join", access: adminOnly},
	{method: "POST", pattern: "/swarm/leave", access: adminOnly},
	{method: "POST", pattern: "/swarm/update", access: adminOnly},
	{method: "GET", pattern: "/swarm/unlockkey", access: adminOnly},
	{method: "POST", pattern: "/swarm/unlock", access: adminOnly},

	// Services and tasks.
	{method: "GET", pattern: "/services", op: "service.view", list: true},
	{method: "POST", pattern: "/services/create", op: "service.create", target: fromBody, body: serviceSpec},
	{method: "GET", pattern: "/services/{id}", op: "service.view", target: service},
	{method: "DELETE", pattern: "/services/{id}", op: "service.delete", target: service},
	{method: "POST", pattern: "/services/{id}/update", op: "service.update", target: service, body: serviceSpec},
	{method: "GET", pattern: "/services/{id}/logs", op: "service.logs", target: service},
	{method: "GET", pattern: "/tasks", op: "service.view_tasks", list: true},
	{method: "GET", pattern: "/tasks/{id}", op: "service.view_tasks", target: task},
	{method: "GET", pattern: "/tasks/{id}/logs", op: "service.logs", target: task},

	// Secrets and configs.
	{method: "GET", pattern: "/secrets", op: "secret.view", list: true},
	{method: "POST", pattern: "/secrets/create", op: "secret.create", target: fromBody, body: labelsOnly},
	{method: "GET", pattern: "/secrets/{id}", op: "secret.view", target: secret},
	{method: "DELETE", pattern: "/secrets/{id}", op: "secret.delete", target: secret},
	{method: "POST", pattern: "/secrets/{id}/update", op: "secret.update", target: secret, body: labelsUpdate},
	{method: "GET", pattern: "/configs", op: "config.view", list: true},
	{method: "POST", pattern: "/configs/create", op: "config.create", target: fromBody, body: labelsOnly},
	{method: "GET", pattern: "/configs/{id}", op: "config.view", target: config},
	{method: "DELETE", pattern: "/configs/{id}", op: "config.delete", target: config},
	{method: "POST", pattern: "/configs/{id}/update", op: "config.update", target: config, body: labelsUpdate},
})

// lookupPaths are the inspect calls the plugin's own resolver makes, one
// per kind of object; the daemon asks the plugin about them too, and they
// carry the resolver's secret header.
var lookupPaths = map[target]string{
	container: "/containers/{id}/json", exec: "/exec/{id}/json", service: "/services/{id}", task: "/tasks/{id}",
	network: "/networks/{id}", volume: "/volumes/{name}", secret: "/secrets/{id}", config: "/configs/{id}", node: "/nodes/{id}",
}

func compile(rs []route) []route {
	for i := range rs {
		rs[i].segments = strings.Split(strings.Trim(rs[i].pattern, "/"), "/")
	}
	return rs
}

var versionPrefix = regexp.MustCompile(`^/v[0-9][0-9.]*/`)

// match finds the route of method and a request path (already without
// its query). The API version prefix is stripped; paths that are not
// canonical (dot segments, double slashes) match nothing.
func match(method, p string) (*route, map[string]string, bool) {
	if loc := versionPrefix.FindStringIndex(p); loc != nil {
		p = p[loc[1]-1:]
	}
	if p == "" || p[0] != '/' || path.Clean(p) != p {
		return nil, nil, false
	}
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for i := range routes {
		r := &routes[i]
		if r.method != method {
			continue
		}
		vars := map[string]string{}
		if matchSegments(r.segments, segs, vars) {
			return r, vars, true
		}
	}
	return nil, nil, false
}

func matchSegments(pat, segs []string, vars map[string]string) bool {
	if len(pat) == 0 {
		return len(segs) == 0
	}
	if len(segs) == 0 {
		return false
	}
	head := pat[0]
	if strings.HasPrefix(head, "{") && strings.HasSuffix(head, "*}") {
		name := head[1 : len(head)-2]
		// Greedy: the longest run of segments that lets the rest match.
		for n := len(segs) - len(pat) + 1; n >= 1; n-- {
			if matchSegments(pat[1:], segs[n:], vars) {
				vars[name] = strings.Join(segs[:n], "/")
				return true
			}
		}
		return false
	}
	if strings.HasPrefix(head, "{") && strings.HasSuffix(head, "}") {
		if segs[0] == "" {
			return false
		}
		if !matchSegments(pat[1:], segs[1:], vars) {
			return false
		}
		vars[head[1:len(head)-1]] = segs[0]
		return true
	}
	return head == segs[0] && matchSegments(pat[1:], segs[1:], vars)
}
