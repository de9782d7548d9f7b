package manifest

import "fmt"

// Change is one thing a plan does, for people.
type Change struct {
	Action string `json:"action"` // create, update, delete
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Detail string `json:"detail,omitempty"`
}

func (c Change) String() string {
	sign := map[string]string{"create": "+", "update": "~", "delete": "-"}[c.Action]
	s := fmt.Sprintf("%s %s %s", sign, c.Kind, c.Name)
	if c.Detail != "" {
		s += " (" + c.Detail + ")"
	}
	return s
}

// The server's endpoints for manifests.
const (
	ExportPath = "/v1/access/export"
	ApplyPath  = "/v1/access/apply"
)

// Result is the answer to a POST of a manifest to ApplyPath.
type Result struct {
	Changes []Change `json:"changes"`
	// Applied is set when the changes were written, at Revision.
	Applied  bool   `json:"applied"`
	Revision uint64 `json:"revision"`
}
