package collections

import "fmt"

// AccessLabel is the resource label that places a resource in a collection.
const AccessLabel = "com.docker.ucp.access.label"

// FromLabel resolves an access label value to a collection path: a value
// starting with "/" is a path; any other value X is the legacy label for
// /Shared/Legacy/X. Whether the collection exists is the caller's question.
func FromLabel(value string) (string, error) {
	if value == "" {
		return "", fmt.Errorf("%w: empty access label", ErrInvalidPath)
	}
	if value[0] == '/' {
		return Parse(value)
	}
	return Parse(Legacy + "/" + value)
}

// ForResource returns the collection of a resource from its labels. On
// create, an unlabelled resource goes to the creator's default collection;
// an existing unlabelled resource is in the root.
func ForResource(labels map[string]string, creating bool, creatorDefault string) (string, error) {
	v, ok := labels[AccessLabel]
	if !ok {
		if creating {
			return creatorDefault, nil
		}
		return Root, nil
	}
	return FromLabel(v)
}
