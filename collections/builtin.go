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

// PrivateOf is the private collection created with each user. Usernames
// may hold characters that collection segments may not ('@' in a directory
// login, for one); each such byte is written as '_' and two upper-case hex
// digits, so "maria@corp" owns "/Shared/Private/maria_40corp". A '_' of
// the name that two upper-case hex digits follow is itself written as
// "_5F", so no two usernames share a collection: "col@x" owns
// "/Shared/Private/col_40x" and "col_40x" owns "/Shared/Private/col_5F40x".
// Every other name maps as it always did. The result may still be longer
// than a segment may be, which Parse reports.
func PrivateOf(username string) string {
	const hex = "0123456789ABCDEF"
	seg := make([]byte, 0, len(username))
	for i := 0; i < len(username); i++ {
		c := username[i]
		if segmentChar(c) && !(c == '_' && i+2 < len(username) && upperHex(username[i+1]) && upperHex(username[i+2])) {
			seg = append(seg, c)
			continue
		}
		seg = append(seg, '_', hex[c>>4], hex[c&0xF])
	}
	return Private + "/" + string(seg)
}

func upperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

// IsBuiltin reports whether p is a built-in collection, the per-user private
// collections included.
func IsBuiltin(p string) bool {
	switch p {
	case Root, System, Shared, Private, Legacy:
		return true
	}
	return Parent(p) == Private
}
