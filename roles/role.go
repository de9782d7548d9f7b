package roles

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Permission is one operation of a role with the options it allows.
type Permission struct {
	Operation string   `json:"operation"`
	Options   []string `json:"options,omitempty"`
}

// Role is a named set of permissions.
type Role struct {
	ID          string       `json:"id"`
	DisplayName string       `json:"displayName"`
	Builtin     bool         `json:"builtin"`
	Permissions []Permission `json:"permissions"`
}

// Clone returns a deep copy of r.
func (r Role) Clone() Role {
	r.Permissions = slices.Clone(r.Permissions)
	for i := range r.Permissions {
		r.Permissions[i].Options = slices.Clone(r.Permissions[i].Options)
	}
	return r
}

// AppliesTo reports whether the role contains any operation granted on the
// given object kind. A grant whose role does not apply to its object is
// rejected.
func (r Role) AppliesTo(kind ObjectKind) bool {
	for _, p := range r.Permissions {
		if o, ok := Lookup(p.Operation); ok && o.Object == kind {
			return true
		}
	}
	return false
}

// ErrInvalidRole is wrapped by every validation error of this package.
var ErrInvalidRole = errors.New("invalid role")

// ValidateCustom checks a custom role definition and returns it normalized:
// permissions sorted by operation, options sorted. Every problem is reported
// at once.
func ValidateCustom(id string, perms []Permission) (Role, error) {
	var problems []string
	if err := ValidID(id); err != nil {
		problems = append(problems, err.Error())
	} else if _, ok := Builtin(id); ok {
		problems = append(problems, fmt.Sprintf("%q is a built-in role", id))
	}
	if len(perms) == 0 {
		problems = append(problems, "a role needs at least one permission")
	}
	seen := map[string]bool{}
	out := make([]Permission, 0, len(perms))
	for _, p := range perms {
		op, ok := Lookup(p.Operation)
		switch {
		case !ok:
			problems = append(problems, UnknownOperation(p.Operation))
			continue
		case op.Reserved:
			problems = append(problems, fmt.Sprintf("operation %q is reserved to owners and admins and cannot be put in a role", p.Operation))
			continue
		case seen[p.Operation]:
			problems = append(problems, fmt.Sprintf("operation %q is listed twice", p.Operation))
			continue
		}
		seen[p.Operation] = true
		opts := slices.Clone(p.Options)
		sort.Strings(opts)
		for i, o := range opts {
			if !op.HasOption(o) {
				problems = append(problems, fmt.Sprintf("operation %q has no option %q", p.Operation, o))
			} else if i > 0 && opts[i-1] == o {
				problems = append(problems, fmt.Sprintf("option %q of %q is listed twice", o, p.Operation))
			}
		}
		out = append(out, Permission{Operation: p.Operation, Options: opts})
	}
	if len(problems) > 0 {
		return Role{}, fmt.Errorf("%w: %s", ErrInvalidRole, strings.Join(problems, "; "))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Operation < out[j].Operation })
	return Role{ID: id, DisplayName: id, Permissions: out}, nil
}

// ValidID checks a role ID: 1–100 of [A-Za-z0-9._-], not starting with . or -.
func ValidID(id string) error {
	if id == "" || len(id) > 100 {
		return fmt.Errorf("role name must be 1-100 characters")
	}
	if id[0] == '.' || id[0] == '-' {
		return fmt.Errorf("role name %q must not start with . or -", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("role name %q has a character outside [A-Za-z0-9._-]", id)
		}
	}
	return nil
}
