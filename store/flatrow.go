package store

import (
	"bytes"
	"encoding"
)

// Most of a large snapshot is memberships, grants, users and collections:
// rows whose JSON is flat, every value a string or a boolean. Those are
// decoded here by hand, through encoding/json's reflection only when a
// row is not in the plain shape below, so that a restore spends a
// fraction of the time in decoding (docs/decisions.md, "Flat rows are
// decoded by hand"). Strings that repeat from row to row (org, team and
// user names, roles) are interned: the rows share them.

// flatField is one field of a flat JSON object: its key, and its value,
// a string's contents or true or false.
type flatField struct {
	key, val []byte
	boolean  bool
}

// scanFlat appends the fields of a flat JSON object to fields: compact,
// as Persist writes it, with keys and string values of printable ASCII
// without escapes, and boolean values. ok is false for anything else,
// which encoding/json decodes instead.
func scanFlat(b []byte, fields []flatField) (_ []flatField, ok bool) {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return nil, false
	}
	b = b[1 : len(b)-1]
	for len(b) > 0 {
		var f flatField
		if f.key, b, ok = plainString(b); !ok || len(b) == 0 || b[0] != ':' {
			return nil, false
		}
		b = b[1:]
		switch {
		case len(b) > 0 && b[0] == '"':
			if f.val, b, ok = plainString(b); !ok {
				return nil, false
			}
		case bytes.HasPrefix(b, []byte("true")):
			f.val, f.boolean, b = b[:4], true, b[4:]
		case bytes.HasPrefix(b, []byte("false")):
			f.val, f.boolean, b = b[:5], true, b[5:]
		default:
			return nil, false
		}
		fields = append(fields, f)
		if len(b) > 0 {
			if b[0] != ',' || len(b) == 1 {
				return nil, false
			}
			b = b[1:]
		}
	}
	return fields, true
}

// plainString reads the JSON string b starts with, when its contents are
// printable ASCII other than a backslash: the contents, and what follows.
func plainString(b []byte) (s, rest []byte, ok bool) {
	if len(b) == 0 || b[0] != '"' {
		return nil, nil, false
	}
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return b[1:i], b[i+1:], true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, nil, false
		}
	}
	return nil, nil, false
}

// interner hands out one string per distinct value.
type interner map[string]string

func (in interner) intern(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	in[s] = s
	return s
}

// flatSetter sets one field of a row of type T from a flat field; false
// when the value is not of the field's type.
type flatSetter[T any] func(row *T, f flatField, in interner) bool

// textField sets a string field; shared ones are interned.
func textField[T any](field func(*T) *string, shared bool) flatSetter[T] {
	return func(row *T, f flatField, in interner) bool {
		switch {
		case f.boolean:
			return false
		case shared:
			*field(row) = in.intern(f.val)
		default:
			*field(row) = string(f.val)
		}
		return true
	}
}

// flag sets a boolean field.
func flag[T any](field func(*T) *bool) flatSetter[T] {
	return func(row *T, f flatField, _ interner) bool {
		*field(row) = f.boolean && f.val[0] == 't'
		return f.boolean
	}
}

// unmarshaled sets a field that decodes itself from text, as encoding/json
// decodes it from a JSON string (subjects, objects, times).
func unmarshaled[T any](field func(*T) encoding.TextUnmarshaler) flatSetter[T] {
	return func(row *T, f flatField, _ interner) bool {
		return !f.boolean && field(row).UnmarshalText(f.val) == nil
	}
}

// flatDecoder decodes rows of type T whose JSON keys are the setters'.
// A key it does not know (a field of a later version, a key in another
// case) leaves the row to encoding/json.
func flatDecoder[T any](setters map[string]flatSetter[T]) func([]flatField, interner) (any, bool) {
	return func(fields []flatField, in interner) (any, bool) {
		row := new(T)
		for _, f := range fields {
			set, ok := setters[string(f.key)]
			if !ok || !set(row, f, in) {
				return nil, false
			}
		}
		return row, true
	}
}

// flatRows are the tables decoded by hand, by name.
var flatRows = map[string]func([]flatField, interner) (any, bool){
	tableOrgMembers: flatDecoder(map[string]flatSetter[OrgMember]{
		"org":     textField(func(m *OrgMember) *string { return &m.Org }, true),
		"user":    textField(func(m *OrgMember) *string { return &m.User }, true),
		"isAdmin": flag(func(m *OrgMember) *bool { return &m.IsAdmin }),
	}),
	tableTeamMembers: flatDecoder(map[string]flatSetter[TeamMember]{
		"org":     textField(func(m *TeamMember) *string { return &m.Org }, true),
		"team":    textField(func(m *TeamMember) *string { return &m.Team }, true),
		"user":    textField(func(m *TeamMember) *string { return &m.User }, true),
		"isAdmin": flag(func(m *TeamMember) *bool { return &m.IsAdmin }),
	}),
	tableGrants: flatDecoder(map[string]flatSetter[Grant]{
		"id":        textField(func(g *Grant) *string { return &g.ID }, false),
		"subject":   unmarshaled(func(g *Grant) encoding.TextUnmarshaler { return &g.Subject }),
		"role":      textField(func(g *Grant) *string { return &g.Role }, true),
		"object":    unmarshaled(func(g *Grant) encoding.TextUnmarshaler { return &g.Object }),
		"scope":     textField(func(g *Grant) *string { return &g.Scope }, true),
		"createdAt": unmarshaled(func(g *Grant) encoding.TextUnmarshaler { return &g.CreatedAt }),
		"createdBy": textField(func(g *Grant) *string { return &g.CreatedBy }, true),
	}),
	tableCollections: flatDecoder(map[string]flatSetter[Collection]{
		"path":      textField(func(c *Collection) *string { return &c.Path }, false),
		"parent":    textField(func(c *Collection) *string { return &c.Parent }, true),
		"builtin":   flag(func(c *Collection) *bool { return &c.Builtin }),
		"createdAt": unmarshaled(func(c *Collection) encoding.TextUnmarshaler { return &c.CreatedAt }),
	}),
	tableUsers: flatDecoder(map[string]flatSetter[User]{
		"name":              textField(func(u *User) *string { return &u.Name }, true),
		"fullName":          textField(func(u *User) *string { return &u.FullName }, false),
		"passwordHash":      textField(func(u *User) *string { return &u.PasswordHash }, false),
		"isAdmin":           flag(func(u *User) *bool { return &u.IsAdmin }),
		"active":            flag(func(u *User) *bool { return &u.Active }),
		"recovery":          flag(func(u *User) *bool { return &u.Recovery }),
		"source":            textField(func(u *User) *string { return &u.Source }, true),
		"ldapDN":            textField(func(u *User) *string { return &u.LDAPDN }, false),
		"goneFromDirectory": flag(func(u *User) *bool { return &u.GoneFromDirectory }),
		"defaultCollection": textField(func(u *User) *string { return &u.DefaultCollection }, false),
		"createdAt":         unmarshaled(func(u *User) encoding.TextUnmarshaler { return &u.CreatedAt }),
		"updatedAt":         unmarshaled(func(u *User) encoding.TextUnmarshaler { return &u.UpdatedAt }),
	}),
}
