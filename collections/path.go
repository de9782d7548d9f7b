package collections

import (
	"errors"
	"fmt"
	"strings"
)

// MaxDepth is the deepest a collection may sit below the root.
const MaxDepth = 16

// MaxSegmentLen is the longest a single path segment may be.
const MaxSegmentLen = 100

// Root is the path of the root collection.
const Root = "/"

// ErrInvalidPath is wrapped by every error Parse returns.
var ErrInvalidPath = errors.New("invalid collection path")

// Parse validates a collection path and returns it in canonical form.
// A trailing slash is tolerated and removed ("/a/" becomes "/a"); anything
// else that is not already canonical is rejected rather than silently altered.
func Parse(p string) (string, error) {
	if p == Root {
		return Root, nil
	}
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%w: %q must start with /", ErrInvalidPath, p)
	}
	trimmed := strings.TrimSuffix(p, "/")
	segs := strings.Split(trimmed[1:], "/")
	if len(segs) > MaxDepth {
		return "", fmt.Errorf("%w: %q is deeper than %d levels", ErrInvalidPath, p, MaxDepth)
	}
	for _, s := range segs {
		if err := validSegment(s); err != nil {
			return "", fmt.Errorf("%w: %q: %v", ErrInvalidPath, p, err)
		}
	}
	return trimmed, nil
}

func validSegment(s string) error {
	switch {
	case s == "":
		return errors.New("empty segment")
	case s == "." || s == "..":
		return errors.New("segment . or .. is not allowed")
	case len(s) > MaxSegmentLen:
		return fmt.Errorf("segment longer than %d characters", MaxSegmentLen)
	}
	for i := 0; i < len(s); i++ {
		if !segmentChar(s[i]) {
			return fmt.Errorf("segment %q has a character outside [A-Za-z0-9._-]", s)
		}
	}
	return nil
}

func segmentChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}

// Parent returns the parent of a canonical path; the root's parent is "".
func Parent(p string) string {
	if p == Root || p == "" {
		return ""
	}
	i := strings.LastIndexByte(p, '/')
	if i == 0 {
		return Root
	}
	return p[:i]
}

// Name returns the last segment of a canonical path ("" for the root).
func Name(p string) string {
	if p == Root {
		return ""
	}
	return p[strings.LastIndexByte(p, '/')+1:]
}

// Depth is the number of segments below the root: 0 for "/", 1 for "/a".
func Depth(p string) int {
	if p == Root {
		return 0
	}
	return strings.Count(p, "/")
}

// Ancestors returns the path itself and every ancestor up to the root,
// nearest first: "/a/b" gives ["/a/b", "/a", "/"].
func Ancestors(p string) []string {
	out := make([]string, 0, Depth(p)+1)
	for q := p; q != ""; q = Parent(q) {
		out = append(out, q)
	}
	return out
}

// Join appends a segment to a canonical path without validating it.
func Join(parent, name string) string {
	if parent == Root {
		return "/" + name
	}
	return parent + "/" + name
}

// IsWithin reports whether p is base or one of its descendants.
func IsWithin(p, base string) bool {
	if base == Root || p == base {
		return true
	}
	return strings.HasPrefix(p, base+"/")
}
