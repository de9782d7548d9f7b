package subjects

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/grantd/grantd/collections"
)

// ObjectKind is the kind of a grant object.
type ObjectKind string

// The grant object kinds.
const (
	CollectionObject ObjectKind = "collection"
	RepositoryObject ObjectKind = "repository"
	NamespaceObject  ObjectKind = "namespace"
)

// ErrInvalidObject is wrapped by every object parsing error.
var ErrInvalidObject = errors.New("invalid object")

// Object is a parsed grant object string.
type Object struct {
	Kind ObjectKind
	// Path is the collection path, "<namespace>/<name>" for a repository, or
	// the namespace.
	Path string
}

// String returns the canonical object string.
func (o Object) String() string { return string(o.Kind) + ":" + o.Path }

// AppendText appends the canonical object string (String) to b, without
// making the string (encoding.TextAppender).
func (o Object) AppendText(b []byte) ([]byte, error) {
	b = append(b, o.Kind...)
	b = append(b, ':')
	return append(b, o.Path...), nil
}

// ParseObject parses and validates a grant object string.
func ParseObject(in string) (Object, error) {
	kind, rest, ok := strings.Cut(in, ":")
	if !ok {
		return Object{}, fmt.Errorf("%w: %q is not of the form kind:path", ErrInvalidObject, in)
	}
	o := Object{Kind: ObjectKind(kind)}
	var err error
	switch o.Kind {
	case CollectionObject:
		o.Path, err = collections.Parse(rest)
	case RepositoryObject:
		o.Path, err = rest, ValidRepository(rest)
	case NamespaceObject:
		o.Path, err = rest, validNamespaceObject(rest)
	default:
		return Object{}, fmt.Errorf("%w: unknown object kind %q", ErrInvalidObject, kind)
	}
	if err != nil {
		return Object{}, fmt.Errorf("%w: %w", ErrInvalidObject, err)
	}
	return o, nil
}

// AllNamespaces is the path of the Kubernetes object "namespace:*": every
// Kubernetes namespace, and the cluster-scoped resources. The registry has
// no such namespace.
const AllNamespaces = "*"

// validNamespaceObject checks the path of a namespace object: a registry
// namespace or a Kubernetes namespace (the same object names both, and the
// operations of a grant's role say which it reaches), or AllNamespaces.
func validNamespaceObject(ns string) error {
	if ns == AllNamespaces || ValidKubernetesNamespace(ns) == nil {
		return nil
	}
	return ValidNamespace(ns)
}

// ValidNamespace checks a registry namespace, which is a user or org name.
// Namespaces are used in registry scopes and URLs, so the stricter org-name
// alphabet applies to both.
func ValidNamespace(ns string) error {
	if err := ValidOrgName(ns); err != nil {
		return fmt.Errorf("namespace: %w", err)
	}
	return nil
}

// ValidRepository checks "<namespace>/<name>"; the name follows the
// distribution spec's path-component grammar in lower case.
func ValidRepository(full string) error {
	ns, name, ok := strings.Cut(full, "/")
	if !ok {
		return fmt.Errorf("%w: repository %q must be <namespace>/<name>", ErrInvalidName, full)
	}
	if err := ValidNamespace(ns); err != nil {
		return err
	}
	return ValidRepositoryName(name)
}

// repositoryName is the distribution spec's path-component grammar.
var repositoryName = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$`)

// ValidRepositoryName checks a repository name: lower-case alphanumerics
// separated by '.', '_', '__' or runs of '-', at most 255 characters.
func ValidRepositoryName(name string) error {
	if len(name) > 255 || !repositoryName.MatchString(name) {
		return fmt.Errorf("%w: repository name %q must be 1-255 lower-case alphanumerics separated by '.', '_', '__' or '-'", ErrInvalidName, name)
	}
	return nil
}

// CollectionOf is the object of a collection.
func CollectionOf(path string) Object { return Object{Kind: CollectionObject, Path: path} }

// RepositoryOf is the object of a repository.
func RepositoryOf(namespace, name string) Object {
	return Object{Kind: RepositoryObject, Path: namespace + "/" + name}
}

// NamespaceOf is the object of a registry namespace.
func NamespaceOf(namespace string) Object { return Object{Kind: NamespaceObject, Path: namespace} }

// CollectionPath is the path of a collection object; ok is false for
// other objects.
func (o Object) CollectionPath() (path string, ok bool) {
	return o.Path, o.Kind == CollectionObject
}

// IsZero reports whether o is the zero Object (no object at all).
func (o Object) IsZero() bool { return o == Object{} }

// MarshalText writes the canonical string.
func (o Object) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText reads an object the state holds: a known kind and a
// non-empty path, without the naming rules (see Subject.UnmarshalText).
func (o *Object) UnmarshalText(b []byte) error {
	p, err := ParseStoredObject(string(b))
	if err == nil {
		*o = p
	}
	return err
}

// ParseStoredObject reads an object string grantd itself wrote: a known
// kind and a non-empty path, without the naming rules (see ParseStored).
func ParseStoredObject(in string) (Object, error) {
	kind, rest, ok := strings.Cut(in, ":")
	if !ok || rest == "" {
		return Object{}, fmt.Errorf("%w: %q is not of the form kind:path", ErrInvalidObject, in)
	}
	switch k := ObjectKind(kind); k {
	case CollectionObject, RepositoryObject, NamespaceObject:
		return Object{Kind: k, Path: rest}, nil
	}
	return Object{}, fmt.Errorf("%w: unknown object kind %q", ErrInvalidObject, kind)
}

// MustParseObject is ParseObject for constants and tests: it panics on a
// malformed object.
func MustParseObject(in string) Object {
	o, err := ParseObject(in)
	if err != nil {
		panic(err)
	}
	return o
}
