package collections

// NodeAllowedIn reports whether a node may be placed in collection p:
// only under /Shared or /System unless node isolation is on.
func NodeAllowedIn(p string, nodeIsolation bool) bool {
	if nodeIsolation {
		return true
	}
	return IsWithin(p, Shared) || IsWithin(p, System)
}

// NodeMovable reports whether a node in collection p may be moved:
// nodes in /System stay where they are.
func NodeMovable(p string) bool {
	return !IsWithin(p, System)
}
