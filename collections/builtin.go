package collections

// The built-in collections, created at bootstrap, never deletable or renamable.
const (
	System  = "/System"
	Shared  = "/Shared"
	Private = "/Shared/Private"
	Legacy  = "/Shared/Legacy"
)

// Builtin lists the built-in collections, parents before children.
func Builtin() []string {
	return []string{Root, System, Shared, Private, Legacy}
}

// PrivateOf is the private collection created with each user.
func PrivateOf(username string) string {
	return Private + "/" + username
}

// IsBuiltin reports whether p is a built-in collection, the per-user private
// collections included.
func IsBuiltin(p string) bool {
	switch p {
	case Root, System, Shared, Private, Legacy:
		return true
	}
	return Parent(p) == Private
}
